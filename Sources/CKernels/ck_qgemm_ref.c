/* Scalar twins of the integer GEMM and GEMV: plain loops over the packed layouts. */
#include "ck_qgemm_driver.h"

static void tile_ref(const uint8_t *panel, const uint8_t *columns, int b0, int b1, int32_t *tile) {
  memset(tile, 0, sizeof(int32_t) * CK_Q_ROWS * CK_Q_COLS);
  for (int b = b0; b < b1; b++)
    for (int h = 0; h < 2; h++) {
      const uint8_t *xs = columns + (long)(2 * b + h) * CK_Q_COLS * 4;
      const int8_t *ws = (const int8_t *)panel + (long)b * 64 + h * 4;
      for (int r = 0; r < CK_Q_ROWS; r++)
        for (int c = 0; c < CK_Q_COLS; c++) {
          int32_t s = 0;
          for (int kk = 0; kk < 4; kk++) s += (int32_t)xs[c * 4 + kk] * ws[r * 8 + kk];
          tile[r * CK_Q_COLS + c] += s;
        }
    }
}

static void gemv_tile8_ref(const uint8_t *panels, long panel_stride, int count, const uint8_t *x, int b0, int b1,
                           int32_t *rows) {
  for (int p = 0; p < count; p++)
    for (int r = 0; r < CK_Q_ROWS; r++) {
      int32_t s = 0;
      for (int b = b0; b < b1; b++) {
        const int8_t *w = (const int8_t *)panels + p * panel_stride + (long)b * 64 + r * 8;
        for (int c = 0; c < 8; c++) s += (int32_t)x[b * 8 + c] * w[c];
      }
      rows[p * CK_Q_ROWS + r] = s;
    }
}

static void gemv_tile4_ref(const uint8_t *panels, long panel_stride, int count, const uint8_t *x, int b0, int b1,
                           int32_t *rows) {
  for (int p = 0; p < count; p++)
    for (int r = 0; r < CK_Q_ROWS; r++) {
      int32_t s = 0;
      for (int b = b0; b < b1; b += 2) {
        const uint8_t *w = panels + p * panel_stride + (long)(b / 2) * 64 + r * 8;
        for (int c = 0; c < 8; c++) {
          s += (int32_t)(int8_t)x[b * 8 + c] * (w[c] & 15);
          s += (int32_t)(int8_t)x[b * 8 + 8 + c] * (w[c] >> 4);
        }
      }
      rows[p * CK_Q_ROWS + r] = s;
    }
}

long ck_q_gemm_scratch_bytes(const ck_q_weights *w) {
  const long unpacked = (long)CK_Q_ROWS * w->k_padded;
  const long gemv = w->k_padded + 4L * (w->k_padded / w->group);
  return unpacked > gemv ? unpacked : gemv;
}

void ck_q_gemm_ref(const ck_q_weights *w, const ck_q_activations *x, const ck_q_epilogue *e, int panel0, int panel1,
                   uint8_t *scratch) {
  gemm_driver(w, x, e, panel0, panel1, scratch, tile_ref, NULL);
}

void ck_q_gemv_ref(const ck_q_weights *w, const ck_q_activations *x, const ck_q_epilogue *e, int panel0, int panel1,
                   uint8_t *scratch) {
  gemv_driver(w, x, e, panel0, panel1, scratch, gemv_tile8_ref, gemv_tile4_ref);
}

#if !defined(__x86_64__)
ck_q_gemm_fn ck_q_gemm_for(ck_isa isa) { (void)isa; return ck_q_gemm_ref; }
ck_q_gemv_fn ck_q_gemv_for(ck_isa isa) { (void)isa; return ck_q_gemv_ref; }
#endif
