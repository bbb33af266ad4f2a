#include "ck_sgemm.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define CK_AI static inline __attribute__((always_inline))
#define CK_MIN(a, b) ((a) < (b) ? (a) : (b))

static long panels(long n, long width) { return (n + width - 1) / width; }

long ck_s_packed_rows_floats(int n, int k) { return panels(n, CK_S_ROWS) * CK_S_ROWS * (long)k; }

void ck_s_pack_rows(const float *w, int n, int k, long row_stride, long depth_stride, float *packed) {
  for (long p = 0; p < panels(n, CK_S_ROWS); p++) {
    float *dst = packed + p * k * CK_S_ROWS;
    const int rows = (int)CK_MIN((long)CK_S_ROWS, n - p * CK_S_ROWS);
    if (rows < CK_S_ROWS) memset(dst, 0, sizeof(float) * (size_t)k * CK_S_ROWS);
    if (depth_stride == 1) { /* rows are contiguous in k: read each once */
      for (int r = 0; r < rows; r++) {
        const float *s = w + (p * CK_S_ROWS + r) * row_stride;
        for (int kk = 0; kk < k; kk++) dst[(long)kk * CK_S_ROWS + r] = s[kk];
      }
    } else {
      for (int kk = 0; kk < k; kk++) {
        const float *s = w + kk * depth_stride + p * CK_S_ROWS * row_stride;
        for (int r = 0; r < rows; r++) dst[(long)kk * CK_S_ROWS + r] = s[r * row_stride];
      }
    }
  }
}

long ck_s_packed_columns_floats(int m, int k) { return panels(m, CK_S_COLS) * CK_S_COLS * (long)k; }

void ck_s_pack_columns(const float *x, int k, int m, long depth_stride, long col_stride, float *packed) {
  for (long p = 0; p < panels(m, CK_S_COLS); p++) {
    float *dst = packed + p * k * CK_S_COLS;
    const int cols = (int)CK_MIN((long)CK_S_COLS, m - p * CK_S_COLS);
    const float *base = x + p * CK_S_COLS * col_stride;
    if (col_stride == 1) {
      for (int kk = 0; kk < k; kk++) {
        float *d = dst + (long)kk * CK_S_COLS;
        memcpy(d, base + kk * depth_stride, sizeof(float) * (size_t)cols);
        for (int c = cols; c < CK_S_COLS; c++) d[c] = 0.0f;
      }
    } else {
      if (cols < CK_S_COLS) memset(dst, 0, sizeof(float) * (size_t)k * CK_S_COLS);
      for (int c = 0; c < cols; c++) {
        const float *s = base + c * col_stride;
        for (int kk = 0; kk < k; kk++) dst[(long)kk * CK_S_COLS + c] = s[kk * depth_stride];
      }
    }
  }
}

/* Writes d[0..len) for output columns (oh, ow0 … ow0+len−1) of one im2col row. */
CK_AI void conv_segment(float *d, const float *row, int ow0, int len, int off, int sw, int lo, int hi) {
  const int a = ow0 > lo ? ow0 : lo, b = ow0 + len < hi ? ow0 + len : hi;
  if (row == NULL || a >= b) {
    for (int t = 0; t < len; t++) d[t] = 0.0f;
    return;
  }
  for (int t = 0; t < a - ow0; t++) d[t] = 0.0f;
  if (sw == 1)
    memcpy(d + (a - ow0), row + a + off, sizeof(float) * (size_t)(b - a));
  else
    for (int ow = a; ow < b; ow++) d[ow - ow0] = row[(long)ow * sw + off];
  for (int t = b - ow0; t < len; t++) d[t] = 0.0f;
}

void ck_s_pack_conv_columns(const float *x, int channels, const ck_conv_geometry *g, int m0, int count,
                            float *packed) {
  const long depth = (long)channels * g->k_h * g->k_w;
  for (long p = 0; p < panels(count, CK_S_COLS); p++) {
    float *dst = packed + p * depth * CK_S_COLS;
    const int first = m0 + (int)p * CK_S_COLS, cols = (int)CK_MIN((long)CK_S_COLS, count - p * CK_S_COLS);
    long kk = 0;
    for (int c = 0; c < channels; c++)
      for (int kh = 0; kh < g->k_h; kh++)
        for (int kw = 0; kw < g->k_w; kw++, kk++) {
          float *d = dst + kk * CK_S_COLS;
          const int off = kw * g->dil_w - g->pad_left, sw = g->stride_w;
          /* valid ow: 0 ≤ ow·sw + off < in_w */
          int lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
          int hi = g->in_w - off > 0 ? (g->in_w - off - 1) / sw + 1 : 0;
          if (hi > g->out_w) hi = g->out_w;
          if (lo > hi) lo = hi;
          for (int j = 0; j < cols;) {
            const int col = first + j, oh = col / g->out_w, ow = col % g->out_w;
            const int len = CK_MIN(cols - j, g->out_w - ow);
            const int ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
            const float *row = ih < 0 || ih >= g->in_h ? NULL : x + ((long)c * g->in_h + ih) * g->in_w;
            conv_segment(d + j, row, ow, len, off, sw, lo, hi);
            j += len;
          }
          for (int j = cols; j < CK_S_COLS; j++) d[j] = 0.0f;
        }
  }
}

/* acc[r·32 + c] = fma chain over k of panel[k][r] · columns[k][c], for the first `rows` rows. */
typedef void (*tile_fn)(const float *panel, const float *columns, int k, int rows, float *acc);

static void tile_ref(const float *panel, const float *columns, int k, int rows, float *acc) {
  for (int i = 0; i < rows * CK_S_COLS; i++) acc[i] = 0.0f;
  for (int kk = 0; kk < k; kk++)
    for (int r = 0; r < rows; r++)
      for (int c = 0; c < CK_S_COLS; c++)
        acc[r * CK_S_COLS + c] = fmaf(panel[kk * CK_S_ROWS + r], columns[kk * CK_S_COLS + c], acc[r * CK_S_COLS + c]);
}

/* One statement per operation: no contraction can make a vectorized copy differ from the scalar
 * one. The common case (alpha 1, beta 0, no column bias, contiguous rows) has its own loop the
 * compiler vectorizes. */
CK_AI void store(const float *acc, int rows, int cols, int row0, int col0, const ck_s_epilogue *e) {
  const float lo = e->clip_lo, hi = e->clip_hi;
  const int plain = e->alpha == 1.0f && e->beta == 0.0f && !e->column_bias && e->col_stride == 1;
  for (int r = 0; r < rows; r++) {
    const int row = row0 + r;
    const float bias = e->bias ? e->bias[row] : 0.0f;
    float *y = e->y + (long)row * e->row_stride + (long)col0 * e->col_stride;
    const float *a = acc + r * CK_S_COLS;
    if (plain) {
      for (int c = 0; c < cols; c++) {
        float t = a[c] + bias;
        t = t < lo ? lo : t;
        y[c] = t > hi ? hi : t;
      }
      continue;
    }
    for (int c = 0; c < cols; c++) {
      float t = a[c];
      if (e->alpha != 1.0f) t = t * e->alpha;
      if (e->beta != 0.0f) {
        const float old = e->beta * y[c * e->col_stride];
        t = t + old;
      }
      t = t + bias;
      if (e->column_bias) t = t + e->column_bias[col0 + c];
      t = t < lo ? lo : t;
      y[c * e->col_stride] = t > hi ? hi : t;
    }
  }
}

CK_AI void driver(const float *w, int n, int k, const float *x, int m0, int count, const ck_s_epilogue *e,
                  int panel0, int panel1, tile_fn tile) {
  float acc[CK_S_ROWS * CK_S_COLS] __attribute__((aligned(64)));
  for (int p = panel0; p < panel1; p++) {
    const int rows = CK_MIN(CK_S_ROWS, n - p * CK_S_ROWS);
    const float *panel = w + (long)p * k * CK_S_ROWS;
    for (int c0 = 0; c0 < count; c0 += CK_S_COLS) {
      tile(panel, x + (long)(c0 / CK_S_COLS) * k * CK_S_COLS, k, rows, acc);
      store(acc, rows, CK_MIN(CK_S_COLS, count - c0), p * CK_S_ROWS, m0 + c0, e);
    }
  }
}

void ck_s_gemm_ref(const float *w, int n, int k, const float *x, int m0, int count, const ck_s_epilogue *e,
                   int panel0, int panel1) {
  driver(w, n, k, x, m0, count, e, panel0, panel1, tile_ref);
}

/* ---- GEMV: sums[q·8 + r] for `count` (≤ 4) panels and one column ---- */

typedef void (*gemv_tile_fn)(const float *panels, long panel_stride, int count, int k, const float *x, long ds,
                             float *sums);

static void gemv_tile_ref(const float *panels, long panel_stride, int count, int k, const float *x, long ds,
                          float *sums) {
  for (int q = 0; q < count; q++)
    for (int r = 0; r < CK_S_ROWS; r++) {
      float acc = 0.0f;
      for (int kk = 0; kk < k; kk++) acc = fmaf(panels[q * panel_stride + (long)kk * CK_S_ROWS + r], x[kk * ds], acc);
      sums[q * CK_S_ROWS + r] = acc;
    }
}

CK_AI void gemv_driver(const float *w, int n, int k, const float *x, long ds, long cs, int m0, int count,
                       const ck_s_epilogue *e, int panel0, int panel1, gemv_tile_fn tile) {
  const long panel_stride = (long)k * CK_S_ROWS;
  float sums[4 * CK_S_ROWS];
  for (int c = 0; c < count; c++)
    for (int p = panel0; p < panel1; p += 4) {
      const int q = CK_MIN(4, panel1 - p);
      tile(w + p * panel_stride, panel_stride, q, k, x + (long)(m0 + c) * cs, ds, sums);
      const int rows = CK_MIN(q * CK_S_ROWS, n - p * CK_S_ROWS);
      /* the tile's sums are one row per "row", one column: store as a tile of 1 column */
      for (int r = 0; r < rows; r++) {
        float acc[CK_S_COLS];
        acc[0] = sums[r];
        store(acc, 1, 1, p * CK_S_ROWS + r, m0 + c, e);
      }
    }
}

void ck_s_gemv_ref(const float *w, int n, int k, const float *x, long depth_stride, long col_stride, int m0,
                   int count, const ck_s_epilogue *e, int panel0, int panel1) {
  gemv_driver(w, n, k, x, depth_stride, col_stride, m0, count, e, panel0, panel1, gemv_tile_ref);
}

#if defined(__x86_64__)
#define T512 "avx2,fma,f16c,avx512f,avx512bw,avx512vl"

__attribute__((target(T512))) CK_AI void tile512(const float *panel, const float *columns, int k, float *acc,
                                                 const int rows) {
  __m512 a[CK_S_ROWS][2];
  for (int r = 0; r < rows; r++) a[r][0] = a[r][1] = _mm512_setzero_ps();
  for (int kk = 0; kk < k; kk++) {
    const __m512 x0 = _mm512_loadu_ps(columns + kk * CK_S_COLS), x1 = _mm512_loadu_ps(columns + kk * CK_S_COLS + 16);
    for (int r = 0; r < rows; r++) {
      const __m512 wv = _mm512_set1_ps(panel[kk * CK_S_ROWS + r]);
      a[r][0] = _mm512_fmadd_ps(wv, x0, a[r][0]);
      a[r][1] = _mm512_fmadd_ps(wv, x1, a[r][1]);
    }
  }
  for (int r = 0; r < rows; r++) {
    _mm512_storeu_ps(acc + r * CK_S_COLS, a[r][0]);
    _mm512_storeu_ps(acc + r * CK_S_COLS + 16, a[r][1]);
  }
}

__attribute__((target(T512))) static void tile_avx512(const float *panel, const float *columns, int k, int rows,
                                                      float *acc) {
  switch (rows) {
  case 8: tile512(panel, columns, k, acc, 8); break;
  case 7: tile512(panel, columns, k, acc, 7); break;
  case 6: tile512(panel, columns, k, acc, 6); break;
  case 5: tile512(panel, columns, k, acc, 5); break;
  case 4: tile512(panel, columns, k, acc, 4); break;
  case 3: tile512(panel, columns, k, acc, 3); break;
  case 2: tile512(panel, columns, k, acc, 2); break;
  default: tile512(panel, columns, k, acc, 1); break;
  }
}

/* 8×32 in passes of 4 rows × 16 columns: 8 accumulators, 2 column vectors, 1 broadcast. */
__attribute__((target("avx2,fma,f16c"))) CK_AI void tile256(const float *panel, const float *columns, int k,
                                                            float *acc, int r0, const int rows, int c0) {
  __m256 a[4][2];
  for (int r = 0; r < rows; r++) a[r][0] = a[r][1] = _mm256_setzero_ps();
  for (int kk = 0; kk < k; kk++) {
    const float *xs = columns + kk * CK_S_COLS + c0;
    const __m256 x0 = _mm256_loadu_ps(xs), x1 = _mm256_loadu_ps(xs + 8);
    for (int r = 0; r < rows; r++) {
      const __m256 wv = _mm256_broadcast_ss(panel + kk * CK_S_ROWS + r0 + r);
      a[r][0] = _mm256_fmadd_ps(wv, x0, a[r][0]);
      a[r][1] = _mm256_fmadd_ps(wv, x1, a[r][1]);
    }
  }
  for (int r = 0; r < rows; r++) {
    _mm256_storeu_ps(acc + (r0 + r) * CK_S_COLS + c0, a[r][0]);
    _mm256_storeu_ps(acc + (r0 + r) * CK_S_COLS + c0 + 8, a[r][1]);
  }
}

__attribute__((target("avx2,fma,f16c"))) static void tile_avx2(const float *panel, const float *columns, int k,
                                                               int rows, float *acc) {
  for (int r0 = 0; r0 < rows; r0 += 4)
    for (int c0 = 0; c0 < CK_S_COLS; c0 += 16) switch (CK_MIN(4, rows - r0)) {
      case 4: tile256(panel, columns, k, acc, r0, 4, c0); break;
      case 3: tile256(panel, columns, k, acc, r0, 3, c0); break;
      case 2: tile256(panel, columns, k, acc, r0, 2, c0); break;
      default: tile256(panel, columns, k, acc, r0, 1, c0); break;
      }
}

__attribute__((target(T512))) static void gemm_avx512(const float *w, int n, int k, const float *x, int m0, int count,
                                                      const ck_s_epilogue *e, int panel0, int panel1) {
  driver(w, n, k, x, m0, count, e, panel0, panel1, tile_avx512);
}

__attribute__((target("avx2,fma,f16c"))) static void gemm_avx2(const float *w, int n, int k, const float *x, int m0,
                                                               int count, const ck_s_epilogue *e, int panel0,
                                                               int panel1) {
  driver(w, n, k, x, m0, count, e, panel0, panel1, tile_avx2);
}

/* Four panels at a time, one ymm chain each (memory-bound: the weights stream once). */
__attribute__((target("avx2,fma,f16c"))) CK_AI void gemv256(const float *panels, long panel_stride, const int count,
                                                            int k, const float *x, long ds, float *sums) {
  __m256 a[4];
  for (int q = 0; q < count; q++) a[q] = _mm256_setzero_ps();
  for (int kk = 0; kk < k; kk++) {
    const __m256 xv = _mm256_broadcast_ss(x + kk * ds);
    for (int q = 0; q < count; q++)
      a[q] = _mm256_fmadd_ps(_mm256_loadu_ps(panels + q * panel_stride + (long)kk * CK_S_ROWS), xv, a[q]);
  }
  for (int q = 0; q < count; q++) _mm256_storeu_ps(sums + q * CK_S_ROWS, a[q]);
}

__attribute__((target("avx2,fma,f16c"))) static void gemv_tile_avx2(const float *panels, long panel_stride, int count,
                                                                    int k, const float *x, long ds, float *sums) {
  switch (count) {
  case 4: gemv256(panels, panel_stride, 4, k, x, ds, sums); break;
  case 3: gemv256(panels, panel_stride, 3, k, x, ds, sums); break;
  case 2: gemv256(panels, panel_stride, 2, k, x, ds, sums); break;
  default: gemv256(panels, panel_stride, 1, k, x, ds, sums); break;
  }
}

__attribute__((target("avx2,fma,f16c"))) static void gemv_avx2(const float *w, int n, int k, const float *x, long ds,
                                                               long cs, int m0, int count, const ck_s_epilogue *e,
                                                               int panel0, int panel1) {
  gemv_driver(w, n, k, x, ds, cs, m0, count, e, panel0, panel1, gemv_tile_avx2);
}

ck_s_gemv_fn ck_s_gemv_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return gemv_avx2;
  return ck_s_gemv_ref;
}

ck_s_gemm_fn ck_s_gemm_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return gemm_avx512;
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return gemm_avx2;
  return ck_s_gemm_ref;
}
#else
ck_s_gemm_fn ck_s_gemm_for(ck_isa isa) {
  (void)isa;
  return ck_s_gemm_ref;
}
ck_s_gemv_fn ck_s_gemv_for(ck_isa isa) {
  (void)isa;
  return ck_s_gemv_ref;
}
#endif
