#include "ck_divergence.h"

#include <stdint.h>
#include <string.h>

/* One operation per statement and no contraction: every copy rounds alike. */
#pragma clang fp contract(off)

#define CK_AI static inline __attribute__((always_inline))

CK_AI double as_double(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

CK_AI uint64_t as_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

/* log(v) for positive normal v, branch-free (selects only) so each copy vectorizes. */
CK_AI double poly_log(double v) {
  const uint64_t bits = as_bits(v);
  /* The exponent field as a double, exactly, without an int → double conversion. */
  const double field = as_double((bits >> 52) | 0x4330000000000000ull) - 4503599627370496.0;
  double m = as_double((bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
  const int big = m > 1.4142135623730951;
  m = big ? m * 0.5 : m;
  const double e = big ? field - 1022.0 : field - 1023.0;
  const double f = m - 1.0;
  const double d = f + 2.0;
  const double s = f / d;
  const double z = s * s;
  double p = 1.0 / 21.0;
  p = p * z; p = p + 1.0 / 19.0;
  p = p * z; p = p + 1.0 / 17.0;
  p = p * z; p = p + 1.0 / 15.0;
  p = p * z; p = p + 1.0 / 13.0;
  p = p * z; p = p + 1.0 / 11.0;
  p = p * z; p = p + 1.0 / 9.0;
  p = p * z; p = p + 1.0 / 7.0;
  p = p * z; p = p + 1.0 / 5.0;
  p = p * z; p = p + 1.0 / 3.0;
  p = p * z;
  const double s2 = s + s;
  const double tail = s2 * p;
  const double logm = s2 + tail;
  const double hi = e * 6.93147180369123816490e-01; /* ln 2, split so e·hi is exact */
  const double lo = e * 1.90821492927058770002e-10;
  const double sum = logm + lo;
  return hi + sum;
}

double ck_divergence_log(double v) { return poly_log(v); }

CK_AI double probs_terms(const float *x, const float *y, long n, double floor) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; l++) {
      const double u = (double)x[i + l], w = (double)y[i + l];
      const double q = w > floor ? w : floor;
      const double safe = u > 0 ? u : 1.0;
      const double r = safe / q;
      const double t = u * poly_log(r);
      acc[l] = u > 0 ? acc[l] + t : acc[l];
    }
  }
  for (int l = 0; i < n; i++, l++) {
    const double u = (double)x[i], w = (double)y[i];
    const double q = w > floor ? w : floor;
    if (u > 0) acc[l] = acc[l] + u * poly_log(u / q);
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* One element's two Bernoulli log terms, p and q clamped to [eps, top]. */
CK_AI double bernoulli_term(float x, float y, double eps, double top) {
  const double u = (double)x, w = (double)y;
  const double p0 = u > eps ? u : eps, q0 = w > eps ? w : eps;
  const double p = p0 < top ? p0 : top, q = q0 < top ? q0 : top;
  const double a = p * poly_log(p / q);
  const double b = (1.0 - p) * poly_log((1.0 - p) / (1.0 - q));
  return a + b;
}

CK_AI double bernoulli_terms(const float *x, const float *y, long n, double eps) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const double top = 1.0 - eps;
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) acc[l] = acc[l] + bernoulli_term(x[i + l], y[i + l], eps, top);
  for (int l = 0; i < n; i++, l++) acc[l] = acc[l] + bernoulli_term(x[i], y[i], eps, top);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

CK_AI void row_sums(const float *x, const float *y, long n, double *out) {
  double a[6][8];
  for (int j = 0; j < 6; j++)
    for (int l = 0; l < 8; l++) a[j][l] = 0;
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; l++) {
      const double u = (double)x[i + l], w = (double)y[i + l];
      const double d = u - w;
      const double uu = u * u, ww = w * w, uw = u * w, dd = d * d;
      a[0][l] = a[0][l] + uu;
      a[1][l] = a[1][l] + ww;
      a[2][l] = a[2][l] + uw;
      a[3][l] = a[3][l] + dd;
      a[4][l] = a[4][l] + (u > 0 ? u : 0.0);
      a[5][l] = a[5][l] + (w > 0 ? w : 0.0);
    }
  }
  for (int l = 0; i < n; i++, l++) {
    const double u = (double)x[i], w = (double)y[i];
    const double d = u - w;
    const double uu = u * u, ww = w * w, uw = u * w, dd = d * d;
    a[0][l] = a[0][l] + uu;
    a[1][l] = a[1][l] + ww;
    a[2][l] = a[2][l] + uw;
    a[3][l] = a[3][l] + dd;
    a[4][l] = a[4][l] + (u > 0 ? u : 0.0);
    a[5][l] = a[5][l] + (w > 0 ? w : 0.0);
  }
  for (int j = 0; j < 6; j++) out[j] = ((a[j][0] + a[j][1]) + (a[j][2] + a[j][3])) + ((a[j][4] + a[j][5]) + (a[j][6] + a[j][7]));
}

void ck_row_sums_ref(const float *x, const float *y, long n, double *out) { row_sums(x, y, n, out); }

double ck_kl_probs_ref(const float *x, const float *y, long n, double floor) { return probs_terms(x, y, n, floor); }
double ck_kl_bernoulli_ref(const float *x, const float *y, long n, double eps) { return bernoulli_terms(x, y, n, eps); }

#if defined(__x86_64__)
__attribute__((target("avx2"))) double ck_kl_probs_avx2(const float *x, const float *y, long n, double floor) {
  return probs_terms(x, y, n, floor);
}
__attribute__((target("avx2"))) double ck_kl_bernoulli_avx2(const float *x, const float *y, long n, double eps) {
  return bernoulli_terms(x, y, n, eps);
}
__attribute__((target("avx2,avx512f,avx512dq,avx512vl"))) double ck_kl_probs_avx512(const float *x, const float *y, long n,
                                                                                    double floor) {
  return probs_terms(x, y, n, floor);
}
__attribute__((target("avx2,avx512f,avx512dq,avx512vl"))) double ck_kl_bernoulli_avx512(const float *x, const float *y,
                                                                                        long n, double eps) {
  return bernoulli_terms(x, y, n, eps);
}
__attribute__((target("avx2"))) void ck_row_sums_avx2(const float *x, const float *y, long n, double *out) {
  row_sums(x, y, n, out);
}
__attribute__((target("avx2,avx512f,avx512dq,avx512vl"))) void ck_row_sums_avx512(const float *x, const float *y, long n,
                                                                                  double *out) {
  row_sums(x, y, n, out);
}
#else
void ck_row_sums_avx2(const float *x, const float *y, long n, double *out) { row_sums(x, y, n, out); }
void ck_row_sums_avx512(const float *x, const float *y, long n, double *out) { row_sums(x, y, n, out); }
double ck_kl_probs_avx2(const float *x, const float *y, long n, double floor) { return probs_terms(x, y, n, floor); }
double ck_kl_bernoulli_avx2(const float *x, const float *y, long n, double eps) { return bernoulli_terms(x, y, n, eps); }
double ck_kl_probs_avx512(const float *x, const float *y, long n, double floor) { return probs_terms(x, y, n, floor); }
double ck_kl_bernoulli_avx512(const float *x, const float *y, long n, double eps) {
  return bernoulli_terms(x, y, n, eps);
}
#endif

ck_kl_probs_fn ck_kl_probs_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return ck_kl_probs_avx512;
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return ck_kl_probs_avx2;
  return ck_kl_probs_ref;
}

ck_kl_bernoulli_fn ck_kl_bernoulli_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return ck_kl_bernoulli_avx512;
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return ck_kl_bernoulli_avx2;
  return ck_kl_bernoulli_ref;
}

ck_row_sums_fn ck_row_sums_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return ck_row_sums_avx512;
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return ck_row_sums_avx2;
  return ck_row_sums_ref;
}
