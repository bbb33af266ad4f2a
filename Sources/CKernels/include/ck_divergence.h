#ifndef CK_DIVERGENCE_H
#define CK_DIVERGENCE_H

#include "ck_isa.h"

/// Sums of the output comparisons' log terms in double precision (x: FP32 reference values,
/// y: the quantized run's), with log computed by one polynomial in every copy:
///
///     probs:     Σ_{x_i > 0} x_i · log(x_i / max(y_i, floor))
///     bernoulli: Σ_i p_i · log(p_i / q_i) + (1 − p_i) · log((1 − p_i) / (1 − q_i)),
///                p, q = x, y clamped to [eps, 1 − eps]
///
/// log(v) for positive normal v: v = m·2^e with m in [√½, √2), log m = 2·atanh(s), s = (m−1)/(m+1),
/// as an odd series to s^21 (|s| ≤ 0.172, truncation below 1e-17), plus e·ln 2. Within 2e-16 · max(1, |log v|)
/// of libm. Eight partial sums in a fixed lane order and no contraction, so the scalar twin (`_ref`)
/// and the AVX2 and AVX-512 copies give the same bits.
typedef double (*ck_kl_probs_fn)(const float *x, const float *y, long n, double floor);
typedef double (*ck_kl_bernoulli_fn)(const float *x, const float *y, long n, double eps);

double ck_kl_probs_ref(const float *x, const float *y, long n, double floor);
double ck_kl_probs_avx2(const float *x, const float *y, long n, double floor);
double ck_kl_probs_avx512(const float *x, const float *y, long n, double floor);
double ck_kl_bernoulli_ref(const float *x, const float *y, long n, double eps);
double ck_kl_bernoulli_avx2(const float *x, const float *y, long n, double eps);
double ck_kl_bernoulli_avx512(const float *x, const float *y, long n, double eps);

ck_kl_probs_fn ck_kl_probs_for(ck_isa isa);
ck_kl_bernoulli_fn ck_kl_bernoulli_for(ck_isa isa);

/// One row's sums for the comparisons, in double precision with eight partial sums in a fixed
/// order (same bits in every copy): out = { Σx², Σy², Σxy, Σ(x−y)², Σmax(x,0), Σmax(y,0) }.
typedef void (*ck_row_sums_fn)(const float *x, const float *y, long n, double *out);

void ck_row_sums_ref(const float *x, const float *y, long n, double *out);
void ck_row_sums_avx2(const float *x, const float *y, long n, double *out);
void ck_row_sums_avx512(const float *x, const float *y, long n, double *out);

ck_row_sums_fn ck_row_sums_for(ck_isa isa);

/// The polynomial log itself (for tests).
double ck_divergence_log(double v);

#endif
