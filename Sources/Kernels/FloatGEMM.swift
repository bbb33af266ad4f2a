import CKernels

/// The row side of the FP32 GEMM (a layer's weights, a row of A per output row), packed once as
/// [ceil(rows/8)][depth][8] for `FloatGEMM`.
public final class FloatRowPanels: @unchecked Sendable {
  public let rows: Int, depth: Int
  let packed: AlignedBuffer

  /// Element (r, k) is read at `source[r·rowStride + k·depthStride]`.
  public init(rows: Int, depth: Int, _ source: UnsafePointer<Float>, rowStride: Int, depthStride: Int) {
    self.rows = rows
    self.depth = depth
    packed = AlignedBuffer(bytes: ck_s_packed_rows_floats(Int32(rows), Int32(depth)) * 4)
    // Panels are independent: a large side (a MatMul's activations, packed every call) is
    // packed on every core.
    let target = pointer
    Parallel.forEachRange((rows + 7) / 8, costPerItem: 8 * depth) { panels in
      let r0 = panels.lowerBound * 8, r1 = Swift.min(rows, panels.upperBound * 8)
      ck_s_pack_rows(source + r0 * rowStride, Int32(r1 - r0), Int32(depth), rowStride, depthStride, target + r0 * depth)
    }
  }

  /// Row-major weights [rows][depth].
  public convenience init(rows: Int, depth: Int, values: UnsafeBufferPointer<Float>) throws {
    guard rows > 0, depth > 0, values.count == rows * depth, let base = values.baseAddress else {
      throw KernelError("float weights: \(values.count) values for \(rows) rows × \(depth) depth")
    }
    self.init(rows: rows, depth: depth, base, rowStride: depth, depthStride: 1)
  }

  var pointer: UnsafeMutablePointer<Float> { packed.raw.assumingMemoryBound(to: Float.self) }
  var panels: Int { (rows + 7) / 8 }
}

/// The column side packed as [ceil(columns/32)][depth][32] (a constant B packed once).
public final class FloatColumnPanels: @unchecked Sendable {
  public let columns: Int, depth: Int
  let packed: AlignedBuffer

  /// Element (k, c) is read at `source[k·depthStride + c·columnStride]`.
  public init(columns: Int, depth: Int, _ source: UnsafePointer<Float>, depthStride: Int, columnStride: Int) {
    self.columns = columns
    self.depth = depth
    packed = AlignedBuffer(bytes: ck_s_packed_columns_floats(Int32(columns), Int32(depth)) * 4)
    ck_s_pack_columns(source, Int32(depth), Int32(columns), depthStride, columnStride, pointer)
  }

  var pointer: UnsafeMutablePointer<Float> { packed.raw.assumingMemoryBound(to: Float.self) }
}

/// Where the column side of one FP32 GEMM comes from.
public enum FloatColumns {
  /// Element (k, c) at `pointer[k·depthStride + c·columnStride]`.
  case matrix(UnsafePointer<Float>, depthStride: Int, columnStride: Int)
  /// The im2col matrix of `channels` planes [channels][inH][inW] under `window`, packed a few
  /// column panels at a time (never materialized whole).
  case convolution(UnsafePointer<Float>, channels: Int, window: ConvWindow)
  case packed(FloatColumnPanels)
}

/// What the FP32 GEMM does to each sum before storing it:
///
///     y = clip(alpha·sum + beta·y + rowBias[r] + columnBias[c])
public struct FloatEpilogue {
  public var rowBias: UnsafePointer<Float>?
  public var columnBias: UnsafePointer<Float>?
  public var alpha: Float, beta: Float
  public var clip: ClosedRange<Float>?

  public init(rowBias: UnsafePointer<Float>? = nil, columnBias: UnsafePointer<Float>? = nil, alpha: Float = 1,
              beta: Float = 0, clip: ClosedRange<Float>? = nil) {
    self.rowBias = rowBias
    self.columnBias = columnBias
    self.alpha = alpha
    self.beta = beta
    self.clip = clip
  }

  func c(_ y: UnsafeMutablePointer<Float>, rowStride: Int, columnStride: Int) -> ck_s_epilogue {
    ck_s_epilogue(bias: rowBias, column_bias: columnBias, alpha: alpha, beta: beta,
      clip_lo: clip?.lowerBound ?? -.infinity, clip_hi: clip?.upperBound ?? .infinity, y: y,
      row_stride: rowStride, col_stride: columnStride)
  }
}
