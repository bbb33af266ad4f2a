#ifndef CK_SOFTMAX_F32_H
#define CK_SOFTMAX_F32_H

#include "ck_isa.h"

/// Softmax (or log-softmax when `log` is non-zero) of each of `rows` contiguous rows of `length`
/// floats of x into y (y may be x: in place):
///
///     y_i = exp(x_i − m) / Σ_j exp(x_j − m),   m = max_j x_j      (log: x_i − m − log Σ_j exp(x_j − m))
///
/// exp is a degree-6 polynomial after range reduction (Cephes expf), within 2 ULP of libm over
/// the range that softmax reaches (x − m ≤ 0); results below 2^-125 flush to 0.
typedef void (*ck_softmax_f32_fn)(const float *x, float *y, long rows, long length, int log);

void ck_softmax_f32_ref(const float *x, float *y, long rows, long length, int log);
void ck_softmax_f32_avx2(const float *x, float *y, long rows, long length, int log);

ck_softmax_f32_fn ck_softmax_f32_for(ck_isa isa);

#endif
