#ifndef CK_QGEMM_H
#define CK_QGEMM_H

#include <stdint.h>

#include "ck_isa.h"

/* Integer GEMM for quantized layers:
 *
 *     y[n][m] = clip( s_a · Σ_g s_w[n][g] · Σ_{k∈g} (x[m][k] − z_a) · w[n][k]  +  bias[n] )
 *
 * n: output channel (a weight row), m: output column (a pixel or a token), k: depth.
 * Weights are signed (int8 in [−128, 127] or int4 in [−8, 7]) with one scale per row and group;
 * activations are uint8 with a zero point (symmetric int8 activations are uint8 with z_a = 128).
 * The integer sums are exact (int32); the scaling is a fixed sequence of IEEE operations, so
 * every instruction set produces the same bits as the scalar `_ref` twins. */

enum {
  CK_Q_ROWS = 8,    /* weight rows per packed panel */
  CK_Q_KBLOCK = 8,  /* consecutive k of one row stored together in an int8 panel */
  CK_Q4_KBLOCK = 16,/* int4 panels pair two 8-blocks in one byte: K is padded to 16 */
  CK_Q_COLS = 32,   /* activation columns per packed panel */
};

/// What the epilogue writes.
typedef enum ck_q_output {
  CK_OUT_F32 = 0,
  CK_OUT_F16 = 1, /* IEEE binary16, stored as uint16_t */
  CK_OUT_U8 = 2,  /* requantized: clamp(round(y / s_out) + z_out, 0, 255) */
  CK_OUT_S8 = 3,  /* requantized to [−128, 127] */
  CK_OUT_I32 = 4, /* the raw sum Σ (x − z_a)·w (one group only) */
} ck_q_output;

/// Bytes of one output element.
static inline int ck_q_output_bytes(ck_q_output type) {
  return type == CK_OUT_F32 || type == CK_OUT_I32 ? 4 : type == CK_OUT_F16 ? 2 : 1;
}

/// Where and how results are written: y[n·row_stride + m·col_stride] (elements, not bytes).
typedef struct ck_q_epilogue {
  const float *bias; /* per row, or NULL */
  float clip_lo, clip_hi; /* bounds on the real-valued output; ±INFINITY for none */
  ck_q_output type;
  float out_inv_scale; /* U8/S8 only: 1 / output scale */
  int32_t out_zero;    /* U8/S8 only */
  void *y;
  long row_stride, col_stride;
} ck_q_epilogue;

/// Packed weights of one layer.
///
/// int8 layout: [ceil(n/8)][k_padded/8][8 rows][8 k] bytes.
/// int4 layout: [ceil(n/8)][k_padded/16][64] bytes; byte j of a 16-k block holds
///   (w[r][16b + c] + 8) in its low nibble and (w[r][16b + 8 + c] + 8) in its high nibble, r = j/8, c = j%8.
/// Missing rows and the k beyond `k` are zero weights.
typedef struct ck_q_weights {
  const uint8_t *data;
  int bits;     /* 8 or 4 */
  int n, k;     /* rows and logical depth */
  int k_padded; /* multiple of 8 (int8) or 16 (int4) and of `group` */
  int group;    /* k per scale group; k_padded for one scale per row */
  const float *scales; /* [k_padded / group][n], group-major so a group's rows are contiguous */
  const int32_t *sums; /* [k_padded / group][n]: Σ w over the group */
} ck_q_weights;

_Static_assert(sizeof(void *) != 8 || sizeof(ck_q_weights) == 48, "ck_q_weights layout is mirrored by a Swift test");

/// Activations of one call. GEMM layout: [ceil(m/32)][k_padded/4][32 columns][4 k] (columns past m
/// are padding); GEMV layout: [m][k_padded] (plain rows).
typedef struct ck_q_activations {
  const uint8_t *data;
  int m;
  float scale;
  int32_t zero;
} ck_q_activations;

_Static_assert(sizeof(void *) != 8 || sizeof(ck_q_activations) == 24, "ck_q_activations layout is mirrored by a Swift test");
_Static_assert(sizeof(void *) != 8 || sizeof(ck_q_epilogue) == 56, "ck_q_epilogue layout is mirrored by a Swift test");

/// Bytes of packed weights for `bits` ∈ {4, 8}.
long ck_q_packed_bytes(int bits, int n, int k_padded);

/// Packs row-major weights w[n][k] (row stride `ld`, values already in range) once per layer.
void ck_q_pack_weights(int bits, const int8_t *w, int n, int k, long ld, int k_padded, uint8_t *packed);

/// Bytes of GEMM-packed activations.
long ck_q_packed_activation_bytes(int m, int k_padded);

/// Packs row-major activations x[m][k] (row stride `ld`) into the GEMM layout; depth padding gets `pad`.
void ck_q_pack_rows(const uint8_t *x, int m, int k, long ld, int k_padded, uint8_t pad, uint8_t *packed);

/// Packs column-major activations x[k][m] (the im2col matrix of a convolution, row stride `ld`).
void ck_q_pack_columns(const uint8_t *x, int k, int m, long ld, int k_padded, uint8_t pad, uint8_t *packed);

/// Rows [panel0·8, min(panel1·8, n)) of y for all m columns. `scratch`: ck_q_gemm_scratch_bytes.
typedef void (*ck_q_gemm_fn)(const ck_q_weights *w, const ck_q_activations *x, const ck_q_epilogue *e, int panel0,
                             int panel1, uint8_t *scratch);
long ck_q_gemm_scratch_bytes(const ck_q_weights *w);

void ck_q_gemm_ref(const ck_q_weights *w, const ck_q_activations *x, const ck_q_epilogue *e, int panel0, int panel1,
                   uint8_t *scratch);
ck_q_gemm_fn ck_q_gemm_for(ck_isa isa);

/// Same contract with activations in the GEMV layout: best for m ≤ 4 (a token at a time).
typedef ck_q_gemm_fn ck_q_gemv_fn;
void ck_q_gemv_ref(const ck_q_weights *w, const ck_q_activations *x, const ck_q_epilogue *e, int panel0, int panel1,
                   uint8_t *scratch);
ck_q_gemv_fn ck_q_gemv_for(ck_isa isa);

#endif
