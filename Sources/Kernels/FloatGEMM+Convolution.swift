import CKernels

extension FloatGEMM {
  /// One image's convolution: `channels` planes [channels][inH][inW] under `window`, weight rows
  /// `rows` (depth = channels · taps, order (c, kh, kw)), output y[row][oh·outW + ow].
  ///
  /// Width-stride-1 windows with wide output rows read their columns in place (no packing, masked
  /// loads at the borders); the others pack column panels from the input a chunk at a time. Both
  /// give the same FMA chains, so the same bits.
  public static func convolution(
    rows: FloatRowPanels, input x: UnsafePointer<Float>, channels: Int, window: ConvWindow,
    output y: UnsafeMutablePointer<Float>, epilogue: FloatEpilogue = FloatEpilogue(), isa: KernelISA = .selected,
    threads: Int? = nil
  ) {
    let plane = window.outputPlane
    guard rows.rows > 0, plane > 0 else { return }
    // A pointwise window is one long row of the plane.
    let geometry = window.isPointwise ? ConvWindow(inH: 1, inW: plane, kH: 1, kW: 1, outH: 1, outW: plane) : window
    let tilesPerRow = (geometry.outW + 31) / 32
    let direct = geometry.strideW == 1 && plane > gemvColumns && tilesPerRow * 32 * 4 <= geometry.outW * 5
    guard direct else {
      let columns: FloatColumns = window.isPointwise
        ? .matrix(x, depthStride: plane, columnStride: 1) : .convolution(x, channels: channels, window: window)
      run(rows: rows, columns: columns, count: plane, output: y, rowStride: plane, columnStride: 1, epilogue: epilogue,
        isa: isa, threads: threads)
      return
    }
    let kernel = ck_s_conv_row_for(isa.c)!
    let n = rows.rows, w = UnsafePointer(rows.pointer), rowPanels = rows.panels
    let width = Swift.min(threads ?? Parallel.cores, Parallel.cores)
    let chunk = 128, chunksPerRow = (geometry.outW + chunk - 1) / chunk
    let items = geometry.outH * chunksPerRow
    let groups = items >= 4 * width ? 1 : Swift.min(rowPanels, (4 * width + items - 1) / items)
    let perGroup = (rowPanels + groups - 1) / groups
    var g = geometry.c
    let e = epilogue.c(y, rowStride: plane, columnStride: 1)
    withUnsafePointer(to: &g) { g in
      withUnsafePointer(to: e) { e in
        Parallel.forEach(items * groups, costPerItem: chunk * n * rows.depth / groups, threads: width) { item in
          let group = item / items, i = item % items
          let oh = i / chunksPerRow, ow0 = i % chunksPerRow * chunk
          let p0 = group * perGroup, p1 = Swift.min(rowPanels, p0 + perGroup)
          if p0 < p1 {
            kernel(w, Int32(n), x, Int32(channels), g, Int32(oh), Int32(ow0), Int32(Swift.min(chunk, geometry.outW - ow0)),
              e, Int32(p0), Int32(p1))
          }
        }
      }
    }
  }
}
