import CKernels

/// Single-precision GEMM on our own kernels (AVX-512, AVX2+FMA, scalar twin), every sum one FMA
/// chain in k order, so each instruction set gives the scalar twin's bits:
///
///     y[r·rowStride + c·columnStride] = epilogue( Σ_k rows[r][k] · columns[k][c] )
///
/// Work is split over the cores by column chunks (each packed where it is used, a few panels
/// at a time, so a large convolution never builds its whole im2col matrix) or, when there are
/// too few columns, by row panels over columns packed once.
public enum FloatGEMM {
  /// Packed column panels per chunk: about 512 KB of columns, so a chunk stays in L2 while every
  /// row panel passes over it.
  /// Up to this many columns go through the GEMV.
  public static let gemvColumns = 4

  static func chunkPanels(depth: Int) -> Int { Swift.max(1, Swift.min(16, (512 << 10) / Swift.max(1, depth * 32 * 4))) }

  /// Columns one task packs and multiplies at a time.
  public static func columnsPerChunk(depth: Int) -> Int { chunkPanels(depth: depth) * 32 }

  public static func run(
    rows: FloatRowPanels, columns: FloatColumns, count m: Int, output y: UnsafeMutablePointer<Float>,
    rowStride: Int, columnStride: Int, epilogue: FloatEpilogue = FloatEpilogue(), isa: KernelISA = .selected,
    threads: Int? = nil
  ) {
    run(UnsafePointer(rows.pointer), lda: 0, rows: rows.rows, depth: rows.depth, columns: columns, count: m, output: y,
      rowStride: rowStride, columnStride: columnStride, epilogue: epilogue, isa: isa, threads: threads)
  }

  /// The same product with the rows read in place, element (r, k) at `rows[r·lda + k]` (lda ≥
  /// depth): a MatMul's activations, used once per call, are not packed first. Same bits as
  /// packing them.
  public static func run(
    rowsInPlace a: UnsafePointer<Float>, rows n: Int, depth k: Int, lda: Int, columns: FloatColumns, count m: Int,
    output y: UnsafeMutablePointer<Float>, rowStride: Int, columnStride: Int, epilogue: FloatEpilogue = FloatEpilogue(),
    isa: KernelISA = .selected, threads: Int? = nil
  ) {
    precondition(lda >= Swift.max(k, 1), "in-place rows need lda ≥ depth")
    if m <= gemvColumns {
      // The GEMV reads packed panels: a few outputs per row pay for packing.
      let rows = FloatRowPanels(rows: n, depth: k, a, rowStride: lda, depthStride: 1)
      run(rows: rows, columns: columns, count: m, output: y, rowStride: rowStride, columnStride: columnStride,
        epilogue: epilogue, isa: isa, threads: threads)
      return
    }
    run(a, lda: lda, rows: n, depth: k, columns: columns, count: m, output: y, rowStride: rowStride,
      columnStride: columnStride, epilogue: epilogue, isa: isa, threads: threads)
  }

  /// `lda` 0: `w` is packed row panels; otherwise rows in place.
  static func run(
    _ w: UnsafePointer<Float>, lda: Int, rows n: Int, depth k: Int, columns: FloatColumns, count m: Int,
    output y: UnsafeMutablePointer<Float>, rowStride: Int, columnStride: Int, epilogue: FloatEpilogue,
    isa: KernelISA, threads: Int?
  ) {
    guard n > 0, m > 0 else { return }
    let e = epilogue.c(y, rowStride: rowStride, columnStride: columnStride)
    withUnsafePointer(to: e) { e in
    let gemm = ck_s_gemm_for(isa.c)!
    let rowPanels = (n + 7) / 8
    let chunk = chunkPanels(depth: k) * 32
    let chunks = (m + chunk - 1) / chunk
    let width = Swift.min(threads ?? Parallel.cores, Parallel.cores)
    let costPerColumn = n * Swift.max(k, 1)

    func runPacked(_ x: UnsafePointer<Float>) {
      // Units (column chunk c, row panel p), chunk-major, each costing the chunk's columns, split
      // into parts of equal cost, a few per thread. A part passes its row panels over one chunk at
      // a time (the chunk stays in cache), and the parts balance however the columns divide.
      let units = chunks * rowPanels, total = m * rowPanels
      func columnsIn(_ c: Int) -> Int { Swift.min(chunk, m - c * chunk) }
      func unit(atCost t: Int) -> Int {
        let c = Swift.min(t / (chunk * rowPanels), chunks - 1)
        return c * rowPanels + Swift.min(rowPanels, (t - c * chunk * rowPanels) / columnsIn(c))
      }
      let parts = Swift.min(units, 4 * width)
      Parallel.forEach(parts, costPerItem: total / parts * 8 * Swift.max(k, 1), threads: width) { part in
        let u0 = unit(atCost: part * total / parts), u1 = part + 1 == parts ? units : unit(atCost: (part + 1) * total / parts)
        var u = u0
        while u < u1 {
          let c = u / rowPanels, p0 = u % rowPanels, p1 = Swift.min(rowPanels, p0 + (u1 - u))
          let m0 = c * chunk
          gemm(w, lda, Int32(n), Int32(k), x + m0 * k, Int32(m0), Int32(columnsIn(c)), e, Int32(p0), Int32(p1))
          u += p1 - p0
        }
      }
    }

    func pack(_ m0: Int, _ count: Int, into buffer: UnsafeMutablePointer<Float>) {
      switch columns {
      case .matrix(let x, let ds, let cs): ck_s_pack_columns(x + m0 * cs, Int32(k), Int32(count), ds, cs, buffer)
      case .convolution(let x, let channels, let window):
        var g = window.c
        ck_s_pack_conv_columns(x, Int32(channels), &g, Int32(m0), Int32(count), buffer)
      case .packed: break
      }
    }

    if m <= gemvColumns {
      // A few columns: read in place (or packed once, they are small) by the GEMV.
      let gemv = ck_s_gemv_for(isa.c)!
      var staging: AlignedBuffer?
      let source: (UnsafePointer<Float>, Int, Int)
      switch columns {
      case .matrix(let x, let ds, let cs): source = (x, ds, cs)
      case .packed(let panels): source = (UnsafePointer(panels.pointer), 32, 1)
      case .convolution:
        staging = AlignedBuffer(bytes: 32 * Swift.max(k, 1) * 4)
        let x = staging!.raw.assumingMemoryBound(to: Float.self)
        pack(0, m, into: x)
        source = (UnsafePointer(x), 32, 1)
      }
      Parallel.forEachRange(rowPanels, costPerItem: 8 * m * k, threads: width, chunksPerThread: 1) { r in
        gemv(w, Int32(n), Int32(k), source.0, source.1, source.2, 0, Int32(m), e, Int32(r.lowerBound), Int32(r.upperBound))
      }
      withExtendedLifetime(staging) {}
    } else if case .packed(let panels) = columns {
      precondition(panels.depth == k && panels.columns >= m, "packed columns do not match the rows' depth")
      let columnPanels = (m + 31) / 32
      if n * Swift.max(k, 1) * 4 <= 512 << 10 && columnPanels >= 2 * width {
        // Few rows (a MatMul's tokens against its packed weights): each part passes the row
        // panels over its own column panels, so each weight is read from memory by one core
        // only (a column panel split between two parts, by two); the rows stay in every core's
        // L2. Units are (column panel, row panel) pairs, column-major, cut into two parts of
        // equal cost per thread: 12 column panels on 2 threads are 3 each, not parts of 1 and 2
        // whose claiming leaves one core idle at the end.
        let x = UnsafePointer(panels.pointer)
        let units = columnPanels * rowPanels, parts = Swift.min(units, 2 * width)
        func columns(_ c: Int, _ count: Int) -> Int32 { Int32(Swift.min(m, (c + count) * 32) - c * 32) }
        Parallel.forEach(parts, costPerItem: costPerColumn * 32 * columnPanels / parts, threads: width) { part in
          var u = part * units / parts
          let end = (part + 1) * units / parts
          while u < end {
            let c = u / rowPanels, p0 = u % rowPanels
            if p0 == 0 && end - u >= rowPanels {
              // whole column panels in one call: the driver prefetches each one's successor
              let whole = (end - u) / rowPanels
              gemm(w, lda, Int32(n), Int32(k), x + c * 32 * k, Int32(c * 32), columns(c, whole), e, 0, Int32(rowPanels))
              u += whole * rowPanels
            } else {
              let p1 = Swift.min(rowPanels, p0 + (end - u))
              gemm(w, lda, Int32(n), Int32(k), x + c * 32 * k, Int32(c * 32), columns(c, 1), e, Int32(p0), Int32(p1))
              u += p1 - p0
            }
          }
        }
      } else {
        runPacked(panels.pointer)
      }
    } else if chunks >= 2 * width || rowPanels < 2 || width == 1 {
      // Stream: each task packs its own chunks and passes every row panel over them.
      Parallel.forEachRange(chunks, costPerItem: chunk * costPerColumn, threads: width, chunksPerThread: 2) { range in
        let buffer = AlignedBuffer(bytes: chunk * Swift.max(k, 1) * 4)
        let x = buffer.raw.assumingMemoryBound(to: Float.self)
        for c in range {
          let m0 = c * chunk, count = Swift.min(chunk, m - m0)
          pack(m0, count, into: x)
          gemm(w, lda, Int32(n), Int32(k), x, Int32(m0), Int32(count), e, 0, Int32(rowPanels))
        }
      }
    } else {
      let buffer = AlignedBuffer(bytes: ((m + 31) / 32) * 32 * Swift.max(k, 1) * 4)
      let x = buffer.raw.assumingMemoryBound(to: Float.self)
      Parallel.forEach(chunks, costPerItem: chunk * k, threads: width) { c in
        pack(c * chunk, Swift.min(chunk, m - c * chunk), into: x + c * chunk * k)
      }
      runPacked(x)
    }
    }
  }

  /// C = alpha · op(A) · op(B) + beta · C, all row-major (op(A): m × k, op(B): k × n), on one
  /// thread: the drop-in for `BLAS.sgemm` in the runtime and the gradients.
  @inline(__always)
  public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                           alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                           b: UnsafePointer<Float>, ldb: Int,
                           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    general(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
      beta: beta, c: c, ldc: ldc, threads: 1)
  }

  /// `sgemm` split over the machine's cores.
  public static func sgemmParallel(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                                   alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                                   b: UnsafePointer<Float>, ldb: Int,
                                   beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    general(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
      beta: beta, c: c, ldc: ldc, threads: nil)
  }

  public static func general(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
                             c: UnsafeMutablePointer<Float>, ldc: Int, isa: KernelISA = .selected, threads: Int?) {
    guard m > 0, n > 0 else { return }
    let epilogue = FloatEpilogue(alpha: alpha, beta: beta)
    // op(A) rows: (r, kk) at a[r·lda + kk] or, transposed, a[kk·lda + r]; op(B) likewise.
    let aRow = transA ? 1 : lda, aDepth = transA ? lda : 1
    let bDepth = transB ? 1 : ldb, bColumn = transB ? ldb : 1
    if n < 8 && m >= 32 {
      // A narrow C: compute its transpose, so the wide side runs along the vectors.
      let rows = FloatRowPanels(rows: n, depth: k, b, rowStride: bColumn, depthStride: bDepth)
      run(rows: rows, columns: .matrix(a, depthStride: aDepth, columnStride: aRow), count: m, output: c,
        rowStride: 1, columnStride: ldc, epilogue: epilogue, isa: isa, threads: threads)
    } else {
      let rows = FloatRowPanels(rows: m, depth: k, a, rowStride: aRow, depthStride: aDepth)
      run(rows: rows, columns: .matrix(b, depthStride: bDepth, columnStride: bColumn), count: n, output: c,
        rowStride: ldc, columnStride: 1, epilogue: epilogue, isa: isa, threads: threads)
    }
  }
}
