#ifndef CK_POOL_F32_H
#define CK_POOL_F32_H

#include "ck_depthwise_f32.h"

/// One output plane of a max or average pool over the window taps inside the input, taps visited
/// in (kh, kw) order:
///
///     max: y = m_last, m_0 = −∞, m_t = x_t ≥ m_{t−1} ? x_t : m_{t−1}
///     avg: y = (((0 + x_0) + x_1) + …) / (taps inside), 0 when no tap is inside
///
/// (AveragePool's count_include_pad divisor stays with the caller.) x: in_h × in_w, y: out_h × out_w.
typedef void (*ck_pool_f32_fn)(const float *x, float *y, const ck_conv_geometry *g, int is_max);

void ck_pool_f32_ref(const float *x, float *y, const ck_conv_geometry *g, int is_max);
ck_pool_f32_fn ck_pool_f32_for(ck_isa isa);

/// y[i] = the max (is_max) or the mean of the `length` floats of row i of x, for `rows` rows. The
/// sum runs in 16 interleaved partial sums (element j into sum j mod 16), added pairwise at the
/// end, then divided by `length`; the max is order-free. The same in every copy.
typedef void (*ck_global_pool_f32_fn)(const float *x, long rows, long length, float *y, int is_max);

void ck_global_pool_f32_ref(const float *x, long rows, long length, float *y, int is_max);
ck_global_pool_f32_fn ck_global_pool_f32_for(ck_isa isa);

#endif
