#include "ck_qgemm.h"

#include <string.h>

#if defined(__x86_64__)
#include <emmintrin.h> /* SSE2: part of the x86-64 baseline, so no run-time dispatch needed */
#endif

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

/* Four source rows of 32 bytes → 32 columns × 4 bytes. */
static void interleave4(const uint8_t *r0, const uint8_t *r1, const uint8_t *r2, const uint8_t *r3, uint8_t *d) {
#if defined(__x86_64__)
  for (int h = 0; h < 2; h++) {
    const __m128i a = _mm_loadu_si128((const __m128i *)(r0 + 16 * h)), b = _mm_loadu_si128((const __m128i *)(r1 + 16 * h));
    const __m128i c = _mm_loadu_si128((const __m128i *)(r2 + 16 * h)), e = _mm_loadu_si128((const __m128i *)(r3 + 16 * h));
    const __m128i ab_lo = _mm_unpacklo_epi8(a, b), ab_hi = _mm_unpackhi_epi8(a, b);
    const __m128i ce_lo = _mm_unpacklo_epi8(c, e), ce_hi = _mm_unpackhi_epi8(c, e);
    _mm_storeu_si128((__m128i *)(d + 64 * h), _mm_unpacklo_epi16(ab_lo, ce_lo));
    _mm_storeu_si128((__m128i *)(d + 64 * h + 16), _mm_unpackhi_epi16(ab_lo, ce_lo));
    _mm_storeu_si128((__m128i *)(d + 64 * h + 32), _mm_unpacklo_epi16(ab_hi, ce_hi));
    _mm_storeu_si128((__m128i *)(d + 64 * h + 48), _mm_unpackhi_epi16(ab_hi, ce_hi));
  }
#else
  for (int col = 0; col < CK_Q_COLS; col++) {
    d[col * 4] = r0[col];
    d[col * 4 + 1] = r1[col];
    d[col * 4 + 2] = r2[col];
    d[col * 4 + 3] = r3[col];
  }
#endif
}

void ck_q_pack_rows(const uint8_t *x, int m, int k, long ld, int k_padded, uint8_t pad, uint8_t *packed) {
  for (int m0 = 0; m0 < m; m0 += CK_Q_COLS) {
    uint8_t *dst = packed + (long)m0 * k_padded;
#if defined(__x86_64__)
    if (m0 + CK_Q_COLS <= m) {
      /* Full panel: 4×4 transposes of 4-byte groups (k/4 whole groups), the rest element-wise. */
      const int whole = k / 16 * 4; /* groups handled four at a time */
      for (int c = 0; c < CK_Q_COLS; c += 4) {
        const uint8_t *s = x + (long)(m0 + c) * ld;
        for (int kb = 0; kb < whole; kb += 4) {
          __m128 r0 = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(s + kb * 4)));
          __m128 r1 = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(s + ld + kb * 4)));
          __m128 r2 = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(s + 2 * ld + kb * 4)));
          __m128 r3 = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(s + 3 * ld + kb * 4)));
          _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
          _mm_storeu_ps((float *)(dst + ((long)kb * CK_Q_COLS + c) * 4), r0);
          _mm_storeu_ps((float *)(dst + ((long)(kb + 1) * CK_Q_COLS + c) * 4), r1);
          _mm_storeu_ps((float *)(dst + ((long)(kb + 2) * CK_Q_COLS + c) * 4), r2);
          _mm_storeu_ps((float *)(dst + ((long)(kb + 3) * CK_Q_COLS + c) * 4), r3);
        }
        for (int kb = whole; kb < k_padded / 4; kb++)
          for (int col = c; col < c + 4; col++)
            for (int kk = 0; kk < 4; kk++) {
              const int kx = kb * 4 + kk;
              dst[(kb * CK_Q_COLS + col) * 4 + kk] = kx < k ? x[(long)(m0 + col) * ld + kx] : pad;
            }
      }
      continue;
    }
#endif
    PACK_PANEL(x[(long)mx * ld + kx])
  }
}

void ck_q_pack_columns(const uint8_t *x, int k, int m, long ld, int k_padded, uint8_t pad, uint8_t *packed) {
  uint8_t padding[CK_Q_COLS];
  memset(padding, pad, sizeof padding);
  for (int m0 = 0; m0 < m; m0 += CK_Q_COLS) {
    uint8_t *dst = packed + (long)m0 * k_padded;
    if (m0 + CK_Q_COLS <= m) {
      for (int kb = 0; kb < k_padded / 4; kb++) {
        const uint8_t *r[4];
        for (int kk = 0; kk < 4; kk++) {
          const int kx = kb * 4 + kk;
          r[kk] = kx < k ? x + (long)kx * ld + m0 : padding;
        }
        interleave4(r[0], r[1], r[2], r[3], dst + (long)kb * CK_Q_COLS * 4);
      }
      continue;
    }
    PACK_PANEL(x[(long)kx * ld + mx])
  }
}
