#include "ck_depthwise_f32.h"

/* The body is written once as plain C; each instruction set gets its own compiled copy (the
 * compiler vectorizes the inner row loop for the target it is given). The output row stays in
 * L1 while every tap is added to it. */
static inline __attribute__((always_inline)) void depthwise_plane(const float *restrict x, const float *restrict w,
                                                                  float bias, float *restrict y,
                                                                  const ck_conv_geometry *g) {
  const int ow_n = g->out_w, sw = g->stride_w;
  for (int oh = 0; oh < g->out_h; oh++) {
    float *restrict d = y + (long)oh * ow_n;
    for (int ow = 0; ow < ow_n; ow++) d[ow] = bias;
    for (int kh = 0; kh < g->k_h; kh++) {
      const int ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
      if (ih < 0 || ih >= g->in_h) continue;
      const float *restrict row = x + (long)ih * g->in_w;
      for (int kw = 0; kw < g->k_w; kw++) {
        const float wv = w[kh * g->k_w + kw];
        const int off = kw * g->dil_w - g->pad_left;
        /* valid ow: 0 <= ow*sw + off < in_w */
        int lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
        int hi = g->in_w - off > 0 ? (g->in_w - off - 1) / sw + 1 : 0;
        if (hi > ow_n) hi = ow_n;
        if (lo > hi) lo = hi;
        if (sw == 1) {
          const float *restrict s = row + off;
          for (int ow = lo; ow < hi; ow++) d[ow] += wv * s[ow];
        } else {
          for (int ow = lo; ow < hi; ow++) d[ow] += wv * row[ow * sw + off];
        }
      }
    }
  }
}

void ck_depthwise_f32_ref(const float *x, const float *w, float bias, float *y, const ck_conv_geometry *g) {
  depthwise_plane(x, w, bias, y, g);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void ck_depthwise_f32_avx2(const float *x, const float *w, float bias, float *y,
                                                               const ck_conv_geometry *g) {
  depthwise_plane(x, w, bias, y, g);
}
#else
void ck_depthwise_f32_avx2(const float *x, const float *w, float bias, float *y, const ck_conv_geometry *g) {
  ck_depthwise_f32_ref(x, w, bias, y, g);
}
#endif

ck_depthwise_f32_fn ck_depthwise_f32_for(ck_isa isa) {
  if (isa == CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return ck_depthwise_f32_avx2;
  return ck_depthwise_f32_ref;
}
