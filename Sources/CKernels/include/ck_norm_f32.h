#ifndef CK_NORM_F32_H
#define CK_NORM_F32_H

#include "ck_isa.h"

/// Per row of `inner` floats: mean = Σx / inner and inv = 1 / sqrt(Σ(x − mean)² / inner + eps),
/// each sum in 16 interleaved partial sums (element j into sum j mod 16) added pairwise at the
/// end, so every copy gives the same bits (LayerNormalization's statistics, and its gradients').
typedef void (*ck_row_moments_f32_fn)(const float *x, long rows, long inner, float eps, float *means, float *invs);

void ck_row_moments_f32_ref(const float *x, long rows, long inner, float eps, float *means, float *invs);
ck_row_moments_f32_fn ck_row_moments_f32_for(ck_isa isa);

/// y[r][i] = ((x[r][i] − means[r]) · invs[r]) · gamma[i] + beta[i] (beta NULL: no addition),
/// one IEEE operation at a time; y may be x (in place) or a buffer not overlapping it.
typedef void (*ck_normalize_rows_f32_fn)(const float *x, float *y, long rows, long inner, const float *means,
                                         const float *invs, const float *gamma, const float *beta);

void ck_normalize_rows_f32_ref(const float *x, float *y, long rows, long inner, const float *means, const float *invs,
                               const float *gamma, const float *beta);
ck_normalize_rows_f32_fn ck_normalize_rows_f32_for(ck_isa isa);

#endif
