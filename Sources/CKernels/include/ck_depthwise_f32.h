#ifndef CK_DEPTHWISE_F32_H
#define CK_DEPTHWISE_F32_H

#include "ck_isa.h"

/// Geometry of one 2-D convolution window (1-D convolutions use in_h = k_h = out_h = 1).
typedef struct ck_conv_geometry {
  int in_h, in_w;
  int k_h, k_w;
  int stride_h, stride_w;
  int dil_h, dil_w;
  int pad_top, pad_left;
  int out_h, out_w;
} ck_conv_geometry;

_Static_assert(sizeof(ck_conv_geometry) == 12 * sizeof(int), "ck_conv_geometry must stay 12 packed ints");

/// One output plane of a depthwise convolution:
///
///     y[oh][ow] = bias + Σ_kh Σ_kw w[kh][kw] · x[oh·sh − pt + kh·dh][ow·sw − pl + kw·dw]   (x = 0 outside)
///
/// x: in_h × in_w, w: k_h × k_w, y: out_h × out_w, all row-major float32.
/// scratch: at least ck_depthwise_f32_scratch_floats(g) floats, owned by the caller and reused
/// across planes (it holds zero-padded input rows).
typedef void (*ck_depthwise_f32_fn)(const float *x, const float *w, float bias, float *y, const ck_conv_geometry *g,
                                    float *scratch);

void ck_depthwise_f32_ref(const float *x, const float *w, float bias, float *y, const ck_conv_geometry *g,
                          float *scratch);
void ck_depthwise_f32_avx2(const float *x, const float *w, float bias, float *y, const ck_conv_geometry *g,
                           float *scratch);

/// Scratch floats one call with geometry `g` needs (0 when it needs none).
long ck_depthwise_f32_scratch_floats(const ck_conv_geometry *g);

/// The twin for `isa` (the scalar one when `isa` is not built or not supported).
ck_depthwise_f32_fn ck_depthwise_f32_for(ck_isa isa);

#endif
