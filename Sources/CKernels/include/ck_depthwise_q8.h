#ifndef CK_DEPTHWISE_Q8_H
#define CK_DEPTHWISE_Q8_H

#include <stdint.h>

#include "ck_depthwise_f32.h"
#include "ck_qgemm.h"

/// One output plane of a quantized depthwise convolution:
///
///     acc[oh][ow] = Σ_kh Σ_kw (x[ih][iw] − z_a) · w[kh][kw]     (taps outside the image add 0)
///     y[oh][ow]   = epilogue(s_w · acc, s_a, bias)              (the GEMM epilogue, one row)
///
/// x: uint8 in_h × in_w, w: int8 k_h × k_w. `e->y` is this plane's output (contiguous), `e->bias`
/// this channel's bias or NULL, `e->type` anything but CK_OUT_I32. The sums are exact integers
/// of magnitude below 255·128·taps < 2^24 (taps ≤ CK_Q_DEPTHWISE_MAX_TAPS): the scalar twin forms
/// them in float32, the x86 copies in int32 (two taps per VPMADDWD/VPDPWSSD), so every copy
/// gives the same bits.
/// scratch: ck_q_depthwise_scratch_floats(g) floats.
enum { CK_Q_DEPTHWISE_MAX_TAPS = 512 };

typedef void (*ck_q_depthwise_fn)(const uint8_t *x, int32_t za, float sa, const int8_t *w, float sw,
                                  const ck_conv_geometry *g, const ck_q_epilogue *e, float *scratch);
void ck_q_depthwise_ref(const uint8_t *x, int32_t za, float sa, const int8_t *w, float sw, const ck_conv_geometry *g,
                        const ck_q_epilogue *e, float *scratch);
ck_q_depthwise_fn ck_q_depthwise_for(ck_isa isa);
long ck_q_depthwise_scratch_floats(const ck_conv_geometry *g);

#endif
