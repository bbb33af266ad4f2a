#ifndef CK_SGEMM_H
#define CK_SGEMM_H

#include "ck_depthwise_f32.h"
#include "ck_isa.h"

/* Single-precision GEMM of our own (the FP32 runtime, the gradients, QAT):
 *
 *     y[r][c] = clip( alpha·(…((w[r][0]·x[0][c]) + w[r][1]·x[1][c]) + …) + beta·y[r][c]
 *                     + bias[r] + column_bias[c] )
 *
 * r: a row of the "row side" (a weight row of a convolution, a row of A), c: a column of the
 * "column side" (an output pixel, a column of B), k: depth. Each sum is one chain of fused
 * multiply-adds in k order and the epilogue a fixed sequence of IEEE operations, so every
 * instruction set produces exactly the scalar `_ref` twin's bits.
 *
 * Row side packed as [ceil(n/8)][k][8]; column side as [ceil(m/32)][k][32]; padding is zero. */

enum {
  CK_S_ROWS = 8,  /* rows per packed panel (broadcast) */
  CK_S_COLS = 32, /* columns per packed panel (two 512-bit vectors) */
};

typedef struct ck_s_epilogue {
  const float *bias;        /* per row, or NULL */
  const float *column_bias; /* per column (absolute column index), or NULL */
  float alpha, beta;        /* beta = 0 never reads y */
  float clip_lo, clip_hi;   /* ±INFINITY for none */
  float *y;
  long row_stride, col_stride;
} ck_s_epilogue;

_Static_assert(sizeof(void *) != 8 || sizeof(ck_s_epilogue) == 56, "ck_s_epilogue layout is mirrored by a Swift test");

long ck_s_packed_rows_floats(int n, int k);
/// Packs rows: element (r, kk) at w[r·row_stride + kk·depth_stride].
void ck_s_pack_rows(const float *w, int n, int k, long row_stride, long depth_stride, float *packed);

long ck_s_packed_columns_floats(int m, int k);
/// Packs columns: element (kk, c) at x[kk·depth_stride + c·col_stride].
void ck_s_pack_columns(const float *x, int k, int m, long depth_stride, long col_stride, float *packed);

/// Packs columns [m0, m0 + count) of the (never materialized) im2col matrix of `channels` input
/// planes x[c][in_h][in_w]: depth kk = (c·k_h + kh)·k_w + kw, column = oh·out_w + ow, zero outside.
void ck_s_pack_conv_columns(const float *x, int channels, const ck_conv_geometry *g, int m0, int count,
                            float *packed);

/// Rows [panel0·8, min(panel1·8, n)) × columns [m0, m0 + count) of y; `x` holds exactly those
/// columns packed (ceil(count/32) panels). The rows `w` are packed when `lda` is 0, else read in
/// place: element (r, kk) at w[r·lda + kk] (a MatMul's activations, never copied).
typedef void (*ck_s_gemm_fn)(const float *w, long lda, int n, int k, const float *x, int m0, int count,
                             const ck_s_epilogue *e, int panel0, int panel1);
void ck_s_gemm_ref(const float *w, long lda, int n, int k, const float *x, int m0, int count, const ck_s_epilogue *e,
                   int panel0, int panel1);
ck_s_gemm_fn ck_s_gemm_for(ck_isa isa);

/// The same product for a few columns read in place (element (kk, c) at x[kk·depth_stride +
/// c·col_stride], c in [m0, m0 + count)): one chain per row and column, 8 rows a vector. For
/// count ≤ 4 (a token at a time, a 1×1 feature map), where a 32-column tile would idle.
typedef void (*ck_s_gemv_fn)(const float *w, int n, int k, const float *x, long depth_stride, long col_stride,
                             int m0, int count, const ck_s_epilogue *e, int panel0, int panel1);
void ck_s_gemv_ref(const float *w, int n, int k, const float *x, long depth_stride, long col_stride, int m0,
                   int count, const ck_s_epilogue *e, int panel0, int panel1);
ck_s_gemv_fn ck_s_gemv_for(ck_isa isa);

/// A convolution whose width stride is 1, its columns read in place (no packing): columns
/// [ow0, ow0 + count) of output row `oh` of `channels` input planes x[c][in_h][in_w], stored at
/// output column oh·out_w + ow. Outside the input reads zero (masked loads), so the sums are the
/// packed path's FMA chains exactly. Depth order (c, kh, kw) as in ck_s_pack_conv_columns.
typedef void (*ck_s_conv_row_fn)(const float *w, int n, const float *x, int channels, const ck_conv_geometry *g,
                                 int oh, int ow0, int count, const ck_s_epilogue *e, int panel0, int panel1);
void ck_s_conv_row_ref(const float *w, int n, const float *x, int channels, const ck_conv_geometry *g, int oh, int ow0,
                       int count, const ck_s_epilogue *e, int panel0, int panel1);
ck_s_conv_row_fn ck_s_conv_row_for(ck_isa isa);

#endif
