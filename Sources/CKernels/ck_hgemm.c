#include "ck_hgemm.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define CK_AI static inline __attribute__((always_inline))
#define CK_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CK_MIN(a, b) ((a) < (b) ? (a) : (b))

static int panels(int n, int width) { return (n + width - 1) / width; }

long ck_h_packed_weight_halves(int n, int k) { return (long)panels(n, CK_Q_ROWS) * CK_Q_ROWS * k; }

void ck_h_pack_weights(const uint16_t *w, int n, int k, long ld, uint16_t *packed) {
  for (int p = 0; p < panels(n, CK_Q_ROWS); p++)
    for (int kk = 0; kk < k; kk++)
      for (int r = 0; r < CK_Q_ROWS; r++) {
        const int row = p * CK_Q_ROWS + r;
        packed[((long)p * k + kk) * CK_Q_ROWS + r] = row < n ? w[(long)row * ld + kk] : 0;
      }
}

long ck_h_packed_activation_floats(int m, int k) { return (long)panels(m, CK_Q_COLS) * CK_Q_COLS * k; }

CK_AI void pack_columns(const _Float16 *x, int k, int m, long ld, float *packed) {
  for (int m0 = 0; m0 < m; m0 += CK_Q_COLS) {
    float *dst = packed + (long)m0 * k;
    const int count = m - m0 < CK_Q_COLS ? m - m0 : CK_Q_COLS;
    for (int kk = 0; kk < k; kk++) {
      const _Float16 *s = x + (long)kk * ld + m0;
      float *d = dst + (long)kk * CK_Q_COLS;
      if (count == CK_Q_COLS)
        for (int c = 0; c < CK_Q_COLS; c++) d[c] = (float)s[c];
      else
        for (int c = 0; c < CK_Q_COLS; c++) d[c] = c < count ? (float)s[c] : 0.0f;
    }
  }
}

CK_AI void pack_rows(const _Float16 *x, int m, int k, long ld, float *packed) {
  for (int m0 = 0; m0 < m; m0 += CK_Q_COLS) {
    float *dst = packed + (long)m0 * k;
    for (int c = 0; c < CK_Q_COLS; c++) {
      const _Float16 *s = x + (long)(m0 + c) * ld;
      for (int kk = 0; kk < k; kk++) dst[(long)kk * CK_Q_COLS + c] = m0 + c < m ? (float)s[kk] : 0.0f;
    }
  }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma,f16c"))) static void pack_columns_f16c(const _Float16 *x, int k, int m, long ld,
                                                                        float *packed) {
  pack_columns(x, k, m, ld, packed);
}
__attribute__((target("avx2,fma,f16c"))) static void pack_rows_f16c(const _Float16 *x, int m, int k, long ld,
                                                                     float *packed) {
  pack_rows(x, m, k, ld, packed);
}
#endif

void ck_h_pack_columns(const uint16_t *x, int k, int m, long ld, float *packed) {
#if defined(__x86_64__)
  if (ck_selected_isa() >= CK_ISA_AVX2) {
    pack_columns_f16c((const _Float16 *)x, k, m, ld, packed);
    return;
  }
#endif
  pack_columns((const _Float16 *)x, k, m, ld, packed);
}

void ck_h_pack_rows(const uint16_t *x, int m, int k, long ld, float *packed) {
#if defined(__x86_64__)
  if (ck_selected_isa() >= CK_ISA_AVX2) {
    pack_rows_f16c((const _Float16 *)x, m, k, ld, packed);
    return;
  }
#endif
  pack_rows((const _Float16 *)x, m, k, ld, packed);
}

/* acc[r·32 + c] = fma chain over k of panel[k][r] · columns[k][c]. */
typedef void (*tile_fn)(const float *panel, const float *columns, int k, float *acc);

static void tile_ref(const float *panel, const float *columns, int k, float *acc) {
  for (int i = 0; i < CK_Q_ROWS * CK_Q_COLS; i++) acc[i] = 0.0f;
  for (int kk = 0; kk < k; kk++)
    for (int r = 0; r < CK_Q_ROWS; r++)
      for (int c = 0; c < CK_Q_COLS; c++)
        acc[r * CK_Q_COLS + c] = fmaf(panel[kk * CK_Q_ROWS + r], columns[kk * CK_Q_COLS + c], acc[r * CK_Q_COLS + c]);
}

CK_AI void driver(const uint16_t *w, int n, int k, const float *x, int m, const ck_q_epilogue *e, int panel0,
                  int panel1, float *scratch, tile_fn tile) {
  float acc[CK_Q_ROWS * CK_Q_COLS];
  for (int p = panel0; p < panel1; p++) {
    const _Float16 *src = (const _Float16 *)w + (long)p * k * CK_Q_ROWS;
    for (long i = 0; i < (long)k * CK_Q_ROWS; i++) scratch[i] = (float)src[i];
    const int rows = n - p * CK_Q_ROWS < CK_Q_ROWS ? n - p * CK_Q_ROWS : CK_Q_ROWS;
    for (int m0 = 0; m0 < m; m0 += CK_Q_COLS) {
      tile(scratch, x + (long)m0 * k, k, acc);
      const int count = m - m0 < CK_Q_COLS ? m - m0 : CK_Q_COLS;
      for (int r = 0; r < rows; r++) {
        const int row = p * CK_Q_ROWS + r;
        const float bias = e->bias ? e->bias[row] : 0.0f;
        const long base = (long)row * e->row_stride + (long)m0 * e->col_stride;
        const float *a = acc + r * CK_Q_COLS;
        if (e->type == CK_OUT_F16) {
          _Float16 *y = (_Float16 *)e->y + base;
          for (int c = 0; c < count; c++)
            y[c * e->col_stride] = (_Float16)CK_MIN(CK_MAX(a[c] + bias, e->clip_lo), e->clip_hi);
        } else {
          float *y = (float *)e->y + base;
          if (e->col_stride == 1)
            for (int c = 0; c < count; c++) y[c] = CK_MIN(CK_MAX(a[c] + bias, e->clip_lo), e->clip_hi);
          else
            for (int c = 0; c < count; c++) y[c * e->col_stride] = CK_MIN(CK_MAX(a[c] + bias, e->clip_lo), e->clip_hi);
        }
      }
    }
  }
}

void ck_h_gemm_ref(const uint16_t *w, int n, int k, const float *x, int m, const ck_q_epilogue *e, int panel0,
                   int panel1, float *scratch) {
  driver(w, n, k, x, m, e, panel0, panel1, scratch, tile_ref);
}


/* ---- GEMV ---- */

long ck_h_gemv_scratch_floats(int k) { return 16L * ((k + 1) / 2); }

/* sums[p·8 + r] for `count` (≤ 4) panels: (even-k chain) + (odd-k chain). xx: x widened into
 * 16-float groups [x_k ×8, x_{k+1} ×8] per k pair (odd k padded with a zero weight column). */
typedef void (*gemv_tile_fn)(const _Float16 *panels, long panel_stride, int count, int k, const float *xx, float *sums);

static void gemv_tile_ref(const _Float16 *panels, long panel_stride, int count, int k, const float *xx, float *sums) {
  for (int p = 0; p < count; p++)
    for (int r = 0; r < CK_Q_ROWS; r++) {
      float even = 0.0f, odd = 0.0f;
      for (int kk = 0; kk < k; kk++) {
        const float w = (float)panels[p * panel_stride + (long)kk * CK_Q_ROWS + r];
        if (kk % 2 == 0)
          even = fmaf(w, xx[(kk / 2) * 16], even);
        else
          odd = fmaf(w, xx[(kk / 2) * 16 + 8], odd);
      }
      sums[p * CK_Q_ROWS + r] = even + odd;
    }
}

CK_AI void gemv_driver(const uint16_t *w, int n, int k, const uint16_t *x, long ld, int m, const ck_q_epilogue *e,
                       int panel0, int panel1, float *xx, gemv_tile_fn tile) {
  const long panel_stride = (long)k * CK_Q_ROWS;
  float sums[4 * CK_Q_ROWS];
  for (int c = 0; c < m; c++) {
    const _Float16 *xr = (const _Float16 *)x + c * ld;
    for (int kp = 0; kp < (k + 1) / 2; kp++) {
      const float a = (float)xr[2 * kp], b = 2 * kp + 1 < k ? (float)xr[2 * kp + 1] : 0.0f;
      for (int j = 0; j < 8; j++) {
        xx[kp * 16 + j] = a;
        xx[kp * 16 + 8 + j] = b;
      }
    }
    for (int p = panel0; p < panel1; p += 4) {
      const int count = panel1 - p < 4 ? panel1 - p : 4;
      tile((const _Float16 *)w + p * panel_stride, panel_stride, count, k, xx, sums);
      const int rows = n - p * CK_Q_ROWS < count * CK_Q_ROWS ? n - p * CK_Q_ROWS : count * CK_Q_ROWS;
      for (int r = 0; r < rows; r++) {
        const int row = p * CK_Q_ROWS + r;
        const float y = CK_MIN(CK_MAX(sums[r] + (e->bias ? e->bias[row] : 0.0f), e->clip_lo), e->clip_hi);
        const long at = (long)row * e->row_stride + (long)c * e->col_stride;
        if (e->type == CK_OUT_F16)
          ((_Float16 *)e->y)[at] = (_Float16)y;
        else
          ((float *)e->y)[at] = y;
      }
    }
  }
}

void ck_h_gemv_ref(const uint16_t *w, int n, int k, const uint16_t *x, long ld, int m, const ck_q_epilogue *e,
                   int panel0, int panel1, float *scratch) {
  gemv_driver(w, n, k, x, ld, m, e, panel0, panel1, scratch, gemv_tile_ref);
}

#if defined(__x86_64__)
#define T512 "avx2,fma,f16c,avx512f,avx512bw,avx512vl"

__attribute__((target(T512))) static void tile_avx512(const float *panel, const float *columns, int k, float *acc) {
  __m512 a[CK_Q_ROWS][2];
  for (int r = 0; r < CK_Q_ROWS; r++) a[r][0] = a[r][1] = _mm512_setzero_ps();
  for (int kk = 0; kk < k; kk++) {
    const __m512 x0 = _mm512_loadu_ps(columns + kk * CK_Q_COLS), x1 = _mm512_loadu_ps(columns + kk * CK_Q_COLS + 16);
    for (int r = 0; r < CK_Q_ROWS; r++) {
      const __m512 wv = _mm512_set1_ps(panel[kk * CK_Q_ROWS + r]);
      a[r][0] = _mm512_fmadd_ps(wv, x0, a[r][0]);
      a[r][1] = _mm512_fmadd_ps(wv, x1, a[r][1]);
    }
  }
  for (int r = 0; r < CK_Q_ROWS; r++) {
    _mm512_storeu_ps(acc + r * CK_Q_COLS, a[r][0]);
    _mm512_storeu_ps(acc + r * CK_Q_COLS + 16, a[r][1]);
  }
}

/* 8×32 in four 4×16 passes: 8 accumulators, 2 activation vectors, 1 broadcast. */
__attribute__((target("avx2,fma,f16c"))) static void tile_avx2(const float *panel, const float *columns, int k,
                                                                float *acc) {
  for (int r0 = 0; r0 < CK_Q_ROWS; r0 += 4)
    for (int c0 = 0; c0 < CK_Q_COLS; c0 += 16) {
      __m256 a[4][2];
      for (int r = 0; r < 4; r++) a[r][0] = a[r][1] = _mm256_setzero_ps();
      for (int kk = 0; kk < k; kk++) {
        const float *xs = columns + kk * CK_Q_COLS + c0;
        const __m256 x0 = _mm256_loadu_ps(xs), x1 = _mm256_loadu_ps(xs + 8);
        for (int r = 0; r < 4; r++) {
          const __m256 wv = _mm256_broadcast_ss(panel + kk * CK_Q_ROWS + r0 + r);
          a[r][0] = _mm256_fmadd_ps(wv, x0, a[r][0]);
          a[r][1] = _mm256_fmadd_ps(wv, x1, a[r][1]);
        }
      }
      for (int r = 0; r < 4; r++) {
        _mm256_storeu_ps(acc + (r0 + r) * CK_Q_COLS + c0, a[r][0]);
        _mm256_storeu_ps(acc + (r0 + r) * CK_Q_COLS + c0 + 8, a[r][1]);
      }
    }
}

__attribute__((target(T512))) static void gemm_avx512(const uint16_t *w, int n, int k, const float *x, int m,
                                                      const ck_q_epilogue *e, int panel0, int panel1, float *scratch) {
  driver(w, n, k, x, m, e, panel0, panel1, scratch, tile_avx512);
}

__attribute__((target("avx2,fma,f16c"))) static void gemm_avx2(const uint16_t *w, int n, int k, const float *x, int m,
                                                                const ck_q_epilogue *e, int panel0, int panel1,
                                                                float *scratch) {
  driver(w, n, k, x, m, e, panel0, panel1, scratch, tile_avx2);
}

ck_h_gemm_fn ck_h_gemm_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return gemm_avx512;
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return gemm_avx2;
  return ck_h_gemm_ref;
}

/* One zmm per panel: lanes 0–7 rows at even k, 8–15 rows at odd k (the packed layout already
 * holds k and k+1 for the 8 rows in 32 consecutive bytes). */
__attribute__((target(T512))) static inline __attribute__((always_inline)) void gemv_avx512_body(
    const _Float16 *panels, long panel_stride, int count, int k, const float *xx, float *sums) {
  __m512 acc[4];
  for (int p = 0; p < 4; p++) acc[p] = _mm512_setzero_ps();
  int kk = 0;
  for (; kk + 2 <= k; kk += 2) {
    const __m512 xv = _mm512_loadu_ps(xx + (kk / 2) * 16);
    for (int p = 0; p < count; p++) {
      const __m256i h = _mm256_loadu_si256((const __m256i *)(panels + p * panel_stride + (long)kk * CK_Q_ROWS));
      acc[p] = _mm512_fmadd_ps(_mm512_cvtph_ps(h), xv, acc[p]);
    }
  }
  if (kk < k) { /* odd k: the last even column alone, the odd half multiplies a zero x */
    const __m512 xv = _mm512_loadu_ps(xx + (kk / 2) * 16);
    for (int p = 0; p < count; p++) {
      const __m128i h = _mm_loadu_si128((const __m128i *)(panels + p * panel_stride + (long)kk * CK_Q_ROWS));
      acc[p] = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_castsi128_si256(h)), xv, acc[p]);
    }
  }
  for (int p = 0; p < count; p++) {
    const __m256 even = _mm512_castps512_ps256(acc[p]), odd = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[p]), 1));
    _mm256_storeu_ps(sums + p * CK_Q_ROWS, _mm256_add_ps(even, odd));
  }
}

__attribute__((target(T512))) static void gemv_tile_avx512(const _Float16 *panels, long panel_stride, int count, int k,
                                                           const float *xx, float *sums) {
  if (count == 4)
    gemv_avx512_body(panels, panel_stride, 4, k, xx, sums);
  else
    gemv_avx512_body(panels, panel_stride, count, k, xx, sums);
}

/* Two ymm chains per panel, even and odd k. */
__attribute__((target("avx2,fma,f16c"))) static void gemv_tile_avx2(const _Float16 *panels, long panel_stride,
                                                                    int count, int k, const float *xx, float *sums) {
  for (int p = 0; p < count; p++) {
    __m256 even = _mm256_setzero_ps(), odd = _mm256_setzero_ps();
    const _Float16 *w = panels + p * panel_stride;
    int kk = 0;
    for (; kk + 2 <= k; kk += 2) {
      even = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + (long)kk * CK_Q_ROWS))),
                             _mm256_broadcast_ss(xx + (kk / 2) * 16), even);
      odd = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + (long)(kk + 1) * CK_Q_ROWS))),
                            _mm256_broadcast_ss(xx + (kk / 2) * 16 + 8), odd);
    }
    if (kk < k)
      even = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + (long)kk * CK_Q_ROWS))),
                             _mm256_broadcast_ss(xx + (kk / 2) * 16), even);
    _mm256_storeu_ps(sums + p * CK_Q_ROWS, _mm256_add_ps(even, odd));
  }
}

__attribute__((target(T512))) static void gemv_avx512(const uint16_t *w, int n, int k, const uint16_t *x, long ld,
                                                      int m, const ck_q_epilogue *e, int panel0, int panel1,
                                                      float *scratch) {
  gemv_driver(w, n, k, x, ld, m, e, panel0, panel1, scratch, gemv_tile_avx512);
}

__attribute__((target("avx2,fma,f16c"))) static void gemv_avx2(const uint16_t *w, int n, int k, const uint16_t *x,
                                                                long ld, int m, const ck_q_epilogue *e, int panel0,
                                                                int panel1, float *scratch) {
  gemv_driver(w, n, k, x, ld, m, e, panel0, panel1, scratch, gemv_tile_avx2);
}

ck_h_gemv_fn ck_h_gemv_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return gemv_avx512;
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return gemv_avx2;
  return ck_h_gemv_ref;
}
#else
ck_h_gemv_fn ck_h_gemv_for(ck_isa isa) {
  (void)isa;
  return ck_h_gemv_ref;
}

#endif

#if !defined(__x86_64__)
ck_h_gemm_fn ck_h_gemm_for(ck_isa isa) {
  (void)isa;
  return ck_h_gemm_ref;
}
#endif
