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

static inline __attribute__((always_inline)) void softmax_rows(float *restrict x, long rows, long length, int log) {
  for (long r = 0; r < rows; r++) {
    float *restrict v = x + r * length;
    float m = -INFINITY;
    for (long i = 0; i < length; i++) m = v[i] > m ? v[i] : m;
    if (log) {
      float s = 0;
      for (long i = 0; i < length; i++) s += poly_expf(v[i] - m);
      const float shift = m + logf(s);
      for (long i = 0; i < length; i++) v[i] -= shift;
    } else {
      for (long i = 0; i < length; i++) v[i] = poly_expf(v[i] - m);
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      long i = 0;
      for (; i + 4 <= length; i += 4) { s0 += v[i]; s1 += v[i + 1]; s2 += v[i + 2]; s3 += v[i + 3]; }
      for (; i < length; i++) s0 += v[i];
      const float inv = 1.0f / ((s0 + s1) + (s2 + s3));
      for (long k = 0; k < length; k++) v[k] *= inv;
    }
  }
}

void ck_softmax_f32_ref(float *x, long rows, long length, int log) { softmax_rows(x, rows, length, log); }

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void ck_softmax_f32_avx2(float *x, long rows, long length, int log) {
  softmax_rows(x, rows, length, log);
}
#else
void ck_softmax_f32_avx2(float *x, long rows, long length, int log) { ck_softmax_f32_ref(x, rows, length, log); }
#endif

ck_softmax_f32_fn ck_softmax_f32_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return ck_softmax_f32_avx2;
  return ck_softmax_f32_ref;
}
