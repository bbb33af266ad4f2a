#ifndef CK_CONVERT_H
#define CK_CONVERT_H

#include <stdint.h>

#include "ck_depthwise_f32.h"
#include "ck_isa.h"

/// Activation quantization, as ONNX QuantizeLinear defines it (round half to even):
///
///     q[i] = clamp(round(x[i] / scale) + zero, 0, 255)
///
/// NaN maps to the lowest code. The vector copies divide exactly like the scalar twin.
typedef void (*ck_quantize_u8_fn)(const float *x, long count, float scale, int32_t zero, uint8_t *q);
void ck_quantize_u8_ref(const float *x, long count, float scale, int32_t zero, uint8_t *q);
ck_quantize_u8_fn ck_quantize_u8_for(ck_isa isa);

/// The smallest and largest of x[0..<count] and 0 (DynamicQuantizeLinear's range); NaN is skipped.
typedef void (*ck_range_f32_fn)(const float *x, long count, float *lo, float *hi);
void ck_range_f32_ref(const float *x, long count, float *lo, float *hi);
ck_range_f32_fn ck_range_f32_for(ck_isa isa);

/// float32 → binary16 (round to nearest even; overflow to ±inf) and back (exact).
typedef void (*ck_f32_to_f16_fn)(const float *x, long count, uint16_t *h);
typedef void (*ck_f16_to_f32_fn)(const uint16_t *h, long count, float *x);
void ck_f32_to_f16_ref(const float *x, long count, uint16_t *h);
void ck_f16_to_f32_ref(const uint16_t *h, long count, float *x);
ck_f32_to_f16_fn ck_f32_to_f16_for(ck_isa isa);
ck_f16_to_f32_fn ck_f16_to_f32_for(ck_isa isa);

/// The im2col matrix of one convolution group: col[c·k_h·k_w + kh·k_w + kw][oh·out_w + ow] =
/// x[c][ih][iw] (or `pad` outside the image), for elements of 1 or 2 bytes.
void ck_im2col_u8(const uint8_t *x, int channels, const ck_conv_geometry *g, uint8_t pad, uint8_t *col);
void ck_im2col_u16(const uint16_t *x, int channels, const ck_conv_geometry *g, uint16_t pad, uint16_t *col);

#endif
