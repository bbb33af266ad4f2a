#include "ck_convert.h"

#include <math.h>
#include <string.h>

#define CK_AI static inline __attribute__((always_inline))
#define CK_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CK_MIN(a, b) ((a) < (b) ? (a) : (b))

CK_AI void quantize_u8(const float *x, long count, float scale, int32_t zero, uint8_t *q) {
  const float lo = (float)(0 - zero), hi = (float)(255 - zero);
  for (long i = 0; i < count; i++) q[i] = (uint8_t)((int32_t)nearbyintf(CK_MIN(CK_MAX(x[i] / scale, lo), hi)) + zero);
}

/* 16 independent lanes so the compiler keeps one vector min and max per step; min and max are
 * exact, so every ISA gives the scalar twin's result. NaN fails both comparisons and is skipped. */
CK_AI void range_f32(const float *x, long count, float *lo, float *hi) {
  float l[16], h[16];
  for (int j = 0; j < 16; j++) l[j] = h[j] = 0;
  long i = 0;
  for (; i + 16 <= count; i += 16)
    for (int j = 0; j < 16; j++) {
      const float v = x[i + j];
      l[j] = v < l[j] ? v : l[j];
      h[j] = v > h[j] ? v : h[j];
    }
  float a = 0, b = 0;
  for (int j = 0; j < 16; j++) {
    a = CK_MIN(l[j], a);
    b = CK_MAX(h[j], b);
  }
  for (; i < count; i++) {
    a = x[i] < a ? x[i] : a;
    b = x[i] > b ? x[i] : b;
  }
  *lo = a;
  *hi = b;
}

CK_AI void f32_to_f16(const float *x, long count, uint16_t *h) {
  _Float16 *d = (_Float16 *)h;
  for (long i = 0; i < count; i++) d[i] = (_Float16)x[i];
}

CK_AI void f16_to_f32(const uint16_t *h, long count, float *x) {
  const _Float16 *s = (const _Float16 *)h;
  for (long i = 0; i < count; i++) x[i] = (float)s[i];
}

void ck_quantize_u8_ref(const float *x, long count, float scale, int32_t zero, uint8_t *q) {
  quantize_u8(x, count, scale, zero, q);
}
void ck_range_f32_ref(const float *x, long count, float *lo, float *hi) { range_f32(x, count, lo, hi); }
void ck_f32_to_f16_ref(const float *x, long count, uint16_t *h) { f32_to_f16(x, count, h); }
void ck_f16_to_f32_ref(const uint16_t *h, long count, float *x) { f16_to_f32(h, count, x); }

#if defined(__x86_64__)
#define T512 "avx2,fma,f16c,avx512f,avx512bw,avx512vl"
#define T256 "avx2,fma,f16c"
__attribute__((target(T512))) static void quantize_u8_avx512(const float *x, long count, float scale, int32_t zero,
                                                             uint8_t *q) {
  quantize_u8(x, count, scale, zero, q);
}
__attribute__((target(T256))) static void quantize_u8_avx2(const float *x, long count, float scale, int32_t zero,
                                                           uint8_t *q) {
  quantize_u8(x, count, scale, zero, q);
}
__attribute__((target(T512))) static void range_f32_avx512(const float *x, long count, float *lo, float *hi) {
  range_f32(x, count, lo, hi);
}
__attribute__((target(T256))) static void range_f32_avx2(const float *x, long count, float *lo, float *hi) {
  range_f32(x, count, lo, hi);
}
__attribute__((target(T512))) static void f32_to_f16_avx512(const float *x, long count, uint16_t *h) {
  f32_to_f16(x, count, h);
}
__attribute__((target(T256))) static void f32_to_f16_avx2(const float *x, long count, uint16_t *h) {
  f32_to_f16(x, count, h);
}
__attribute__((target(T512))) static void f16_to_f32_avx512(const uint16_t *h, long count, float *x) {
  f16_to_f32(h, count, x);
}
__attribute__((target(T256))) static void f16_to_f32_avx2(const uint16_t *h, long count, float *x) {
  f16_to_f32(h, count, x);
}
#define PICK(name)                                                                                 \
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return name##_avx512;     \
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return name##_avx2;                     \
  return ck_##name##_ref;
#else
#define PICK(name)                                                                                 \
  (void)isa;                                                                                       \
  return ck_##name##_ref;
#endif

ck_quantize_u8_fn ck_quantize_u8_for(ck_isa isa) { PICK(quantize_u8) }
ck_f32_to_f16_fn ck_f32_to_f16_for(ck_isa isa) { PICK(f32_to_f16) }
ck_range_f32_fn ck_range_f32_for(ck_isa isa) { PICK(range_f32) }
ck_f16_to_f32_fn ck_f16_to_f32_for(ck_isa isa) { PICK(f16_to_f32) }

/* Row (c, kh, kw) of the im2col matrix: for each output row the valid output columns are found
 * once; stride 1 copies them as one block, other strides step through the input row. */
#define IM2COL_BODY                                                                                \
  const long plane = (long)g->out_h * g->out_w;                                                    \
  for (int c = 0; c < channels; c++)                                                               \
    for (int kh = 0; kh < g->k_h; kh++)                                                            \
      for (int kw = 0; kw < g->k_w; kw++) {                                                        \
        const long row = ((long)c * g->k_h + kh) * g->k_w + kw;                                    \
        const int off = kw * g->dil_w - g->pad_left, sw = g->stride_w;                             \
        /* valid ow: 0 ≤ ow·sw + off < in_w */                                                     \
        int lo = off >= 0 ? 0 : (-off + sw - 1) / sw;                                              \
        int hi = g->in_w - off > 0 ? (g->in_w - off - 1) / sw + 1 : 0;                             \
        if (hi > g->out_w) hi = g->out_w;                                                          \
        if (lo > hi) lo = hi;                                                                      \
        for (int oh = 0; oh < g->out_h; oh++) {                                                    \
          const int ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;                            \
          TYPE *d = col + row * plane + (long)oh * g->out_w;                                       \
          if (ih < 0 || ih >= g->in_h) {                                                           \
            for (int ow = 0; ow < g->out_w; ow++) d[ow] = pad;                                     \
            continue;                                                                              \
          }                                                                                        \
          const TYPE *s = x + ((long)c * g->in_h + ih) * g->in_w + off;                            \
          for (int ow = 0; ow < lo; ow++) d[ow] = pad;                                             \
          if (sw == 1)                                                                             \
            memcpy(d + lo, s + lo, sizeof(TYPE) * (size_t)(hi - lo));                              \
          else                                                                                     \
            for (int ow = lo; ow < hi; ow++) d[ow] = s[(long)ow * sw];                             \
          for (int ow = hi; ow < g->out_w; ow++) d[ow] = pad;                                      \
        }                                                                                          \
      }

void ck_im2col_u8(const uint8_t *x, int channels, const ck_conv_geometry *g, uint8_t pad, uint8_t *col) {
#define TYPE uint8_t
  IM2COL_BODY
#undef TYPE
}
void ck_im2col_u16(const uint16_t *x, int channels, const ck_conv_geometry *g, uint16_t pad, uint16_t *col) {
#define TYPE uint16_t
  IM2COL_BODY
#undef TYPE
}
