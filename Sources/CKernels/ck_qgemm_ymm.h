/* 256-bit tile kernels, included once per instruction set by ck_qgemm_x86.c with
 *   YMM_NAME(x)  the function name for this set,   YMM_TARGET  its target string,
 *   YMM_DP(acc, u8, s8)  acc + 4-way dot of unsigned by signed bytes per 32-bit lane. */

/* 8×32 tile in four 4×16 passes (8 accumulators + 4 activation vectors fit 16 registers). */
__attribute__((target(YMM_TARGET))) static void YMM_NAME(tile)(const uint8_t *panel, const uint8_t *columns, int b0,
                                                               int b1, int32_t *tile) {
  for (int r0 = 0; r0 < CK_Q_ROWS; r0 += 4)
    for (int c0 = 0; c0 < CK_Q_COLS; c0 += 16) {
      __m256i acc[4][2];
      for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
      for (int b = b0; b < b1; b++) {
        const uint8_t *xs = columns + (long)b * 256 + c0 * 4;
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)xs);
        const __m256i x1 = _mm256_loadu_si256((const __m256i *)(xs + 32));
        const __m256i x2 = _mm256_loadu_si256((const __m256i *)(xs + 128));
        const __m256i x3 = _mm256_loadu_si256((const __m256i *)(xs + 160));
        const uint8_t *ws = panel + (long)b * 64 + r0 * 8;
        for (int r = 0; r < 4; r++) {
          const __m256i wl = _mm256_set1_epi32(load32(ws + r * 8)), wh = _mm256_set1_epi32(load32(ws + r * 8 + 4));
          acc[r][0] = YMM_DP(acc[r][0], x0, wl);
          acc[r][1] = YMM_DP(acc[r][1], x1, wl);
          acc[r][0] = YMM_DP(acc[r][0], x2, wh);
          acc[r][1] = YMM_DP(acc[r][1], x3, wh);
        }
      }
      for (int r = 0; r < 4; r++) {
        _mm256_storeu_si256((__m256i *)(tile + (r0 + r) * CK_Q_COLS + c0), acc[r][0]);
        _mm256_storeu_si256((__m256i *)(tile + (r0 + r) * CK_Q_COLS + c0 + 8), acc[r][1]);
      }
    }
}

/* Lane l of acc[p][q] holds row 4q + l/2 of panel p, k half l%2; horizontal pair sums put the
 * eight rows in the order r0 r1 r4 r5 | r2 r3 r6 r7, which one 64-bit permute restores. */
__attribute__((target(YMM_TARGET))) static inline __attribute__((always_inline)) void YMM_NAME(gemv_rows)(
    __m256i acc[4][2], int count, int32_t *rows) {
  for (int p = 0; p < count; p++) {
    const __m256i pairs = _mm256_hadd_epi32(acc[p][0], acc[p][1]);
    _mm256_storeu_si256((__m256i *)(rows + p * CK_Q_ROWS), _mm256_permute4x64_epi64(pairs, 0xD8));
  }
}

__attribute__((target(YMM_TARGET))) static inline __attribute__((always_inline)) void YMM_NAME(gemv8_body)(
    const uint8_t *panels, long stride, int count, const uint8_t *x, int b0, int b1, int32_t *rows) {
  __m256i acc[4][2];
  for (int p = 0; p < 4; p++) acc[p][0] = acc[p][1] = _mm256_setzero_si256();
  for (int b = b0; b < b1; b++) {
    const __m256i xv = _mm256_set1_epi64x(load64(x + b * 8));
    for (int p = 0; p < count; p++) {
      const uint8_t *w = panels + p * stride + (long)b * 64;
      acc[p][0] = YMM_DP(acc[p][0], xv, _mm256_loadu_si256((const __m256i *)w));
      acc[p][1] = YMM_DP(acc[p][1], xv, _mm256_loadu_si256((const __m256i *)(w + 32)));
    }
  }
  YMM_NAME(gemv_rows)(acc, count, rows);
}

__attribute__((target(YMM_TARGET))) static void YMM_NAME(gemv_tile8)(const uint8_t *panels, long stride, int count,
                                                                     const uint8_t *x, int b0, int b1, int32_t *rows) {
  if (count == 4)
    YMM_NAME(gemv8_body)(panels, stride, 4, x, b0, b1, rows);
  else
    YMM_NAME(gemv8_body)(panels, stride, count, x, b0, b1, rows);
}

__attribute__((target(YMM_TARGET))) static inline __attribute__((always_inline)) void YMM_NAME(gemv4_body)(
    const uint8_t *panels, long stride, int count, const uint8_t *x, int b0, int b1, int32_t *rows) {
  const __m256i low = _mm256_set1_epi8(15);
  __m256i acc[4][2];
  for (int p = 0; p < 4; p++) acc[p][0] = acc[p][1] = _mm256_setzero_si256();
  for (int b = b0; b < b1; b += 2) {
    const __m256i xa = _mm256_set1_epi64x(load64(x + b * 8)), xb = _mm256_set1_epi64x(load64(x + b * 8 + 8));
    for (int p = 0; p < count; p++) {
      const uint8_t *w = panels + p * stride + (long)(b / 2) * 64;
      for (int q = 0; q < 2; q++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(w + 32 * q));
        acc[p][q] = YMM_DP(acc[p][q], _mm256_and_si256(v, low), xa);
        acc[p][q] = YMM_DP(acc[p][q], _mm256_and_si256(_mm256_srli_epi16(v, 4), low), xb);
      }
    }
  }
  YMM_NAME(gemv_rows)(acc, count, rows);
}

__attribute__((target(YMM_TARGET))) static void YMM_NAME(gemv_tile4)(const uint8_t *panels, long stride, int count,
                                                                     const uint8_t *x, int b0, int b1, int32_t *rows) {
  if (count == 4)
    YMM_NAME(gemv4_body)(panels, stride, 4, x, b0, b1, rows);
  else
    YMM_NAME(gemv4_body)(panels, stride, count, x, b0, b1, rows);
}

__attribute__((target(YMM_TARGET))) void YMM_NAME(ck_q_gemm)(const ck_q_weights *w, const ck_q_activations *x,
                                                             const ck_q_epilogue *e, int panel0, int panel1,
                                                             uint8_t *scratch) {
  gemm_driver(w, x, e, panel0, panel1, scratch, YMM_NAME(tile), NULL);
}

__attribute__((target(YMM_TARGET))) void YMM_NAME(ck_q_gemv)(const ck_q_weights *w, const ck_q_activations *x,
                                                             const ck_q_epilogue *e, int panel0, int panel1,
                                                             uint8_t *scratch) {
  gemv_driver(w, x, e, panel0, panel1, scratch, YMM_NAME(gemv_tile8), YMM_NAME(gemv_tile4));
}
