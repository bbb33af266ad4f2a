/* Quantized depthwise convolution. The input plane is widened once into zero-padded rows of
 * (x − z_a), split by column phase (column i·stride + φ goes to phase φ), so every tap of a
 * block of outputs reads consecutive values whatever the stride. */
#include "ck_depthwise_q8.h"

#include "ck_qgemm_driver.h"

enum { BLOCK = 16 };

typedef struct layout {
  int rows;        /* padded rows */
  int phase_width; /* values per phase of one row */
  int row_width;   /* stride × phase_width */
} layout;

static layout layout_of(const ck_conv_geometry *g) {
  layout l;
  l.rows = (g->out_h - 1) * g->stride_h + (g->k_h - 1) * g->dil_h + 1;
  const int blocks = (g->out_w + BLOCK - 1) / BLOCK;
  l.phase_width = blocks * BLOCK + ((g->k_w - 1) * g->dil_w) / g->stride_w + 1;
  l.row_width = g->stride_w * l.phase_width;
  return l;
}

long ck_q_depthwise_scratch_floats(const ck_conv_geometry *g) {
  const layout l = layout_of(g);
  return (long)l.rows * l.row_width + BLOCK * 2 + g->out_w;
}

CK_AI void depthwise_plane(const uint8_t *x, int32_t za, float sa, const int8_t *w, float sw,
                           const ck_conv_geometry *g, const ck_q_epilogue *e, float *scratch) {
  const layout l = layout_of(g);
  const int s = g->stride_w;
  float *padded = scratch;
  float *f = scratch + (long)l.rows * l.row_width + BLOCK; /* one output row, block-rounded */
  for (int r = 0; r < l.rows; r++) {
    const int ih = r - g->pad_top;
    float *row = padded + (long)r * l.row_width;
    for (int i = 0; i < l.row_width; i++) row[i] = 0.0f;
    if (ih < 0 || ih >= g->in_h) continue;
    const uint8_t *src = x + (long)ih * g->in_w;
    for (int iw = 0; iw < g->in_w; iw++) {
      const int col = iw + g->pad_left; /* padded column */
      if (col >= s * l.phase_width) break;
      row[(col % s) * l.phase_width + col / s] = (float)((int32_t)src[iw] - za);
    }
  }
  float taps[CK_Q_DEPTHWISE_MAX_TAPS];
  for (int t = 0; t < g->k_h * g->k_w; t++) taps[t] = (float)w[t];
  ck_q_epilogue plane = *e;
  plane.row_stride = 0;
  plane.col_stride = 1;
  for (int oh = 0; oh < g->out_h; oh++) {
    for (int ow0 = 0; ow0 < g->out_w; ow0 += BLOCK) {
      float acc[BLOCK];
      for (int j = 0; j < BLOCK; j++) acc[j] = 0.0f;
      for (int kh = 0; kh < g->k_h; kh++) {
        const float *row = padded + (long)(oh * g->stride_h + kh * g->dil_h) * l.row_width;
        for (int kw = 0; kw < g->k_w; kw++) {
          const int t = kw * g->dil_w; /* column offset: (ow·s + t) = (ow + t/s)·s + t%s */
          const float *src = row + (t % s) * l.phase_width + ow0 + t / s;
          const float wv = taps[kh * g->k_w + kw];
          for (int j = 0; j < BLOCK; j++) acc[j] = fmaf(wv, src[j], acc[j]);
        }
      }
      for (int j = 0; j < BLOCK; j++) f[ow0 + j] = sw * acc[j];
    }
    plane.y = (uint8_t *)e->y + (long)oh * g->out_w * ck_q_output_bytes(e->type);
    finish_row(f, NULL, g->out_w, 0, 0, sa, &plane);
  }
}

void ck_q_depthwise_ref(const uint8_t *x, int32_t za, float sa, const int8_t *w, float sw, const ck_conv_geometry *g,
                        const ck_q_epilogue *e, float *scratch) {
  depthwise_plane(x, za, sa, w, sw, g, e, scratch);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl"))) static void depthwise_avx512(
    const uint8_t *x, int32_t za, float sa, const int8_t *w, float sw, const ck_conv_geometry *g,
    const ck_q_epilogue *e, float *scratch) {
  depthwise_plane(x, za, sa, w, sw, g, e, scratch);
}
__attribute__((target("avx2,fma,f16c"))) static void depthwise_avx2(const uint8_t *x, int32_t za, float sa,
                                                                     const int8_t *w, float sw,
                                                                     const ck_conv_geometry *g,
                                                                     const ck_q_epilogue *e, float *scratch) {
  depthwise_plane(x, za, sa, w, sw, g, e, scratch);
}
ck_q_depthwise_fn ck_q_depthwise_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return depthwise_avx512;
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return depthwise_avx2;
  return ck_q_depthwise_ref;
}
#else
ck_q_depthwise_fn ck_q_depthwise_for(ck_isa isa) {
  (void)isa;
  return ck_q_depthwise_ref;
}
#endif
