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

/* Stride-1 rows: each needed input row is copied once into a zero-padded row, after which every
 * output column is "interior". A block of BLOCK outputs then stays in registers while all taps are
 * added; the last block computes BLOCK lanes and stores only the valid ones. */
static inline __attribute__((always_inline)) void depthwise_plane_padded(const float *restrict x,
                                                                         const float *restrict w, float bias,
                                                                         float *restrict y, const ck_conv_geometry *g,
                                                                         float *restrict padded, int pw) {
  const int ow_n = g->out_w;
  for (int ih = 0; ih < g->in_h; ih++) {
    float *restrict r = padded + (long)ih * pw;
    for (int i = 0; i < pw; i++) r[i] = 0;
    for (int i = 0; i < g->in_w; i++) r[g->pad_left + i] = x[(long)ih * g->in_w + i];
  }
  for (int oh = 0; oh < g->out_h; oh++) {
    float *restrict d = y + (long)oh * ow_n;
    for (int ow0 = 0; ow0 < ow_n; ow0 += BLOCK) {
      float acc[BLOCK];
      for (int j = 0; j < BLOCK; j++) acc[j] = bias;
      for (int kh = 0; kh < g->k_h; kh++) {
        const int ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
        if (ih < 0 || ih >= g->in_h) continue;
        const float *restrict row = padded + (long)ih * pw + ow0;
        for (int kw = 0; kw < g->k_w; kw++) {
          const float wv = w[kh * g->k_w + kw];
          const float *restrict s = row + kw * g->dil_w;
          for (int j = 0; j < BLOCK; j++) acc[j] += wv * s[j];
        }
      }
      const int valid = ow_n - ow0 < BLOCK ? ow_n - ow0 : BLOCK;
      for (int j = 0; j < valid; j++) d[ow0 + j] = acc[j];
    }
  }
}

/* Width of a zero-padded row: the reach of the last block's last lane through the widest tap. */
static int padded_width(const ck_conv_geometry *g) {
  const int blocks = (g->out_w + BLOCK - 1) / BLOCK;
  int pw = blocks * BLOCK + (g->k_w - 1) * g->dil_w;
  if (pw < g->pad_left + g->in_w) pw = g->pad_left + g->in_w;
  return pw;
}

long ck_depthwise_f32_scratch_floats(const ck_conv_geometry *g) {
  return g->stride_w == 1 ? (long)padded_width(g) * g->in_h : 0;
}

static inline __attribute__((always_inline)) void depthwise_plane(const float *restrict x, const float *restrict w,
                                                                  float bias, float *restrict y,
                                                                  const ck_conv_geometry *g, float *restrict scratch) {
  if (g->stride_w == 1) {
    depthwise_plane_padded(x, w, bias, y, g, scratch, padded_width(g));
    return;
  }
  for (int oh = 0; oh < g->out_h; oh++) {
    float *restrict d = y + (long)oh * g->out_w;
    for (int ow = 0; ow < g->out_w; ow++) d[ow] = bias;
    taps_into_row(x, w, d, oh, 0, g->out_w, g);
  }
}

void ck_depthwise_f32_ref(const float *x, const float *w, float bias, float *y, const ck_conv_geometry *g,
                          float *scratch) {
  depthwise_plane(x, w, bias, y, g, scratch);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void ck_depthwise_f32_avx2(const float *x, const float *w, float bias, float *y,
                                                               const ck_conv_geometry *g, float *scratch) {
  depthwise_plane(x, w, bias, y, g, scratch);
}
#else
void ck_depthwise_f32_avx2(const float *x, const float *w, float bias, float *y, const ck_conv_geometry *g,
                           float *scratch) {
  ck_depthwise_f32_ref(x, w, bias, y, g, scratch);
}
#endif

ck_depthwise_f32_fn ck_depthwise_f32_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return ck_depthwise_f32_avx2;
  return ck_depthwise_f32_ref;
}
