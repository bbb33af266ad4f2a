/* Quantized depthwise convolution on top of the float32 depthwise kernel: the plane is widened
 * to (x − z_a) and the taps to float, so every product and partial sum is an integer below 2^24
 * and the float kernel's sums are exact, in whatever order its instruction set adds them. */
#include "ck_depthwise_q8.h"

#include "ck_qgemm_driver.h"

long ck_q_depthwise_scratch_floats(const ck_conv_geometry *g) {
  return (long)g->in_h * g->in_w + (long)g->out_h * g->out_w + ck_depthwise_f32_scratch_floats(g);
}

CK_AI void depthwise_plane(const uint8_t *x, int32_t za, float sa, const int8_t *w, float sw,
                           const ck_conv_geometry *g, const ck_q_epilogue *e, float *scratch,
                           ck_depthwise_f32_fn sums) {
  const long in = (long)g->in_h * g->in_w, out = (long)g->out_h * g->out_w;
  float *xf = scratch, *acc = scratch + in, *rest = acc + out;
  for (long i = 0; i < in; i++) xf[i] = (float)((int32_t)x[i] - za);
  float taps[CK_Q_DEPTHWISE_MAX_TAPS];
  for (int t = 0; t < g->k_h * g->k_w; t++) taps[t] = (float)w[t];
  sums(xf, taps, 0.0f, acc, g, rest);
  for (long i = 0; i < out; i++) acc[i] = sw * acc[i];
  ck_q_epilogue plane = *e;
  plane.row_stride = 0;
  plane.col_stride = 1;
  finish_row(acc, NULL, (int)out, 0, 0, sa, &plane);
}

void ck_q_depthwise_ref(const uint8_t *x, int32_t za, float sa, const int8_t *w, float sw, const ck_conv_geometry *g,
                        const ck_q_epilogue *e, float *scratch) {
  depthwise_plane(x, za, sa, w, sw, g, e, scratch, ck_depthwise_f32_ref);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl"))) static void depthwise_avx512(
    const uint8_t *x, int32_t za, float sa, const int8_t *w, float sw, const ck_conv_geometry *g,
    const ck_q_epilogue *e, float *scratch) {
  depthwise_plane(x, za, sa, w, sw, g, e, scratch, ck_depthwise_f32_for(CK_ISA_AVX512_VNNI));
}
__attribute__((target("avx2,fma,f16c"))) static void depthwise_avx2(const uint8_t *x, int32_t za, float sa,
                                                                     const int8_t *w, float sw,
                                                                     const ck_conv_geometry *g,
                                                                     const ck_q_epilogue *e, float *scratch) {
  depthwise_plane(x, za, sa, w, sw, g, e, scratch, ck_depthwise_f32_avx2);
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
