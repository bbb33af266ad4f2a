#include "ck_depthwise_f32.h"

/* The body is written once as plain C; each instruction set gets its own compiled copy (the
 * compiler vectorizes the fixed-width loops for the target it is given). */

/* Adds every tap of output row `oh` to d[c0..c1): one pass over the row per tap. Used for the
 * border columns, strided convolutions and tails. */
static inline __attribute__((always_inline)) void taps_into_row(const float *restrict x, const float *restrict w,
                                                                float *restrict d, int oh, int c0, int c1,
                                                                const ck_conv_geometry *g) {
  const int sw = g->stride_w;
  for (int kh = 0; kh < g->k_h; kh++) {
    const int ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
    if (ih < 0 || ih >= g->in_h) continue;
    const float *restrict row = x + (long)ih * g->in_w;
    for (int kw = 0; kw < g->k_w; kw++) {
      const float wv = w[kh * g->k_w + kw];
      const int off = kw * g->dil_w - g->pad_left;
      /* valid ow: 0 <= ow*sw + off < in_w, intersected with [c0, c1) */
      int lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
      int hi = g->in_w - off > 0 ? (g->in_w - off - 1) / sw + 1 : 0;
      if (lo < c0) lo = c0;
      if (hi > c1) hi = c1;
      if (sw == 1) {
        const float *restrict s = row + off;
        for (int ow = lo; ow < hi; ow++) d[ow] += wv * s[ow];
      } else {
        for (int ow = lo; ow < hi; ow++) d[ow] += wv * row[ow * sw + off];
      }
    }
  }
}

enum { BLOCK = 16 };

static inline __attribute__((always_inline)) void depthwise_plane(const float *restrict x, const float *restrict w,
                                                                  float bias, float *restrict y,
                                                                  const ck_conv_geometry *g) {
  const int ow_n = g->out_w;
  /* Interior columns (stride 1): every horizontal tap is inside the row. There a block of
   * BLOCK outputs stays in registers while all taps are added, instead of one pass per tap. */
  int in_lo = 0, in_hi = 0;
  if (g->stride_w == 1) {
    in_lo = g->pad_left;
    in_hi = g->in_w - ((g->k_w - 1) * g->dil_w - g->pad_left);
    if (in_hi > ow_n) in_hi = ow_n;
    if (in_lo > in_hi) in_lo = in_hi;
  }
  const int blocks_end = in_lo + (in_hi - in_lo) / BLOCK * BLOCK;
  for (int oh = 0; oh < g->out_h; oh++) {
    float *restrict d = y + (long)oh * ow_n;
    for (int ow = 0; ow < ow_n; ow++) d[ow] = bias;
    for (int ow0 = in_lo; ow0 < blocks_end; ow0 += BLOCK) {
      float acc[BLOCK];
      for (int j = 0; j < BLOCK; j++) acc[j] = bias;
      for (int kh = 0; kh < g->k_h; kh++) {
        const int ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
        if (ih < 0 || ih >= g->in_h) continue;
        const float *restrict row = x + (long)ih * g->in_w + ow0 - g->pad_left;
        for (int kw = 0; kw < g->k_w; kw++) {
          const float wv = w[kh * g->k_w + kw];
          const float *restrict s = row + kw * g->dil_w;
          for (int j = 0; j < BLOCK; j++) acc[j] += wv * s[j];
        }
      }
      for (int j = 0; j < BLOCK; j++) d[ow0 + j] = acc[j];
    }
    taps_into_row(x, w, d, oh, 0, in_lo, g);
    taps_into_row(x, w, d, oh, blocks_end, ow_n, g);
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
