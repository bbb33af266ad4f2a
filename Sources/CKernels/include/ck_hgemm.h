#ifndef CK_HGEMM_H
#define CK_HGEMM_H

#include <stdint.h>

#include "ck_isa.h"
#include "ck_qgemm.h"

/* Half-precision GEMM: float16 weights and activations in memory, float32 arithmetic:
 *
 *     y[n][m] = clip( (…((w[n][0]·x[m][0]) + w[n][1]·x[m][1]) + …) + bias[n] )
 *
 * each output a chain of fused multiply-adds in k order, so every instruction set produces the
 * scalar twin's bits. Weights are packed once as [ceil(n/8)][k][8] binary16; activations are
 * widened into float32 column panels [ceil(m/32)][k][32] once per call. */

long ck_h_packed_weight_halves(int n, int k);
/// Packs row-major binary16 weights w[n][k] (row stride `ld`).
void ck_h_pack_weights(const uint16_t *w, int n, int k, long ld, uint16_t *packed);

long ck_h_packed_activation_floats(int m, int k);
/// Widens and packs binary16 activations given as x[k][m] (column-major, the im2col matrix).
void ck_h_pack_columns(const uint16_t *x, int k, int m, long ld, float *packed);
/// Widens and packs binary16 activations given as x[m][k] (row-major tokens).
void ck_h_pack_rows(const uint16_t *x, int m, int k, long ld, float *packed);

/// Rows [panel0·8, min(panel1·8, n)) of y. The epilogue's type is CK_OUT_F32 or CK_OUT_F16;
/// scales and zero points are ignored. `scratch`: 8·k floats (one widened weight panel).
typedef void (*ck_h_gemm_fn)(const uint16_t *w, int n, int k, const float *x, int m, const ck_q_epilogue *e,
                             int panel0, int panel1, float *scratch);
void ck_h_gemm_ref(const uint16_t *w, int n, int k, const float *x, int m, const ck_q_epilogue *e, int panel0,
                   int panel1, float *scratch);
ck_h_gemm_fn ck_h_gemm_for(ck_isa isa);

/// Half-precision GEMV for a few activation rows x[m][k] (binary16, row stride `ld`): each output
/// is two FMA chains, over even and over odd k, added at the end (the vector copies keep the two
/// k parities in the two halves of a register):
///
///     y[n][m] = clip( (Σ_{k even} w·x) + (Σ_{k odd} w·x) + bias[n] )
///
/// `scratch`: ck_h_gemv_scratch_floats(k) floats.
typedef void (*ck_h_gemv_fn)(const uint16_t *w, int n, int k, const uint16_t *x, long ld, int m,
                             const ck_q_epilogue *e, int panel0, int panel1, float *scratch);
long ck_h_gemv_scratch_floats(int k);
void ck_h_gemv_ref(const uint16_t *w, int n, int k, const uint16_t *x, long ld, int m, const ck_q_epilogue *e,
                   int panel0, int panel1, float *scratch);
ck_h_gemv_fn ck_h_gemv_for(ck_isa isa);

#endif
