/* SIMD copies of the integer GEMM and GEMV: AVX-512 VNNI (512-bit), AVX-VNNI and AVX2 (256-bit).
 * Only the tile kernels are written with intrinsics; the loops and the epilogue around them are
 * the shared driver, compiled once per target. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "ck_qgemm_driver.h"

static inline __attribute__((always_inline)) int32_t load32(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline __attribute__((always_inline)) int64_t load64(const uint8_t *p) {
  int64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* ---- AVX-512 VNNI: the whole 8×32 tile in 16 zmm accumulators. ---- */
#define T512 "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"

__attribute__((target(T512))) static inline __attribute__((always_inline)) void sums_avx512(
    const uint8_t *panel, const uint8_t *columns, int b0, int b1, __m512i acc[CK_Q_ROWS][2]) {
  for (int r = 0; r < CK_Q_ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
  for (int b = b0; b < b1; b++) {
    const uint8_t *xs = columns + (long)b * 256;
    const __m512i x0 = _mm512_loadu_si512(xs), x1 = _mm512_loadu_si512(xs + 64);
    const __m512i x2 = _mm512_loadu_si512(xs + 128), x3 = _mm512_loadu_si512(xs + 192);
    const uint8_t *ws = panel + (long)b * 64;
    for (int r = 0; r < CK_Q_ROWS; r++) {
      const __m512i wl = _mm512_set1_epi32(load32(ws + r * 8)), wh = _mm512_set1_epi32(load32(ws + r * 8 + 4));
      acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], x0, wl);
      acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], x1, wl);
      acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], x2, wh);
      acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], x3, wh);
    }
  }
}

__attribute__((target(T512))) static void tile_avx512(const uint8_t *panel, const uint8_t *columns, int b0, int b1,
                                                      int32_t *tile) {
  __m512i acc[CK_Q_ROWS][2];
  sums_avx512(panel, columns, b0, b1, acc);
  for (int r = 0; r < CK_Q_ROWS; r++) {
    _mm512_storeu_si512(tile + r * CK_Q_COLS, acc[r][0]);
    _mm512_storeu_si512(tile + r * CK_Q_COLS + 16, acc[r][1]);
  }
}

/* The same operations as accumulate_group + finish_row, lane for lane. */
__attribute__((target(T512))) static void tile_finish_avx512(const uint8_t *panel, const uint8_t *columns, int blocks,
                                                             int n0, int m0, const ck_q_weights *w,
                                                             const ck_q_activations *x, const ck_q_epilogue *e) {
  __m512i acc[CK_Q_ROWS][2];
  sums_avx512(panel, columns, 0, blocks, acc);
  const __m512 sa = _mm512_set1_ps(x->scale), lo = _mm512_set1_ps(e->clip_lo), hi = _mm512_set1_ps(e->clip_hi);
  const __m512 inv = _mm512_set1_ps(e->out_inv_scale);
  const int32_t qmin = e->type == CK_OUT_U8 ? 0 : -128, qmax = e->type == CK_OUT_U8 ? 255 : 127;
  const __m512 qlo = _mm512_set1_ps((float)(qmin - e->out_zero)), qhi = _mm512_set1_ps((float)(qmax - e->out_zero));
  const __m512i zero_out = _mm512_set1_epi32(e->out_zero);
  for (int r = 0; r < CK_Q_ROWS; r++) {
    const int n = n0 + r;
    const __m512i shift = _mm512_set1_epi32(x->zero * w->sums[n]);
    const __m512 sw = _mm512_set1_ps(w->scales[n]), bias = _mm512_set1_ps(e->bias ? e->bias[n] : 0.0f);
    const long base = (long)n * e->row_stride + m0;
    for (int h = 0; h < 2; h++) {
      if (e->type == CK_OUT_I32) {
        _mm512_storeu_si512((int32_t *)e->y + base + 16 * h, _mm512_sub_epi32(acc[r][h], shift));
        continue;
      }
      const __m512 f = _mm512_mul_ps(sw, _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][h], shift)));
      const __m512 y = _mm512_min_ps(_mm512_max_ps(_mm512_fmadd_ps(f, sa, bias), lo), hi);
      if (e->type == CK_OUT_F32) {
        _mm512_storeu_ps((float *)e->y + base + 16 * h, y);
        continue;
      }
      const __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(y, inv), qlo), qhi);
      const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(t), zero_out);
      _mm_storeu_si128((__m128i *)((uint8_t *)e->y + base + 16 * h), _mm512_cvtepi32_epi8(q));
    }
  }
}

/* Lane l of acc[p] holds row l/2 of panel p, k half l%2: even and odd lanes of two panels are
 * gathered and added, giving their 16 rows in order. */
__attribute__((target(T512))) static inline __attribute__((always_inline)) void gemv_rows_avx512(__m512i acc[4][2],
                                                                                                 int count,
                                                                                                 int32_t *rows) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int p = 0; p < count; p += 2) {
    const __m512i a = _mm512_add_epi32(acc[p][0], acc[p][1]);
    const __m512i b = p + 1 < count ? _mm512_add_epi32(acc[p + 1][0], acc[p + 1][1]) : _mm512_setzero_si512();
    const __m512i sum = _mm512_add_epi32(_mm512_permutex2var_epi32(a, even, b), _mm512_permutex2var_epi32(a, odd, b));
    if (p + 1 < count)
      _mm512_storeu_si512(rows + p * CK_Q_ROWS, sum);
    else
      _mm256_storeu_si256((__m256i *)(rows + p * CK_Q_ROWS), _mm512_castsi512_si256(sum));
  }
}

/* Two accumulators per panel (even and odd blocks) keep eight dot-product chains in flight. */
__attribute__((target(T512))) static inline __attribute__((always_inline)) void gemv8_avx512_body(
    const uint8_t *panels, long stride, int count, const uint8_t *x, int b0, int b1, int32_t *rows) {
  __m512i acc[4][2];
  for (int p = 0; p < 4; p++) acc[p][0] = acc[p][1] = _mm512_setzero_si512();
  int b = b0;
  for (; b + 2 <= b1; b += 2) {
    const __m512i xa = _mm512_set1_epi64(load64(x + b * 8)), xb = _mm512_set1_epi64(load64(x + b * 8 + 8));
    for (int p = 0; p < count; p++) {
      const uint8_t *w = panels + p * stride + (long)b * 64;
      acc[p][0] = _mm512_dpbusd_epi32(acc[p][0], xa, _mm512_loadu_si512(w));
      acc[p][1] = _mm512_dpbusd_epi32(acc[p][1], xb, _mm512_loadu_si512(w + 64));
    }
  }
  if (b < b1) {
    const __m512i xa = _mm512_set1_epi64(load64(x + b * 8));
    for (int p = 0; p < count; p++)
      acc[p][0] = _mm512_dpbusd_epi32(acc[p][0], xa, _mm512_loadu_si512(panels + p * stride + (long)b * 64));
  }
  gemv_rows_avx512(acc, count, rows);
}

__attribute__((target(T512))) static void gemv_tile8_avx512(const uint8_t *panels, long stride, int count,
                                                            const uint8_t *x, int b0, int b1, int32_t *rows) {
  if (count == 4)
    gemv8_avx512_body(panels, stride, 4, x, b0, b1, rows);
  else
    gemv8_avx512_body(panels, stride, count, x, b0, b1, rows);
}

/* int4: the low nibbles of a 64-byte block pair are block b, the high nibbles block b + 1. The
 * high nibbles are used in place (masked, not shifted): their sums come out 16 times too large
 * and exact, and one arithmetic shift per tile restores them (|16·Σ| < 2^31 for k ≤ 65536). */
#ifndef CK_GEMV4_PREFETCH
#define CK_GEMV4_PREFETCH 1024 /* bytes ahead in each panel's stream (measured at 2 threads: 1024 beats 2048 and none) */
#endif
__attribute__((target(T512))) static inline __attribute__((always_inline)) void gemv4_avx512_body(
    const uint8_t *panels, long stride, int count, const uint8_t *x, int b0, int b1, int32_t *rows) {
  const __m512i low = _mm512_set1_epi8(0x0F), high = _mm512_set1_epi8((char)0xF0);
  __m512i acc[4][2];
  for (int p = 0; p < 4; p++) acc[p][0] = acc[p][1] = _mm512_setzero_si512();
  for (int b = b0; b < b1; b += 2) {
    const __m512i xa = _mm512_set1_epi64(load64(x + b * 8)), xb = _mm512_set1_epi64(load64(x + b * 8 + 8));
    for (int p = 0; p < count; p++) {
      const uint8_t *w = panels + p * stride + (long)(b / 2) * 64;
      _mm_prefetch((const char *)(w + CK_GEMV4_PREFETCH), _MM_HINT_T0);
      const __m512i v = _mm512_loadu_si512(w);
      acc[p][0] = _mm512_dpbusd_epi32(acc[p][0], _mm512_and_si512(v, low), xa);
      acc[p][1] = _mm512_dpbusd_epi32(acc[p][1], _mm512_and_si512(v, high), xb);
    }
  }
  for (int p = 0; p < count; p++) acc[p][1] = _mm512_srai_epi32(acc[p][1], 4);
  gemv_rows_avx512(acc, count, rows);
}

__attribute__((target(T512))) static void gemv_tile4_avx512(const uint8_t *panels, long stride, int count,
                                                            const uint8_t *x, int b0, int b1, int32_t *rows) {
  if (count == 4)
    gemv4_avx512_body(panels, stride, 4, x, b0, b1, rows);
  else
    gemv4_avx512_body(panels, stride, count, x, b0, b1, rows);
}

__attribute__((target(T512))) void ck_q_gemm_avx512vnni(const ck_q_weights *w, const ck_q_activations *x,
                                                        const ck_q_epilogue *e, int panel0, int panel1,
                                                        uint8_t *scratch) {
  gemm_driver(w, x, e, panel0, panel1, scratch, tile_avx512, tile_finish_avx512);
}

__attribute__((target(T512))) void ck_q_gemv_avx512vnni(const ck_q_weights *w, const ck_q_activations *x,
                                                        const ck_q_epilogue *e, int panel0, int panel1,
                                                        uint8_t *scratch) {
  gemv_driver(w, x, e, panel0, panel1, scratch, gemv_tile8_avx512, gemv_tile4_avx512);
}

/* ---- AVX-VNNI: VEX-encoded VPDPBUSD on 256-bit vectors. ---- */
#define YMM_TARGET "avx2,fma,f16c,avxvnni"
#define YMM_NAME(x) x##_avxvnni
#define YMM_DP(acc, u, s) _mm256_dpbusd_avx_epi32(acc, u, s)
#include "ck_qgemm_ymm.h"
#undef YMM_TARGET
#undef YMM_NAME
#undef YMM_DP

/* ---- AVX2: the same dot product from two VPMADDWD on zero-/sign-extended byte halves (exact:
 *      VPMADDUBSW would saturate). ---- */
__attribute__((target("avx2,fma,f16c"))) static inline __attribute__((always_inline)) __m256i
dpbusd_avx2(__m256i acc, __m256i u, __m256i s) {
  const __m256i u_even = _mm256_and_si256(u, _mm256_set1_epi16(0x00FF)), u_odd = _mm256_srli_epi16(u, 8);
  const __m256i s_even = _mm256_srai_epi16(_mm256_slli_epi16(s, 8), 8), s_odd = _mm256_srai_epi16(s, 8);
  acc = _mm256_add_epi32(acc, _mm256_madd_epi16(u_even, s_even));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(u_odd, s_odd));
}
#define YMM_TARGET "avx2,fma,f16c"
#define YMM_NAME(x) x##_avx2
#define YMM_DP(acc, u, s) dpbusd_avx2(acc, u, s)
#include "ck_qgemm_ymm.h"

ck_q_gemm_fn ck_q_gemm_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return ck_q_gemm_avx512vnni;
  if (isa >= CK_ISA_AVX_VNNI && ck_cpu_supports(CK_ISA_AVX_VNNI)) return ck_q_gemm_avxvnni;
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return ck_q_gemm_avx2;
  return ck_q_gemm_ref;
}

ck_q_gemv_fn ck_q_gemv_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return ck_q_gemv_avx512vnni;
  if (isa >= CK_ISA_AVX_VNNI && ck_cpu_supports(CK_ISA_AVX_VNNI)) return ck_q_gemv_avxvnni;
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return ck_q_gemv_avx2;
  return ck_q_gemv_ref;
}
#endif
