#include "ck_norm_f32.h"

#include <math.h>

#define CK_AI static inline __attribute__((always_inline))

/* Σ v[j] in 16 interleaved partial sums, then pairwise. */
CK_AI float sum16(const float *restrict v, long n) {
  float acc[16];
  for (int l = 0; l < 16; l++) acc[l] = 0.0f;
  long j = 0;
  for (; j + 16 <= n; j += 16)
    for (int l = 0; l < 16; l++) acc[l] = acc[l] + v[j + l];
  for (int l = 0; j + l < n; l++) acc[l] = acc[l] + v[j + l];
  for (int width = 8; width >= 1; width /= 2)
    for (int l = 0; l < width; l++) acc[l] = acc[l] + acc[l + width];
  return acc[0];
}

/* Σ (v[j] − mean)² the same way. */
CK_AI float squares16(const float *restrict v, long n, float mean) {
  float acc[16];
  for (int l = 0; l < 16; l++) acc[l] = 0.0f;
  long j = 0;
  for (; j + 16 <= n; j += 16)
    for (int l = 0; l < 16; l++) {
      const float d = v[j + l] - mean;
      const float dd = d * d;
      acc[l] = acc[l] + dd;
    }
  for (int l = 0; j + l < n; l++) {
    const float d = v[j + l] - mean;
    const float dd = d * d;
    acc[l] = acc[l] + dd;
  }
  for (int width = 8; width >= 1; width /= 2)
    for (int l = 0; l < width; l++) acc[l] = acc[l] + acc[l + width];
  return acc[0];
}

CK_AI void moments(const float *restrict x, long rows, long inner, float eps, float *restrict means,
                   float *restrict invs) {
  const float n = (float)inner;
  for (long r = 0; r < rows; r++) {
    const float *v = x + r * inner;
    const float mean = sum16(v, inner) / n;
    const float variance = squares16(v, inner, mean) / n;
    means[r] = mean;
    invs[r] = 1.0f / sqrtf(variance + eps);
  }
}

CK_AI void normalize(const float *x, float *y, long rows, long inner, const float *restrict means,
                     const float *restrict invs, const float *restrict gamma, const float *restrict beta) {
  for (long r = 0; r < rows; r++) {
    const float *v = x + r * inner;
    float *o = y + r * inner;
    const float mean = means[r], inv = invs[r];
    if (beta) {
      for (long i = 0; i < inner; i++) {
        float t = v[i] - mean;
        t = t * inv;
        t = t * gamma[i];
        o[i] = t + beta[i];
      }
    } else {
      for (long i = 0; i < inner; i++) {
        float t = v[i] - mean;
        t = t * inv;
        o[i] = t * gamma[i];
      }
    }
  }
}

void ck_row_moments_f32_ref(const float *x, long rows, long inner, float eps, float *means, float *invs) {
  moments(x, rows, inner, eps, means, invs);
}
void ck_normalize_rows_f32_ref(const float *x, float *y, long rows, long inner, const float *means, const float *invs,
                               const float *gamma, const float *beta) {
  normalize(x, y, rows, inner, means, invs, gamma, beta);
}

#if defined(__x86_64__)
#define T2 "avx2,fma"
#define T512 "avx2,fma,avx512f,avx512bw,avx512vl"
__attribute__((target(T2))) static void moments_avx2(const float *x, long rows, long inner, float eps, float *means,
                                                     float *invs) {
  moments(x, rows, inner, eps, means, invs);
}
__attribute__((target(T512))) static void moments_avx512(const float *x, long rows, long inner, float eps,
                                                         float *means, float *invs) {
  moments(x, rows, inner, eps, means, invs);
}
__attribute__((target(T2))) static void normalize_avx2(const float *x, float *y, long rows, long inner,
                                                       const float *means, const float *invs, const float *gamma,
                                                       const float *beta) {
  normalize(x, y, rows, inner, means, invs, gamma, beta);
}
__attribute__((target(T512))) static void normalize_avx512(const float *x, float *y, long rows, long inner,
                                                           const float *means, const float *invs, const float *gamma,
                                                           const float *beta) {
  normalize(x, y, rows, inner, means, invs, gamma, beta);
}
#endif

ck_row_moments_f32_fn ck_row_moments_f32_for(ck_isa isa) {
  return CK_PICK(isa, moments_avx512, moments_avx2, ck_row_moments_f32_ref);
}

ck_normalize_rows_f32_fn ck_normalize_rows_f32_for(ck_isa isa) {
  return CK_PICK(isa, normalize_avx512, normalize_avx2, ck_normalize_rows_f32_ref);
}
