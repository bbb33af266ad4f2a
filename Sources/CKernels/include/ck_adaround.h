#ifndef CK_ADAROUND_H
#define CK_ADAROUND_H

#include "ck_isa.h"

/// AdaRound's per-weight steps (Nagel et al. 2020), h(v) = clip(σ(v)·(ζ − γ) + γ, 0, 1) with
/// ζ = 1.1, γ = −0.1. σ and |u|^(β−1) use a polynomial exp and log (within 3e-7 relative of
/// libm); every copy performs the same IEEE operations in the same order (no contraction into
/// FMA), so the AVX2 and AVX-512 copies give the `_ref` twin's bits.
///
/// soft_delta: d[i] = w[i] − s[i]·clamp(floor_w[i] + h(v[i]), −qmax, qmax).
typedef void (*ck_adaround_delta_fn)(const float *w, const float *floor_w, const float *s, const float *v, float *d, long count,
                                     float qmax);

/// adam: with g[i] = grad[i]·s[i]·h'(v[i]) + λ·∂(1 − |2h − 1|^β)/∂v, one Adam step on v:
///     m = 0.9·m + 0.1·g,  s2 = 0.999·s2 + 0.001·g²,  v −= rate·(m/fm) / (√(s2/sm) + 1e-8)
/// (fm, sm: the bias corrections 1 − 0.9^t and 1 − 0.999^t).
typedef void (*ck_adaround_adam_fn)(const float *grad, const float *s, float *v, float *m, float *s2, long count, float beta,
                                    float lambda, float rate, float fm, float sm);

void ck_adaround_delta_ref(const float *w, const float *floor_w, const float *s, const float *v, float *d, long count, float qmax);
void ck_adaround_delta_avx2(const float *w, const float *floor_w, const float *s, const float *v, float *d, long count, float qmax);
void ck_adaround_delta_avx512(const float *w, const float *floor_w, const float *s, const float *v, float *d, long count, float qmax);
void ck_adaround_adam_ref(const float *grad, const float *s, float *v, float *m, float *s2, long count, float beta, float lambda,
                          float rate, float fm, float sm);
void ck_adaround_adam_avx2(const float *grad, const float *s, float *v, float *m, float *s2, long count, float beta, float lambda,
                           float rate, float fm, float sm);
void ck_adaround_adam_avx512(const float *grad, const float *s, float *v, float *m, float *s2, long count, float beta, float lambda,
                             float rate, float fm, float sm);

ck_adaround_delta_fn ck_adaround_delta_for(ck_isa isa);
ck_adaround_adam_fn ck_adaround_adam_for(ck_isa isa);

/// The polynomial exp and log the steps use (for tests).
float ck_adaround_exp(float x);
float ck_adaround_log(float x);

#endif
