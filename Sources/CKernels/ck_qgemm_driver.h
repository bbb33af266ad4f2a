/* The parts of the integer GEMM every instruction set shares: the epilogue and the loops around
 * the tile kernels. Included once per instruction set; each copy is compiled for its target and
 * handed that target's tile functions, so the compiler vectorizes these loops for it. */
#ifndef CK_QGEMM_DRIVER_H
#define CK_QGEMM_DRIVER_H

#include <math.h>
#include <string.h>

#include "ck_qgemm.h"

#define CK_AI static inline __attribute__((always_inline))

/* max/min exactly as the SIMD instructions define them (the second operand unless the first is
 * greater/less), so the scalar and vector clips agree bit for bit, signed zeros included. */
#define CK_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CK_MIN(a, b) ((a) < (b) ? (a) : (b))

/* Integer sums of one 8-row panel over k blocks [b0, b1) (8 k each) for 32 columns:
 * tile[r·32 + c] = Σ x·w (raw, zero point not yet removed). */
typedef void (*ck_q_tile_fn)(const uint8_t *panel, const uint8_t *columns, int b0, int b1, int32_t *tile);
/* A full 8×32 tile over all k with one scale per row, finished in registers and written to a
 * contiguous F32/U8/S8/I32 output (the common case; the generic path handles the rest). */
typedef void (*ck_q_tile_finish_fn)(const uint8_t *panel, const uint8_t *columns, int blocks, int n0, int m0,
                                    const ck_q_weights *w, const ck_q_activations *x, const ck_q_epilogue *e);
/* GEMV sums of `count` (≤ 4) panels over k blocks [b0, b1) (8 k each): rows[p·8 + r] = Σ x·w for
 * int8 panels, Σ (x − 128)·(w + 8) for int4 panels (x given as x − 128). */
typedef void (*ck_q_gemv_tile_fn)(const uint8_t *panels, long panel_stride, int count, const uint8_t *x, int b0,
                                  int b1, int32_t *rows);

/* s = Σ_g s_w·(acc_g − z_a·Σw_g) accumulated group by group, one fma per group, in group order. */
CK_AI void accumulate_group(const int32_t *acc, float *f, int count, int32_t za, int32_t wsum, float sw, int first) {
  const int32_t shift = za * wsum;
  if (first)
    for (int c = 0; c < count; c++) f[c] = sw * (float)(acc[c] - shift);
  else
    for (int c = 0; c < count; c++) f[c] = fmaf(sw, (float)(acc[c] - shift), f[c]);
}

/* Writes `count` real values y (already clipped), or the raw sums, as the output type to
 * out[base + i·stride]. */
CK_AI void store_outputs(const float *y, const int32_t *raw, int count, long base, long stride,
                         const ck_q_epilogue *e) {
  switch (e->type) {
  case CK_OUT_I32: {
    int32_t *out = (int32_t *)e->y + base;
    for (int c = 0; c < count; c++) out[c * stride] = raw[c];
    return;
  }
  case CK_OUT_F32: {
    float *out = (float *)e->y + base;
    if (stride == 1)
      for (int c = 0; c < count; c++) out[c] = y[c];
    else
      for (int c = 0; c < count; c++) out[c * stride] = y[c];
    return;
  }
  case CK_OUT_F16: {
    _Float16 *out = (_Float16 *)e->y + base;
    for (int c = 0; c < count; c++) out[c * stride] = (_Float16)y[c];
    return;
  }
  case CK_OUT_U8:
  case CK_OUT_S8: {
    const int32_t qmin = e->type == CK_OUT_U8 ? 0 : -128, qmax = e->type == CK_OUT_U8 ? 255 : 127;
    const float lo = (float)(qmin - e->out_zero), hi = (float)(qmax - e->out_zero);
    for (int c = 0; c < count; c++) {
      const float t = y[c] * e->out_inv_scale;
      const int32_t q = (int32_t)nearbyintf(CK_MIN(CK_MAX(t, lo), hi)) + e->out_zero;
      if (e->type == CK_OUT_U8)
        ((uint8_t *)e->y)[base + c * stride] = (uint8_t)q;
      else
        ((int8_t *)e->y)[base + c * stride] = (int8_t)q;
    }
    return;
  }
  }
}

/* y = clip(f·s_a + bias[n]) for `count` columns of row n, converted to the output type. */
CK_AI void finish_row(const float *f, const int32_t *raw, int count, int n, int m0, float sa,
                      const ck_q_epilogue *e) {
  const float bias = e->bias ? e->bias[n] : 0.0f;
  float y[CK_Q_COLS];
  for (int c0 = 0; c0 < count; c0 += CK_Q_COLS) {
    const int part = count - c0 < CK_Q_COLS ? count - c0 : CK_Q_COLS;
    for (int c = 0; c < part; c++) y[c] = CK_MIN(CK_MAX(fmaf(f[c0 + c], sa, bias), e->clip_lo), e->clip_hi);
    store_outputs(y, raw ? raw + c0 : NULL, part, (long)n * e->row_stride + (long)(m0 + c0) * e->col_stride,
                  e->col_stride, e);
  }
}

/* The same for `rows` (≤ 32) consecutive rows n0… of one column m (the GEMV's output). */
CK_AI void finish_column(const float *f, const int32_t *raw, int rows, int n0, int m, float sa,
                         const ck_q_epilogue *e) {
  float y[4 * CK_Q_ROWS];
  if (e->bias)
    for (int r = 0; r < rows; r++) y[r] = CK_MIN(CK_MAX(fmaf(f[r], sa, e->bias[n0 + r]), e->clip_lo), e->clip_hi);
  else
    for (int r = 0; r < rows; r++) y[r] = CK_MIN(CK_MAX(fmaf(f[r], sa, 0.0f), e->clip_lo), e->clip_hi);
  store_outputs(y, raw, rows, (long)n0 * e->row_stride + (long)m * e->col_stride, e->row_stride, e);
}

/* Expands one int4 panel into the int8 panel layout (values w = nibble − 8). */
CK_AI void unpack_int4_panel(const uint8_t *src, int k_padded, uint8_t *dst) {
  for (int b = 0; b < k_padded / CK_Q4_KBLOCK; b++) {
    const uint8_t *s = src + (long)b * 64;
    uint8_t *lo = dst + (long)b * 128, *hi = lo + 64;
    for (int j = 0; j < 64; j++) {
      lo[j] = (uint8_t)((s[j] & 15) - 8);
      hi[j] = (uint8_t)((s[j] >> 4) - 8);
    }
  }
}

/* One 8-row panel (int8 layout) times one 32-column panel, finished into y. */
CK_AI void gemm_block(const ck_q_weights *w, const ck_q_activations *x, const ck_q_epilogue *e, int p,
                      const uint8_t *panel, int m0, int fast, ck_q_tile_fn tile, ck_q_tile_finish_fn tile_finish) {
  const int groups = w->k_padded / w->group, blocks_per_group = w->group / CK_Q_KBLOCK;
  const uint8_t *columns = x->data + (long)(m0 / CK_Q_COLS) * CK_Q_COLS * w->k_padded;
  const int rows = w->n - p * CK_Q_ROWS < CK_Q_ROWS ? w->n - p * CK_Q_ROWS : CK_Q_ROWS;
  const int count = x->m - m0 < CK_Q_COLS ? x->m - m0 : CK_Q_COLS;
  if (fast && count == CK_Q_COLS && rows == CK_Q_ROWS) {
    tile_finish(panel, columns, w->k_padded / CK_Q_KBLOCK, p * CK_Q_ROWS, m0, w, x, e);
    return;
  }
  int32_t acc[CK_Q_ROWS * CK_Q_COLS];
  float f[CK_Q_ROWS * CK_Q_COLS];
  for (int g = 0; g < groups; g++) {
    tile(panel, columns, g * blocks_per_group, (g + 1) * blocks_per_group, acc);
    for (int r = 0; r < rows; r++) {
      const long i = (long)g * w->n + p * CK_Q_ROWS + r;
      accumulate_group(acc + r * CK_Q_COLS, f + r * CK_Q_COLS, count, x->zero, w->sums[i], w->scales[i], g == 0);
    }
  }
  for (int r = 0; r < rows; r++) {
    /* Raw sums: acc holds the only group; remove the zero point in place. */
    if (e->type == CK_OUT_I32)
      for (int c = 0; c < count; c++) acc[r * CK_Q_COLS + c] -= x->zero * w->sums[p * CK_Q_ROWS + r];
    finish_row(f + r * CK_Q_COLS, acc + r * CK_Q_COLS, count, p * CK_Q_ROWS + r, m0, x->scale, e);
  }
}

/* int8 weights: column panels outside, so one activation panel (32 × k bytes) stays in L1 while
 * the weight panels stream past it; int4 weights: weight panels outside, each expanded once. */
CK_AI void gemm_driver(const ck_q_weights *w, const ck_q_activations *x, const ck_q_epilogue *e, int panel0,
                       int panel1, uint8_t *scratch, ck_q_tile_fn tile, ck_q_tile_finish_fn tile_finish) {
  const int fast = tile_finish && w->group == w->k_padded && e->col_stride == 1 &&
                   (e->type == CK_OUT_F32 || e->type == CK_OUT_U8 || e->type == CK_OUT_S8 || e->type == CK_OUT_I32);
  const long panel_bytes = (long)CK_Q_ROWS * w->k_padded * w->bits / 8;
  if (w->bits == 8) {
    for (int m0 = 0; m0 < x->m; m0 += CK_Q_COLS)
      for (int p = panel0; p < panel1; p++) gemm_block(w, x, e, p, w->data + p * panel_bytes, m0, fast, tile, tile_finish);
    return;
  }
  for (int p = panel0; p < panel1; p++) {
    unpack_int4_panel(w->data + p * panel_bytes, w->k_padded, scratch);
    for (int m0 = 0; m0 < x->m; m0 += CK_Q_COLS) gemm_block(w, x, e, p, scratch, m0, fast, tile, tile_finish);
  }
}

CK_AI void to_signed(const uint8_t *restrict x, uint8_t *restrict xs, int count) {
  for (int k = 0; k < count; k++) xs[k] = x[k] ^ 0x80;
}

CK_AI int32_t sum_signed(const uint8_t *restrict xs, int count) {
  int32_t s = 0;
  for (int k = 0; k < count; k++) s += (int8_t)xs[k];
  return s;
}

/* GEMV: for each activation row, panels four at a time; int4 activations are turned into
 * x − 128 (signed) with per-group sums so the nibble kernels can use unsigned weights. */
CK_AI void gemv_driver(const ck_q_weights *w, const ck_q_activations *x, const ck_q_epilogue *e, int panel0,
                       int panel1, uint8_t *scratch, ck_q_gemv_tile_fn tile8, ck_q_gemv_tile_fn tile4) {
  const ck_q_gemv_tile_fn tile = w->bits == 4 ? tile4 : tile8;
  const int groups = w->k_padded / w->group, blocks_per_group = w->group / CK_Q_KBLOCK;
  const long panel_bytes = (long)CK_Q_ROWS * w->k_padded * w->bits / 8;
  int32_t acc[4 * CK_Q_ROWS];
  float f[4 * CK_Q_ROWS];
  int32_t *xsum = (int32_t *)scratch;
  uint8_t *xs = scratch + 4 * (long)groups;
  for (int m = 0; m < x->m; m++) {
    const uint8_t *row = x->data + (long)m * w->k_padded;
    int32_t zero = x->zero;
    if (w->bits == 4) {
      to_signed(row, xs, w->k_padded);
      for (int g = 0; g < groups; g++) xsum[g] = sum_signed(xs + (long)g * w->group, w->group);
      row = xs;
    }
    for (int p = panel0; p < panel1; p += 4) {
      const int count = panel1 - p < 4 ? panel1 - p : 4;
      const int rows = w->n - p * CK_Q_ROWS < count * CK_Q_ROWS ? w->n - p * CK_Q_ROWS : count * CK_Q_ROWS;
      for (int g = 0; g < groups; g++) {
        tile(w->data + p * panel_bytes, panel_bytes, count, row, g * blocks_per_group, (g + 1) * blocks_per_group, acc);
        const int32_t *sums = w->sums + (long)g * w->n + p * CK_Q_ROWS;
        const float *scales = w->scales + (long)g * w->n + p * CK_Q_ROWS;
        /* int4 sums are Σ(w+8)(x−128); Σ(w+8)(x−128) − 8·Σ(x−128) + 128·Σw = Σ w·x. */
        if (w->bits == 4)
          for (int r = 0; r < rows; r++) acc[r] += 128 * sums[r] - 8 * xsum[g];
        if (g == 0)
          for (int r = 0; r < rows; r++) f[r] = scales[r] * (float)(acc[r] - zero * sums[r]);
        else
          for (int r = 0; r < rows; r++) f[r] = fmaf(scales[r], (float)(acc[r] - zero * sums[r]), f[r]);
      }
      if (e->type == CK_OUT_I32)
        for (int r = 0; r < rows; r++) acc[r] -= zero * w->sums[p * CK_Q_ROWS + r];
      finish_column(f, acc, rows, p * CK_Q_ROWS, m, x->scale, e);
    }
  }
}

#endif
