#include "ck_sgemm.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
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

/* d[t] = src[2t] for t < n: every second float, 16 at a time from 32 loaded (the last load masked
 * to the floats the copy reads, so nothing past src[2n − 2] is touched). */
#if defined(__x86_64__)
__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl"))) static void even_floats512(float *d,
                                                                                             const float *src, int n) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int t = 0; t < n; t += 16) {
    const int need = 2 * (n - t) - 1; /* floats from src + 2t the copy reads */
    const __mmask16 m0 = need >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << need) - 1);
    const __mmask16 m1 = need >= 32 ? (__mmask16)0xFFFF : need <= 16 ? 0 : (__mmask16)((1u << (need - 16)) - 1);
    const __m512 a = _mm512_maskz_loadu_ps(m0, src + 2 * t), b = _mm512_maskz_loadu_ps(m1, src + 2 * t + 16);
    const __mmask16 out = n - t >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - t)) - 1);
    _mm512_mask_storeu_ps(d + t, out, _mm512_permutex2var_ps(a, even, b));
  }
}
#endif

/* The packing is a copy, so which copy runs changes only its speed: the AVX-512 one for width
 * stride 2 when the selected instruction set has it (the first convolution of most CNNs). */
static int strided_copy_512(void) {
  static int chosen = -1;
  if (chosen < 0) chosen = ck_selected_isa() >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI);
  return chosen;
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
#if defined(__x86_64__)
  else if (sw == 2 && strided_copy_512())
    even_floats512(d + (a - ow0), row + (long)a * 2 + off, b - a);
#endif
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

/* Element (r, kk) of a row panel: packed [k][8] when lda is 0, else read in place at
 * panel[r·lda + kk] (a MatMul's activation rows, not copied first). */
CK_AI float row_value(const float *panel, long lda, int kk, int r) {
  return lda ? panel[r * lda + kk] : panel[kk * CK_S_ROWS + r];
}

/* Where row panel p starts. */
CK_AI const float *row_panel(const float *w, long lda, int k, int p) {
  return lda ? w + (long)p * CK_S_ROWS * lda : w + (long)p * k * CK_S_ROWS;
}

/* acc[r·32 + c] = fma chain over k of row (r, kk) · columns[k][c], for the first `rows` rows.
 * `ahead` (or NULL): `lines` consecutive cache lines (of the next column panel) to prefetch,
 * spread evenly over the k steps (a hint only; the sums do not depend on it). */
typedef void (*tile_fn)(const float *panel, long lda, const float *columns, int k, int rows, const float *ahead,
                        int lines, float *acc);

static void tile_ref(const float *panel, long lda, const float *columns, int k, int rows, const float *ahead,
                     int lines, float *acc) {
  (void)ahead;
  (void)lines;
  for (int i = 0; i < rows * CK_S_COLS; i++) acc[i] = 0.0f;
  for (int kk = 0; kk < k; kk++)
    for (int r = 0; r < rows; r++)
      for (int c = 0; c < CK_S_COLS; c++)
        acc[r * CK_S_COLS + c] = fmaf(row_value(panel, lda, kk, r), columns[kk * CK_S_COLS + c], acc[r * CK_S_COLS + c]);
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

CK_AI void driver(const float *w, long lda, int n, int k, const float *x, int m0, int count, const ck_s_epilogue *e,
                  int panel0, int panel1, tile_fn tile) {
  float acc[CK_S_ROWS * CK_S_COLS] __attribute__((aligned(64)));
  if ((long)(panel1 - panel0) * k * CK_S_ROWS * 4 <= (256 << 10)) {
    /* Few rows (a MatMul's tokens): each column panel once from memory, all row panels over it
     * while it is in L1/L2, so streaming the columns overlaps the arithmetic. */
    for (int c0 = 0; c0 < count; c0 += CK_S_COLS)
      for (int p = panel0; p < panel1; p++) {
        const int rows = CK_MIN(CK_S_ROWS, n - p * CK_S_ROWS);
        /* every row panel prefetches its share of the next column panel's 2k lines, so the
         * stream from memory is spread over all the arithmetic on this one */
        const int passes = panel1 - panel0, share = (2 * k + passes - 1) / passes, first = (p - panel0) * share;
        const int lines = CK_MIN(share, 2 * k - first);
        const float *ahead = c0 + CK_S_COLS < count && lines > 0
                                 ? x + (long)(c0 / CK_S_COLS + 1) * k * CK_S_COLS + 16L * first
                                 : NULL;
        tile(row_panel(w, lda, k, p), lda, x + (long)(c0 / CK_S_COLS) * k * CK_S_COLS, k, rows, ahead, lines, acc);
        store(acc, rows, CK_MIN(CK_S_COLS, count - c0), p * CK_S_ROWS, m0 + c0, e);
      }
    return;
  }
  for (int p = panel0; p < panel1; p++) {
    const int rows = CK_MIN(CK_S_ROWS, n - p * CK_S_ROWS);
    const float *panel = row_panel(w, lda, k, p);
    for (int c0 = 0; c0 < count; c0 += CK_S_COLS) {
      tile(panel, lda, x + (long)(c0 / CK_S_COLS) * k * CK_S_COLS, k, rows, NULL, 0, acc);
      store(acc, rows, CK_MIN(CK_S_COLS, count - c0), p * CK_S_ROWS, m0 + c0, e);
    }
  }
}

void ck_s_gemm_ref(const float *w, long lda, int n, int k, const float *x, int m0, int count, const ck_s_epilogue *e,
                   int panel0, int panel1) {
  driver(w, lda, n, k, x, m0, count, e, panel0, panel1, tile_ref);
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

/* ---- Direct stride-1 convolution rows ---- */

/* Where depth kk of a 32-column tile reads: 32 consecutive floats from `at`, lane j only when
 * bit j of `valid` is set (0 for the rows above and below the input: they read nothing). */
typedef struct tap {
  const float *at;
  uint32_t valid;
} tap;

/* Bits j of the 32 columns whose input column start + j lies in [0, in_w). */
CK_AI uint32_t valid_columns(int start, int in_w) {
  const int lo = start < 0 ? -start : 0, hi = in_w - start < CK_S_COLS ? in_w - start : CK_S_COLS;
  if (hi <= lo) return 0;
  const uint64_t upto = hi >= 32 ? 0xFFFFFFFFull : ((1ull << hi) - 1);
  return (uint32_t)(upto & ~((1ull << lo) - 1));
}

static const float zeros[CK_S_COLS] __attribute__((aligned(64)));

static void tap_table(const float *x, int first, int channels, const ck_conv_geometry *g, int oh, int ow0, tap *taps) {
  enum { MAX_KW = 16 };
  const long in_plane = (long)g->in_h * g->in_w;
  int start[MAX_KW];
  uint32_t valid[MAX_KW];
  const int kws = g->k_w < MAX_KW ? g->k_w : MAX_KW;
  for (int kw = 0; kw < kws; kw++) {
    start[kw] = ow0 + kw * g->dil_w - g->pad_left;
    valid[kw] = valid_columns(start[kw], g->in_w);
  }
  long kk = 0;
  for (int c = first; c < first + channels; c++)
    for (int kh = 0; kh < g->k_h; kh++) {
      const int ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
      const float *row = ih < 0 || ih >= g->in_h ? NULL : x + c * in_plane + (long)ih * g->in_w;
      for (int kw = 0; kw < g->k_w; kw++, kk++) {
        const int st = kw < MAX_KW ? start[kw] : ow0 + kw * g->dil_w - g->pad_left;
        const uint32_t v = row ? (kw < MAX_KW ? valid[kw] : valid_columns(st, g->in_w)) : 0;
        /* no valid lane: read the zero block (same FMAs as packed zeros, nothing out of bounds) */
        taps[kk].at = v ? (const float *)((const char *)row + 4L * st) : zeros;
        taps[kk].valid = v ? v : 0xFFFFFFFFu;
      }
    }
}

/* acc[r·32 + j] = fma chain over kk of panel[kk][r] · (lane j of tap kk), first `rows` rows,
 * starting from 0 or, with `resume`, from the partial sums already in acc (the chain goes on). */
typedef void (*conv_tile_fn)(const float *panel, const tap *taps, int k, int rows, int ahead, int resume, float *acc);

static void conv_tile_ref(const float *panel, const tap *taps, int k, int rows, int ahead, int resume, float *acc) {
  (void)ahead;
  if (!resume)
    for (int i = 0; i < rows * CK_S_COLS; i++) acc[i] = 0.0f;
  for (int kk = 0; kk < k; kk++)
    for (int r = 0; r < rows; r++)
      for (int j = 0; j < CK_S_COLS; j++) {
        const float v = taps[kk].valid >> j & 1u ? taps[kk].at[j] : 0.0f;
        acc[r * CK_S_COLS + j] = fmaf(panel[kk * CK_S_ROWS + r], v, acc[r * CK_S_COLS + j]);
      }
}

/* Channels go in blocks whose input rows under one tile (about 16 KB) stay in L1 while every row
 * panel passes over them, in equal blocks (240 channels are 2 of 120, not 5 of 47 and one of 5:
 * each block stores and reloads the partial sums); the partial sums wait in `partial` between
 * blocks, so every chain stays whole. */
CK_AI void conv_row_driver(const float *w, int n, const float *x, int channels, const ck_conv_geometry *g, int oh,
                           int ow0, int count, const ck_s_epilogue *e, int panel0, int panel1, conv_tile_fn tile) {
  const int k = channels * g->k_h * g->k_w, tiles = (count + CK_S_COLS - 1) / CK_S_COLS;
  const long tile_bytes = 4L * g->k_h * (CK_S_COLS + (g->k_w - 1) * g->dil_w);
  int most = (int)(16384 / (tile_bytes > 0 ? tile_bytes : 1));
  most = most < 4 ? 4 : most;
  const int blocks = channels > most ? (channels + most - 1) / most : 1;
  int block = (channels + blocks - 1) / blocks;
  block = block < 1 ? 1 : block;
  tap *taps = malloc(sizeof(tap) * (size_t)(block * g->k_h * g->k_w > 0 ? block * g->k_h * g->k_w : 1));
  float *partial = aligned_alloc(64, sizeof(float) * CK_S_ROWS * CK_S_COLS * (size_t)((panel1 - panel0) * tiles));
  if (!taps || !partial) {
    free(taps);
    free(partial);
    return;
  }
  for (int c = 0; c < (channels > 0 ? channels : 1); c += block) {
    const int nc = channels - c < block ? channels - c : block, kb = nc * g->k_h * g->k_w;
    const int last = c + block >= channels;
    for (int t = 0; t < tiles; t++) {
      if (kb > 0) tap_table(x, c, nc, g, oh, ow0 + t * CK_S_COLS, taps);
      for (int p = panel0; p < panel1; p++) {
        const int rows = CK_MIN(CK_S_ROWS, n - p * CK_S_ROWS);
        float *acc = partial + ((long)(p - panel0) * tiles + t) * CK_S_ROWS * CK_S_COLS;
        const float *panel = w + (long)p * k * CK_S_ROWS + (long)c * g->k_h * g->k_w * CK_S_ROWS;
        tile(panel, taps, kb, rows, p == panel0 && t + 1 < tiles, c > 0, acc);
        if (last) store(acc, rows, CK_MIN(CK_S_COLS, count - t * CK_S_COLS), p * CK_S_ROWS, oh * g->out_w + ow0 + t * CK_S_COLS, e);
      }
    }
  }
  free(taps);
  free(partial);
}

void ck_s_conv_row_ref(const float *w, int n, const float *x, int channels, const ck_conv_geometry *g, int oh, int ow0,
                       int count, const ck_s_epilogue *e, int panel0, int panel1) {
  conv_row_driver(w, n, x, channels, g, oh, ow0, count, e, panel0, panel1, conv_tile_ref);
}

#if defined(__x86_64__)
#define T512 "avx2,fma,f16c,avx512f,avx512bw,avx512vl"

__attribute__((target(T512))) CK_AI void fma_rows512(__m512 a[CK_S_ROWS][2], const float *w, __m512 x0, __m512 x1,
                                                     const int rows) {
  for (int r = 0; r < rows; r++) {
    const __m512 wv = _mm512_set1_ps(w[r]);
    a[r][0] = _mm512_fmadd_ps(wv, x0, a[r][0]);
    a[r][1] = _mm512_fmadd_ps(wv, x1, a[r][1]);
  }
}

/* One k step of rows read in place: row r's value at rows[r][kk]. */
__attribute__((target(T512))) CK_AI void fma_rows512_in_place(__m512 a[CK_S_ROWS][2], const float *const *rows_at,
                                                              int kk, __m512 x0, __m512 x1, const int rows) {
  for (int r = 0; r < rows; r++) {
    const __m512 wv = _mm512_set1_ps(rows_at[r][kk]);
    a[r][0] = _mm512_fmadd_ps(wv, x0, a[r][0]);
    a[r][1] = _mm512_fmadd_ps(wv, x1, a[r][1]);
  }
}

__attribute__((target(T512))) CK_AI void store_rows512(__m512 a[CK_S_ROWS][2], float *acc, const int rows) {
  for (int r = 0; r < rows; r++) {
    _mm512_storeu_ps(acc + r * CK_S_COLS, a[r][0]);
    _mm512_storeu_ps(acc + r * CK_S_COLS + 16, a[r][1]);
  }
}

__attribute__((target(T512))) CK_AI void tile512(const float *panel, long lda, const float *columns, int k,
                                                 float *acc, const int rows, const float *ahead, int lines) {
  __m512 a[CK_S_ROWS][2];
  const float *rows_at[CK_S_ROWS];
  int due = 0, line = 0;
  for (int r = 0; r < rows; r++) {
    a[r][0] = a[r][1] = _mm512_setzero_ps();
    rows_at[r] = panel + r * lda;
  }
  for (int kk = 0; kk < k; kk++) {
    const __m512 x0 = _mm512_loadu_ps(columns + kk * CK_S_COLS), x1 = _mm512_loadu_ps(columns + kk * CK_S_COLS + 16);
    if (ahead) /* line j at step j·k/lines */
      for (due += lines; due >= k; due -= k) _mm_prefetch((const char *)(ahead + 16L * line++), _MM_HINT_T0);
    if (lda)
      fma_rows512_in_place(a, rows_at, kk, x0, x1, rows);
    else
      fma_rows512(a, panel + kk * CK_S_ROWS, x0, x1, rows);
  }
  store_rows512(a, acc, rows);
}

__attribute__((target(T512))) static void tile_avx512(const float *panel, long lda, const float *columns, int k,
                                                      int rows, const float *ahead, int lines, float *acc) {
#define TILE512(R)                                                                                 \
  case R:                                                                                          \
    if (lda)                                                                                       \
      tile512(panel, lda, columns, k, acc, R, ahead, lines);                                           \
    else                                                                                           \
      tile512(panel, 0, columns, k, acc, R, ahead, lines);                                           \
    break;
  switch (rows) {
    TILE512(8) TILE512(7) TILE512(6) TILE512(5) TILE512(4) TILE512(3) TILE512(2) default: TILE512(1)
  }
#undef TILE512
}

/* One k step of 4 rows × 16 columns, and the rows' store into the 8×32 tile. */
__attribute__((target("avx2,fma,f16c"))) CK_AI void fma_rows256(__m256 a[4][2], const float *w, __m256 x0, __m256 x1,
                                                                const int rows) {
  for (int r = 0; r < rows; r++) {
    const __m256 wv = _mm256_broadcast_ss(w + r);
    a[r][0] = _mm256_fmadd_ps(wv, x0, a[r][0]);
    a[r][1] = _mm256_fmadd_ps(wv, x1, a[r][1]);
  }
}

__attribute__((target("avx2,fma,f16c"))) CK_AI void store_rows256(__m256 a[4][2], float *acc, int r0, const int rows,
                                                                  int c0) {
  for (int r = 0; r < rows; r++) {
    _mm256_storeu_ps(acc + (r0 + r) * CK_S_COLS + c0, a[r][0]);
    _mm256_storeu_ps(acc + (r0 + r) * CK_S_COLS + c0 + 8, a[r][1]);
  }
}

/* 8×32 in passes of 4 rows × 16 columns: 8 accumulators, 2 column vectors, 1 broadcast. */
/* 8×32 in passes of 4 rows × 16 columns: 8 accumulators, 2 column vectors, 1 broadcast. Rows
 * packed (lda 0) or in place. */
__attribute__((target("avx2,fma,f16c"))) CK_AI void tile256(const float *panel, long lda, const float *columns, int k,
                                                            float *acc, int r0, const int rows, int c0) {
  __m256 a[4][2];
  const float *rows_at[4];
  for (int r = 0; r < rows; r++) {
    a[r][0] = a[r][1] = _mm256_setzero_ps();
    rows_at[r] = panel + (r0 + r) * lda;
  }
  for (int kk = 0; kk < k; kk++) {
    const float *xs = columns + kk * CK_S_COLS + c0;
    const __m256 x0 = _mm256_loadu_ps(xs), x1 = _mm256_loadu_ps(xs + 8);
    if (lda) {
      for (int r = 0; r < rows; r++) {
        const __m256 wv = _mm256_broadcast_ss(rows_at[r] + kk);
        a[r][0] = _mm256_fmadd_ps(wv, x0, a[r][0]);
        a[r][1] = _mm256_fmadd_ps(wv, x1, a[r][1]);
      }
    } else {
      fma_rows256(a, panel + kk * CK_S_ROWS + r0, x0, x1, rows);
    }
  }
  store_rows256(a, acc, r0, rows, c0);
}

__attribute__((target("avx2,fma,f16c"))) static void tile_avx2(const float *panel, long lda, const float *columns,
                                                               int k, int rows, const float *ahead, int lines,
                                                               float *acc) {
  (void)ahead;
  (void)lines;
#define TILE256(R)                                                                                 \
  case R:                                                                                          \
    if (lda)                                                                                       \
      tile256(panel, lda, columns, k, acc, r0, R, c0);                                             \
    else                                                                                           \
      tile256(panel, 0, columns, k, acc, r0, R, c0);                                               \
    break;
  for (int r0 = 0; r0 < rows; r0 += 4)
    for (int c0 = 0; c0 < CK_S_COLS; c0 += 16) switch (CK_MIN(4, rows - r0)) {
        TILE256(4) TILE256(3) TILE256(2) default: TILE256(1)
      }
#undef TILE256
}

__attribute__((target(T512))) static void gemm_avx512(const float *w, long lda, int n, int k, const float *x, int m0,
                                                      int count, const ck_s_epilogue *e, int panel0, int panel1) {
  driver(w, lda, n, k, x, m0, count, e, panel0, panel1, tile_avx512);
}

__attribute__((target("avx2,fma,f16c"))) static void gemm_avx2(const float *w, long lda, int n, int k, const float *x,
                                                               int m0, int count, const ck_s_epilogue *e, int panel0,
                                                               int panel1) {
  driver(w, lda, n, k, x, m0, count, e, panel0, panel1, tile_avx2);
}

/* `ahead`: also prefetch the next tile's 32 columns of every tap (its rows are in many pages at
 * once, which the hardware streams do not follow). */
__attribute__((target(T512))) CK_AI void conv512(const float *panel, const tap *taps, int k, float *acc,
                                                const int rows, const int ahead, int resume) {
  /* a tile with every lane of every tap valid (inside the borders) loads without masks */
  int full = 1;
  for (int kk = 0; kk < k; kk++) full &= taps[kk].valid == 0xFFFFFFFFu;
  __m512 a[CK_S_ROWS][2];
  for (int r = 0; r < rows; r++) {
    a[r][0] = resume ? _mm512_loadu_ps(acc + r * CK_S_COLS) : _mm512_setzero_ps();
    a[r][1] = resume ? _mm512_loadu_ps(acc + r * CK_S_COLS + 16) : _mm512_setzero_ps();
  }
  for (int kk = 0; kk < k; kk++) {
    const float *at = taps[kk].at;
    __m512 x0, x1;
    if (full) {
      x0 = _mm512_loadu_ps(at);
      x1 = _mm512_loadu_ps(at + 16);
    } else {
      const uint32_t m = taps[kk].valid;
      x0 = _mm512_maskz_loadu_ps((__mmask16)(m & 0xFFFF), at);
      x1 = _mm512_maskz_loadu_ps((__mmask16)(m >> 16), at + 16);
    }
    if (ahead) {
      _mm_prefetch((const char *)(at + 32), _MM_HINT_T0);
      _mm_prefetch((const char *)(at + 48), _MM_HINT_T0);
    }
    fma_rows512(a, panel + kk * CK_S_ROWS, x0, x1, rows);
  }
  store_rows512(a, acc, rows);
}

__attribute__((target(T512))) static void conv_tile_avx512(const float *panel, const tap *taps, int k, int rows,
                                                           int ahead, int resume, float *acc) {
#define CONV512(R)                                                                                 \
  case R:                                                                                          \
    if (ahead)                                                                                     \
      conv512(panel, taps, k, acc, R, 1, resume);                                                          \
    else                                                                                           \
      conv512(panel, taps, k, acc, R, 0, resume);                                                          \
    break;
  switch (rows) {
    CONV512(8) CONV512(7) CONV512(6) CONV512(5) CONV512(4) CONV512(3) CONV512(2) default: CONV512(1)
  }
#undef CONV512
}

__attribute__((target(T512))) static void conv_row_avx512(const float *w, int n, const float *x, int channels,
                                                          const ck_conv_geometry *g, int oh, int ow0, int count,
                                                          const ck_s_epilogue *e, int panel0, int panel1) {
  conv_row_driver(w, n, x, channels, g, oh, ow0, count, e, panel0, panel1, conv_tile_avx512);
}

/* AVX2: 4 rows × 16 columns per pass; a partly valid tap loads through lane masks (vmaskmovps). */
__attribute__((target("avx2,fma,f16c"))) CK_AI void conv256(const float *panel, const tap *taps, int k, float *acc,
                                                            int r0, const int rows, int c0, int resume) {
  __m256 a[4][2];
  for (int r = 0; r < rows; r++) {
    a[r][0] = resume ? _mm256_loadu_ps(acc + (r0 + r) * CK_S_COLS + c0) : _mm256_setzero_ps();
    a[r][1] = resume ? _mm256_loadu_ps(acc + (r0 + r) * CK_S_COLS + c0 + 8) : _mm256_setzero_ps();
  }
  const __m256i bit0 = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i bit1 = _mm256_slli_epi32(bit0, 8);
  for (int kk = 0; kk < k; kk++) {
    const uint32_t m = taps[kk].valid >> c0 & 0xFFFFu;
    const float *at = taps[kk].at + c0;
    __m256 x0, x1;
    if (m == 0xFFFFu) {
      x0 = _mm256_loadu_ps(at);
      x1 = _mm256_loadu_ps(at + 8);
    } else {
      const __m256i mv = _mm256_set1_epi32((int)m);
      x0 = _mm256_maskload_ps(at, _mm256_cmpeq_epi32(_mm256_and_si256(mv, bit0), bit0));
      x1 = _mm256_maskload_ps(at + 8, _mm256_cmpeq_epi32(_mm256_and_si256(mv, bit1), bit1));
    }
    fma_rows256(a, panel + kk * CK_S_ROWS + r0, x0, x1, rows);
  }
  store_rows256(a, acc, r0, rows, c0);
}

__attribute__((target("avx2,fma,f16c"))) static void conv_tile_avx2(const float *panel, const tap *taps, int k,
                                                                    int rows, int ahead, int resume, float *acc) {
  (void)ahead;
  for (int r0 = 0; r0 < rows; r0 += 4)
    for (int c0 = 0; c0 < CK_S_COLS; c0 += 16) switch (CK_MIN(4, rows - r0)) {
      case 4: conv256(panel, taps, k, acc, r0, 4, c0, resume); break;
      case 3: conv256(panel, taps, k, acc, r0, 3, c0, resume); break;
      case 2: conv256(panel, taps, k, acc, r0, 2, c0, resume); break;
      default: conv256(panel, taps, k, acc, r0, 1, c0, resume); break;
      }
}

__attribute__((target("avx2,fma,f16c"))) static void conv_row_avx2(const float *w, int n, const float *x, int channels,
                                                                   const ck_conv_geometry *g, int oh, int ow0,
                                                                   int count, const ck_s_epilogue *e, int panel0,
                                                                   int panel1) {
  conv_row_driver(w, n, x, channels, g, oh, ow0, count, e, panel0, panel1, conv_tile_avx2);
}

ck_s_conv_row_fn ck_s_conv_row_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return conv_row_avx512;
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return conv_row_avx2;
  return ck_s_conv_row_ref;
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
ck_s_conv_row_fn ck_s_conv_row_for(ck_isa isa) {
  (void)isa;
  return ck_s_conv_row_ref;
}
#endif
