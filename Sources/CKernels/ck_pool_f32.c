#include "ck_pool_f32.h"

#include <math.h>

#define CK_AI static inline __attribute__((always_inline))

/* Swift's max: NaN in the running value is replaced by the next tap, as the runtime's loop did. */
CK_AI float max_s(float acc, float v) { return v >= acc ? v : acc; }

/* The output columns [lo, hi) whose every kw tap is inside the row. */
CK_AI void interior(const ck_conv_geometry *g, int *lo, int *hi) {
  const int reach = (g->k_w - 1) * g->dil_w;
  int a = g->pad_left > 0 ? (g->pad_left + g->stride_w - 1) / g->stride_w : 0;
  int b = g->in_w - reach + g->pad_left > 0 ? (g->in_w - reach + g->pad_left - 1) / g->stride_w + 1 : 0;
  if (b > g->out_w) b = g->out_w;
  if (a > b) a = b;
  *lo = a;
  *hi = b;
}

/* y[ow] = y[ow] op x[ow·stride] over [lo, hi). */
CK_AI void tap_row(float *restrict y, const float *restrict x, int lo, int hi, const int stride, const int is_max) {
  if (is_max)
    for (int ow = lo; ow < hi; ow++) y[ow] = max_s(y[ow], x[(long)ow * stride]);
  else
    for (int ow = lo; ow < hi; ow++) y[ow] = y[ow] + x[(long)ow * stride];
}

CK_AI void pool_plane(const float *restrict x, float *restrict y, const ck_conv_geometry *g, const int is_max) {
  int lo, hi;
  interior(g, &lo, &hi);
  for (int oh = 0; oh < g->out_h; oh++) {
    int kh0 = 0, kh1 = g->k_h;
    const int ih0 = oh * g->stride_h - g->pad_top;
    while (kh0 < kh1 && ih0 + kh0 * g->dil_h < 0) kh0++;
    while (kh1 > kh0 && ih0 + (kh1 - 1) * g->dil_h >= g->in_h) kh1--;
    float *yr = y + (long)oh * g->out_w;
    /* Edges: taps checked one by one. */
    for (int ow = 0; ow < g->out_w; ow++) {
      if (ow == lo && hi > lo) ow = hi;
      if (ow >= g->out_w) break;
      float acc = is_max ? -INFINITY : 0.0f;
      int counted = 0;
      const int iw0 = ow * g->stride_w - g->pad_left;
      for (int kh = kh0; kh < kh1; kh++) {
        const float *xr = x + (long)(ih0 + kh * g->dil_h) * g->in_w;
        for (int kw = 0; kw < g->k_w; kw++) {
          const int iw = iw0 + kw * g->dil_w;
          if (iw < 0 || iw >= g->in_w) continue;
          acc = is_max ? max_s(acc, xr[iw]) : acc + xr[iw];
          counted++;
        }
      }
      yr[ow] = is_max ? acc : (counted > 0 ? acc / (float)counted : 0.0f);
    }
    /* Interior: every kw tap inside. The row of outputs is the accumulator and taps are added
     * one at a time across it, in (kh, kw) order per output, so the loops over columns vectorize. */
    if (hi > lo) {
      const int taps = (kh1 - kh0) * g->k_w;
      for (int ow = lo; ow < hi; ow++) yr[ow] = is_max ? -INFINITY : 0.0f;
      for (int kh = kh0; kh < kh1; kh++) {
        const float *xr = x + (long)(ih0 + kh * g->dil_h) * g->in_w - g->pad_left;
        for (int kw = 0; kw < g->k_w; kw++) {
          const float *xt = xr + kw * g->dil_w;
          if (g->stride_w == 1) tap_row(yr, xt, lo, hi, 1, is_max);
          else if (g->stride_w == 2) tap_row(yr, xt, lo, hi, 2, is_max);
          else tap_row(yr, xt, lo, hi, g->stride_w, is_max);
        }
      }
      if (!is_max) {
        const float divisor = (float)taps;
        for (int ow = lo; ow < hi; ow++) yr[ow] = taps > 0 ? yr[ow] / divisor : 0.0f;
      }
    }
  }
}

void ck_pool_f32_ref(const float *x, float *y, const ck_conv_geometry *g, int is_max) { pool_plane(x, y, g, is_max); }

CK_AI void global_rows(const float *restrict x, long rows, long length, float *restrict y, const int is_max) {
  for (long r = 0; r < rows; r++) {
    const float *v = x + r * length;
    float acc[16];
    for (int l = 0; l < 16; l++) acc[l] = is_max ? -INFINITY : 0.0f;
    long j = 0;
    for (; j + 16 <= length; j += 16)
      for (int l = 0; l < 16; l++) acc[l] = is_max ? max_s(acc[l], v[j + l]) : acc[l] + v[j + l];
    for (int l = 0; j + l < length; l++) acc[l] = is_max ? max_s(acc[l], v[j + l]) : acc[l] + v[j + l];
    for (int width = 8; width >= 1; width /= 2)
      for (int l = 0; l < width; l++) acc[l] = is_max ? max_s(acc[l], acc[l + width]) : acc[l] + acc[l + width];
    y[r] = is_max ? acc[0] : acc[0] / (float)(length > 0 ? length : 1);
  }
}

void ck_global_pool_f32_ref(const float *x, long rows, long length, float *y, int is_max) {
  global_rows(x, rows, length, y, is_max);
}

#if defined(__x86_64__)
#define T2 "avx2,fma"
#define T512 "avx2,fma,avx512f,avx512bw,avx512vl"
__attribute__((target(T2))) static void pool_avx2(const float *x, float *y, const ck_conv_geometry *g, int is_max) {
  if (is_max) pool_plane(x, y, g, 1); else pool_plane(x, y, g, 0);
}
__attribute__((target(T512))) static void pool_avx512(const float *x, float *y, const ck_conv_geometry *g, int is_max) {
  if (is_max) pool_plane(x, y, g, 1); else pool_plane(x, y, g, 0);
}
__attribute__((target(T2))) static void global_avx2(const float *x, long rows, long length, float *y, int is_max) {
  if (is_max) global_rows(x, rows, length, y, 1); else global_rows(x, rows, length, y, 0);
}
__attribute__((target(T512))) static void global_avx512(const float *x, long rows, long length, float *y, int is_max) {
  if (is_max) global_rows(x, rows, length, y, 1); else global_rows(x, rows, length, y, 0);
}
#endif

ck_pool_f32_fn ck_pool_f32_for(ck_isa isa) {
  return CK_PICK(isa, pool_avx512, pool_avx2, ck_pool_f32_ref);
}

ck_global_pool_f32_fn ck_global_pool_f32_for(ck_isa isa) {
  return CK_PICK(isa, global_avx512, global_avx2, ck_global_pool_f32_ref);
}
