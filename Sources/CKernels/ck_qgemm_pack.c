#include "ck_qgemm.h"

#include <string.h>

static int panels(int n) { return (n + CK_Q_ROWS - 1) / CK_Q_ROWS; }

long ck_q_packed_bytes(int bits, int n, int k_padded) {
  return (long)panels(n) * CK_Q_ROWS * k_padded * bits / 8;
}

long ck_q_packed_activation_bytes(int m, int k_padded) {
  return (long)((m + CK_Q_COLS - 1) / CK_Q_COLS) * CK_Q_COLS * k_padded;
}

static int8_t weight_at(const int8_t *w, int n, int k, long ld, int r, int c) {
  return (r < n && c < k) ? w[(long)r * ld + c] : 0;
}

void ck_q_pack_weights(int bits, const int8_t *w, int n, int k, long ld, int k_padded, uint8_t *packed) {
  const int np = panels(n);
  if (bits == 8) {
    const int blocks = k_padded / CK_Q_KBLOCK;
    for (int p = 0; p < np; p++)
      for (int b = 0; b < blocks; b++)
        for (int r = 0; r < CK_Q_ROWS; r++)
          for (int c = 0; c < CK_Q_KBLOCK; c++)
            packed[(((long)p * blocks + b) * CK_Q_ROWS + r) * CK_Q_KBLOCK + c] =
                (uint8_t)weight_at(w, n, k, ld, p * CK_Q_ROWS + r, b * CK_Q_KBLOCK + c);
    return;
  }
  const int blocks = k_padded / CK_Q4_KBLOCK;
  for (int p = 0; p < np; p++)
    for (int b = 0; b < blocks; b++)
      for (int j = 0; j < 64; j++) {
        const int r = p * CK_Q_ROWS + j / 8, c = b * CK_Q4_KBLOCK + j % 8;
        const int lo = weight_at(w, n, k, ld, r, c) + 8, hi = weight_at(w, n, k, ld, r, c + 8) + 8;
        packed[((long)p * blocks + b) * 64 + j] = (uint8_t)((lo & 15) | (hi << 4));
      }
}

/* One 32-column panel: dst[k/4][col][k%4]. `at(col, k)` reads the source. */
#define PACK_PANEL(at)                                                                             \
  for (int kb = 0; kb < k_padded / 4; kb++)                                                        \
    for (int col = 0; col < CK_Q_COLS; col++)                                                      \
      for (int kk = 0; kk < 4; kk++) {                                                             \
        const int kx = kb * 4 + kk, mx = m0 + col;                                                 \
        dst[(kb * CK_Q_COLS + col) * 4 + kk] = (kx < k && mx < m) ? (at) : pad;                    \
      }

void ck_q_pack_rows(const uint8_t *x, int m, int k, long ld, int k_padded, uint8_t pad, uint8_t *packed) {
  for (int m0 = 0; m0 < m; m0 += CK_Q_COLS) {
    uint8_t *dst = packed + (long)m0 * k_padded;
    PACK_PANEL(x[(long)mx * ld + kx])
  }
}

void ck_q_pack_columns(const uint8_t *x, int k, int m, long ld, int k_padded, uint8_t pad, uint8_t *packed) {
  for (int m0 = 0; m0 < m; m0 += CK_Q_COLS) {
    uint8_t *dst = packed + (long)m0 * k_padded;
    if (m0 + CK_Q_COLS <= m) {
      /* Full panel: four source rows interleaved byte by byte. */
      for (int kb = 0; kb < k_padded / 4; kb++) {
        uint8_t *d = dst + (long)kb * CK_Q_COLS * 4;
        for (int kk = 0; kk < 4; kk++) {
          const int kx = kb * 4 + kk;
          if (kx < k) {
            const uint8_t *s = x + (long)kx * ld + m0;
            for (int col = 0; col < CK_Q_COLS; col++) d[col * 4 + kk] = s[col];
          } else {
            for (int col = 0; col < CK_Q_COLS; col++) d[col * 4 + kk] = pad;
          }
        }
      }
      continue;
    }
    PACK_PANEL(x[(long)kx * ld + mx])
  }
}
