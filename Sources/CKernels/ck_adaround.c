#include "ck_adaround.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* No a·b + c fused into one rounding: every ISA copy must round like the twin. */
#pragma clang fp contract(off)

#define ZETA 1.1f
#define GAMMA (-0.1f)

static inline __attribute__((always_inline)) float bits_to_float(int32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

static inline __attribute__((always_inline)) int32_t float_to_bits(float f) {
  int32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

/* e^x: n = round(x·log2 e) by the 1.5·2^23 trick, r = x − n·ln 2 (two-part constant), a
 * degree-6 Taylor polynomial of e^r, times 2^n built in the exponent bits. */
static inline __attribute__((always_inline)) float exp_approx(float x) {
  const float c = x < -87.0f ? -87.0f : (x > 87.0f ? 87.0f : x);
  const float n = (c * 1.442695041f + 12582912.0f) - 12582912.0f;
  const float r = (c - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * bits_to_float(((int32_t)n + 127) << 23);
}

/* ln x for x > 0: exponent from the bits, the mantissa m in [√½, √2), ln m = 2·atanh(t) with
 * t = (m − 1)/(m + 1) by its series to t⁹. */
static inline __attribute__((always_inline)) float log_approx(float x) {
  const int32_t bits = float_to_bits(x < 1e-30f ? 1e-30f : x);
  const int32_t mbits = (bits & 0x007fffff) | 0x3f800000;
  const int32_t high = mbits > 0x3fb504f3 ? 1 : 0;
  const int32_t e = ((bits >> 23) & 0xff) - 127 + high;
  const float m = bits_to_float(mbits - (high << 23));
  const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
  float p = 1.0f / 9.0f;
  p = p * t2 + 1.0f / 7.0f;
  p = p * t2 + 1.0f / 5.0f;
  p = p * t2 + 1.0f / 3.0f;
  p = p * t2 + 1.0f;
  return 2.0f * t * p + (float)e * 0.693147181f;
}

static inline __attribute__((always_inline)) float sigmoid(float v) { return 1.0f / (1.0f + exp_approx(-v)); }

static inline __attribute__((always_inline)) void delta_loop(const float *restrict w, const float *restrict floor_w,
                                                             const float *restrict s, const float *restrict v, float *restrict d,
                                                             long count, float qmax) {
  for (long i = 0; i < count; i++) {
    float h = sigmoid(v[i]) * (ZETA - GAMMA) + GAMMA;
    h = h < 0.0f ? 0.0f : (h > 1.0f ? 1.0f : h);
    float q = floor_w[i] + h;
    q = q < -qmax ? -qmax : (q > qmax ? qmax : q);
    d[i] = w[i] - s[i] * q;
  }
}

static inline __attribute__((always_inline)) void adam_loop(const float *restrict grad, const float *restrict s, float *restrict v,
                                                            float *restrict m, float *restrict s2, long count, float beta, float lambda,
                                                            float rate, float fm, float sm) {
  for (long i = 0; i < count; i++) {
    const float sig = sigmoid(v[i]);
    const float raw = sig * (ZETA - GAMMA) + GAMMA;
    const float dh = (raw > 0.0f) & (raw < 1.0f) ? sig * (1.0f - sig) * (ZETA - GAMMA) : 0.0f;
    const float h = raw < 0.0f ? 0.0f : (raw > 1.0f ? 1.0f : raw);
    const float u = 2.0f * h - 1.0f, au = fabsf(u);
    /* |u|^(β−1) = e^((β−1)·ln|u|); 0 at u = 0 (β > 1 throughout). */
    const float power = au > 0.0f ? exp_approx((beta - 1.0f) * log_approx(au)) : 0.0f;
    const float sign = u >= 0.0f ? 1.0f : -1.0f;
    const float g = grad[i] * s[i] * dh + lambda * (-beta * power * sign * 2.0f) * dh;
    m[i] = 0.9f * m[i] + 0.1f * g;
    s2[i] = 0.999f * s2[i] + 0.001f * g * g;
    v[i] -= rate * (m[i] / fm) / (sqrtf(s2[i] / sm) + 1e-8f);
  }
}

float ck_adaround_exp(float x) { return exp_approx(x); }
float ck_adaround_log(float x) { return log_approx(x); }

void ck_adaround_delta_ref(const float *w, const float *floor_w, const float *s, const float *v, float *d, long count, float qmax) {
  delta_loop(w, floor_w, s, v, d, count, qmax);
}
void ck_adaround_adam_ref(const float *grad, const float *s, float *v, float *m, float *s2, long count, float beta, float lambda,
                          float rate, float fm, float sm) {
  adam_loop(grad, s, v, m, s2, count, beta, lambda, rate, fm, sm);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) void ck_adaround_delta_avx2(const float *w, const float *floor_w, const float *s, const float *v,
                                                            float *d, long count, float qmax) {
  delta_loop(w, floor_w, s, v, d, count, qmax);
}
__attribute__((target("avx2"))) void ck_adaround_adam_avx2(const float *grad, const float *s, float *v, float *m, float *s2, long count,
                                                           float beta, float lambda, float rate, float fm, float sm) {
  adam_loop(grad, s, v, m, s2, count, beta, lambda, rate, fm, sm);
}
__attribute__((target("avx512f"))) void ck_adaround_delta_avx512(const float *w, const float *floor_w, const float *s, const float *v,
                                                                float *d, long count, float qmax) {
  delta_loop(w, floor_w, s, v, d, count, qmax);
}
__attribute__((target("avx512f"))) void ck_adaround_adam_avx512(const float *grad, const float *s, float *v, float *m, float *s2,
                                                                long count, float beta, float lambda, float rate, float fm, float sm) {
  adam_loop(grad, s, v, m, s2, count, beta, lambda, rate, fm, sm);
}
#else
void ck_adaround_delta_avx2(const float *w, const float *floor_w, const float *s, const float *v, float *d, long count, float qmax) {
  ck_adaround_delta_ref(w, floor_w, s, v, d, count, qmax);
}
void ck_adaround_adam_avx2(const float *grad, const float *s, float *v, float *m, float *s2, long count, float beta, float lambda,
                           float rate, float fm, float sm) {
  ck_adaround_adam_ref(grad, s, v, m, s2, count, beta, lambda, rate, fm, sm);
}
void ck_adaround_delta_avx512(const float *w, const float *floor_w, const float *s, const float *v, float *d, long count, float qmax) {
  ck_adaround_delta_ref(w, floor_w, s, v, d, count, qmax);
}
void ck_adaround_adam_avx512(const float *grad, const float *s, float *v, float *m, float *s2, long count, float beta, float lambda,
                             float rate, float fm, float sm) {
  ck_adaround_adam_ref(grad, s, v, m, s2, count, beta, lambda, rate, fm, sm);
}
#endif

ck_adaround_delta_fn ck_adaround_delta_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return ck_adaround_delta_avx512;
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return ck_adaround_delta_avx2;
  return ck_adaround_delta_ref;
}

ck_adaround_adam_fn ck_adaround_adam_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return ck_adaround_adam_avx512;
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return ck_adaround_adam_avx2;
  return ck_adaround_adam_ref;
}
