#include "ck_softmax_f32.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Cephes-style expf: n = round(x·log2 e), r = x − n·ln 2 (two-part constant), e^r by a
 * polynomial, times 2^n built in the exponent bits. Branch-free so each ISA copy vectorizes. */
static inline __attribute__((always_inline)) float poly_expf(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float n = floorf(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

/* The max and the sums go in 16 lanes (element i into lane i mod 16), folded in a fixed tree
 * (lane j with j + 8, then j + 4, j + 2, j + 1): independent chains the compiler turns into one
 * zmm or two ymm registers, every ISA the scalar twin's order. The max is exact in any order. */
enum { LANES = 16 };

static inline __attribute__((always_inline)) float fold_sum(float *s) {
  for (int w = LANES / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; j++) s[j] = s[j] + s[j + w];
  return s[0];
}

static inline __attribute__((always_inline)) float row_max(const float *v, long length) {
  float m[LANES];
  for (int j = 0; j < LANES; j++) m[j] = -INFINITY;
  long i = 0;
  for (; i + LANES <= length; i += LANES)
    for (int j = 0; j < LANES; j++) m[j] = v[i + j] > m[j] ? v[i + j] : m[j];
  for (int j = 0; i + j < length; j++) m[j] = v[i + j] > m[j] ? v[i + j] : m[j];
  for (int w = LANES / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; j++) m[j] = m[j + w] > m[j] ? m[j + w] : m[j];
  return m[0];
}

static inline __attribute__((always_inline)) void softmax_rows(const float *x, float *y, long rows, long length,
                                                                int log) {
  for (long r = 0; r < rows; r++) {
    const float *u = x + r * length;
    float *v = y + r * length;
    const float m = row_max(u, length);
    float s[LANES];
    for (int j = 0; j < LANES; j++) s[j] = 0.0f;
    long i = 0;
    if (log) {
      for (; i + LANES <= length; i += LANES)
        for (int j = 0; j < LANES; j++) s[j] += poly_expf(u[i + j] - m);
      for (int j = 0; i + j < length; j++) s[j] += poly_expf(u[i + j] - m);
      const float shift = m + logf(fold_sum(s));
      for (long k = 0; k < length; k++) v[k] = u[k] - shift;
    } else {
      for (long k = 0; k < length; k++) v[k] = poly_expf(u[k] - m);
      for (; i + LANES <= length; i += LANES)
        for (int j = 0; j < LANES; j++) s[j] += v[i + j];
      for (int j = 0; i + j < length; j++) s[j] += v[i + j];
      const float inv = 1.0f / fold_sum(s);
      for (long k = 0; k < length; k++) v[k] *= inv;
    }
  }
}

void ck_softmax_f32_ref(const float *x, float *y, long rows, long length, int log) {
  softmax_rows(x, y, rows, length, log);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void ck_softmax_f32_avx2(const float *x, float *y, long rows, long length,
                                                              int log) {
  softmax_rows(x, y, rows, length, log);
}
#include <immintrin.h>
#define T512 "avx2,fma,avx512f,avx512bw,avx512vl"

/* The 16 lanes in one zmm: max_ps(v, m) is `v > m ? v : m` lane by lane (NaN in v skipped, as in
 * the scalar loop), the tail through a lane mask (its other lanes add 0 or keep m). */
__attribute__((target(T512))) static inline __attribute__((always_inline)) float max512(const float *v, long length) {
  __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
  long i = 0;
  for (; i + 4 * LANES <= length; i += 4 * LANES) { /* four chains: the max is exact in any order */
    m0 = _mm512_max_ps(_mm512_loadu_ps(v + i), m0);
    m1 = _mm512_max_ps(_mm512_loadu_ps(v + i + 16), m1);
    m2 = _mm512_max_ps(_mm512_loadu_ps(v + i + 32), m2);
    m3 = _mm512_max_ps(_mm512_loadu_ps(v + i + 48), m3);
  }
  for (; i < length; i += LANES) {
    const __mmask16 k = length - i >= LANES ? 0xFFFF : (__mmask16)((1u << (length - i)) - 1);
    m0 = _mm512_mask_max_ps(m0, k, _mm512_maskz_loadu_ps(k, v + i), m0);
  }
  float m[LANES];
  _mm512_storeu_ps(m, _mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
  for (int w = LANES / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; j++) m[j] = m[j + w] > m[j] ? m[j + w] : m[j];
  return m[0];
}

__attribute__((target(T512))) static inline __attribute__((always_inline)) float sum512(const float *v, long length) {
  __m512 s = _mm512_setzero_ps();
  for (long i = 0; i < length; i += LANES) {
    const __mmask16 k = length - i >= LANES ? 0xFFFF : (__mmask16)((1u << (length - i)) - 1);
    s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(k, v + i));
  }
  float t[LANES];
  _mm512_storeu_ps(t, s);
  return fold_sum(t);
}

__attribute__((target(T512))) static void softmax_avx512(const float *x, float *y, long rows, long length, int log) {
  if (log) {
    softmax_rows(x, y, rows, length, log);
    return;
  }
  for (long r = 0; r < rows; r++) {
    const float *u = x + r * length;
    float *v = y + r * length;
    const float m = max512(u, length);
    for (long k = 0; k < length; k++) v[k] = poly_expf(u[k] - m);
    const float inv = 1.0f / sum512(v, length);
    for (long k = 0; k < length; k++) v[k] *= inv;
  }
}
#else
void ck_softmax_f32_avx2(const float *x, float *y, long rows, long length, int log) {
  ck_softmax_f32_ref(x, y, rows, length, log);
}
#endif

ck_softmax_f32_fn ck_softmax_f32_for(ck_isa isa) {
#if defined(__x86_64__)
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return softmax_avx512;
#endif
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return ck_softmax_f32_avx2;
  return ck_softmax_f32_ref;
}
