#include "ck_depthwise_f32.h"


/* Each output one FMA chain: the scalar twin in plain C over blocks of 64 output columns, AVX2
 * the same blocks with the chains in registers, AVX-512 two output rows of up to 128 columns at
 * a time. */

#include <math.h>
#include <string.h>

/* Output columns per block: 64 lanes are 4 zmm or 8 ymm independent FMA chains. */
enum { BLOCK = 64, MAX_KW = 64, MAX_ROWS = 4 };

/* Scratch holds each input row zero-padded and split into `stride_w` phase rows: phase p keeps
 * padded columns p, p + sw, p + 2·sw, …, so every tap of a block reads one contiguous run
 * whatever the stride. A phase row reaches the last block's last lane through the widest tap:
 * blocks of `block` columns (BLOCK for the one-row sums, a 16-lane vector for the AVX-512 rows,
 * so a 7- or 14-column plane does not fill and gather 64-column rows). */
static long phase_width_for(const ck_conv_geometry *g, long block) {
  const long blocks = (g->out_w + block - 1) / block;
  return blocks * block + ((long)(g->k_w - 1) * g->dil_w) / g->stride_w + 1;
}
static long phase_width(const ck_conv_geometry *g) { return phase_width_for(g, BLOCK); }

long ck_depthwise_f32_scratch_floats(const ck_conv_geometry *g) {
  return (long)g->in_h * g->stride_w * phase_width(g);
}

/* Each output is one chain of fused multiply-adds, bias first, taps in (kh, kw) order (rows
 * outside the input skipped), so every instruction set gives the scalar twin's bits. */
#define DEPTHWISE_PLANE(NAME, BLOCK_SUMS)                                                          \
  static inline __attribute__((always_inline)) void NAME(const float *restrict x, const float *restrict w, float bias, \
                                                         float *restrict y, const ck_conv_geometry *g,                 \
                                                         float *restrict scratch) {                                    \
    const long pw = phase_width(g);                                                                \
    fill_phases(x, g, pw, scratch, NULL);                                                          \
    const int sw = g->stride_w;                                                                    \
    long offsets[MAX_KW]; /* tap kw's run within an input row's phase rows (no division per tap) */ \
    for (int kw = 0; kw < g->k_w && kw < MAX_KW; kw++)                                             \
      offsets[kw] = (long)(kw * g->dil_w % sw) * pw + kw * g->dil_w / sw;                          \
    for (int oh = 0; oh < g->out_h; oh++) {                                                        \
      float *restrict d = y + (long)oh * g->out_w;                                                 \
      for (int ow0 = 0; ow0 < g->out_w; ow0 += BLOCK) {                                            \
        const int valid = g->out_w - ow0 < BLOCK ? g->out_w - ow0 : BLOCK;                         \
        BLOCK_SUMS(w, bias, g, scratch, sw, pw, offsets, oh, ow0, d + ow0, valid);                 \
      }                                                                                            \
    }                                                                                              \
  }

/* The two phase rows r[0, pw) and r[pw, 2·pw) of input row `src` (in_w floats) for width
 * stride 2: r[p·pw + i] = src[2i + p − pad_left], 0 outside the row. */
typedef void (*split2_fn)(const float *restrict src, int in_w, int pad_left, long pw, float *restrict r);

static inline __attribute__((always_inline)) void fill_phases(const float *restrict x, const ck_conv_geometry *g,
                                                              long pw, float *restrict scratch, split2_fn split2) {
  const int sw = g->stride_w;
  for (int ih = 0; ih < g->in_h; ih++) {
    const float *src = x + (long)ih * g->in_w;
    if (sw == 1) {
      /* zeros only where the row is not copied */
      float *restrict r = scratch + (long)ih * pw;
      const long left = g->pad_left < pw ? g->pad_left : pw;
      const long n = g->in_w < pw - left ? g->in_w : pw - left;
      memset(r, 0, sizeof(float) * (size_t)left);
      if (n > 0) memcpy(r + left, src, sizeof(float) * (size_t)n);
      const long end = left + (n > 0 ? n : 0);
      memset(r + end, 0, sizeof(float) * (size_t)(pw - end));
      continue;
    }
    /* strided: the padded row once (in the last phase row's place would overlap, so in the
     * first `sw` rows' tail: pw·sw floats), then each phase gathers every sw-th column */
    float *restrict r0 = scratch + (long)ih * sw * pw;
    if (sw == 2 && split2) {
      split2(src, g->in_w, g->pad_left, pw, r0);
      continue;
    }
    float padded[1024];
    const long total = pw * sw;
    if (total > 1024) { /* wide rows: gather with bounds checks */
      for (int p = 0; p < sw; p++)
        for (long i = 0; i < pw; i++) {
          const long col = i * sw + p - g->pad_left;
          r0[p * pw + i] = col >= 0 && col < g->in_w ? src[col] : 0.0f;
        }
      continue;
    }
    memset(padded, 0, sizeof(float) * (size_t)total);
    const long n = g->in_w < total - g->pad_left ? g->in_w : total - g->pad_left;
    if (n > 0) memcpy(padded + g->pad_left, src, sizeof(float) * (size_t)n);
    for (int p = 0; p < sw; p++)
#pragma clang loop vectorize(disable) /* a strided gather is slower than plain loads */
      for (long i = 0; i < pw; i++) r0[p * pw + i] = padded[i * sw + p];
  }
}

/* acc[j] for output columns ow0 + j of row oh: one FMA chain per output. */
static inline __attribute__((always_inline)) void sums_ref(const float *restrict w, float bias,
                                                           const ck_conv_geometry *g, const float *restrict scratch,
                                                           int sw, long pw, const long *offsets, int oh, int ow0, float *restrict out, int valid) {
  float acc[BLOCK];
  for (int j = 0; j < BLOCK; j++) acc[j] = bias;
  for (int kh = 0; kh < g->k_h; kh++) {
    const int ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
    if (ih < 0 || ih >= g->in_h) continue;
    for (int kw = 0; kw < g->k_w; kw++) {
      const float wv = w[kh * g->k_w + kw];
      const float *restrict s = scratch + (long)ih * sw * pw + offsets[kw] + ow0;
      for (int j = 0; j < BLOCK; j++) acc[j] = fmaf(wv, s[j], acc[j]);
    }
  }
  for (int j = 0; j < valid; j++) out[j] = acc[j];
}

DEPTHWISE_PLANE(depthwise_plane, sums_ref)

#if defined(__x86_64__)
#include <immintrin.h>

/* 16 columns of both phases from 32 input floats at a time (lanes outside the row load as 0,
 * two permutes split them), straight from the input: no padded copy to read back. */
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl"))) static inline __mmask16 row_lanes(long c, int in_w) {
  unsigned m = 0;
  for (int l = 0; l < 16; l++) m |= (unsigned)(c + l >= 0 && c + l < in_w) << l;
  return (__mmask16)m;
}
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl"))) static void split2_avx512(
    const float *restrict src, int in_w, int pad_left, long pw, float *restrict r) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (long i = 0; i < pw; i += 16) {
    const long c = 2 * i - pad_left; /* input column of lane 0 */
    const int inside = c >= 0 && c + 32 <= in_w;
    const __m512 a = inside ? _mm512_loadu_ps(src + c) : _mm512_maskz_loadu_ps(row_lanes(c, in_w), src + c);
    const __m512 b = inside ? _mm512_loadu_ps(src + c + 16) : _mm512_maskz_loadu_ps(row_lanes(c + 16, in_w), src + c + 16);
    const __mmask16 m = pw - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (pw - i)) - 1);
    _mm512_mask_storeu_ps(r + i, m, _mm512_permutex2var_ps(a, even, b));
    _mm512_mask_storeu_ps(r + pw + i, m, _mm512_permutex2var_ps(a, odd, b));
  }
}

/* Straight from the registers; the last block stores its valid lanes only. */
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) void
store_valid512(const __m512 *a, const int nv, float *restrict out, int valid) {
  for (int i = 0; i < nv; i++) {
    const int n = valid - 16 * i;
    if (n >= 16)
      _mm512_storeu_ps(out + 16 * i, a[i]);
    else if (n > 0)
      _mm512_mask_storeu_ps(out + 16 * i, (__mmask16)((1u << n) - 1), a[i]);
  }
}

/* The same chains in up to four zmm accumulators: only the vectors holding valid columns run. */
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) void
sums512_n(const float *restrict w, float bias, const ck_conv_geometry *g, const float *restrict scratch, int sw,
          long pw, const long *offsets, int oh, int ow0, float *restrict out, int valid, const int nv) {
  __m512 a[4];
  for (int i = 0; i < nv; i++) a[i] = _mm512_set1_ps(bias);
  for (int kh = 0; kh < g->k_h; kh++) {
    const int ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
    if (ih < 0 || ih >= g->in_h) continue;
    for (int kw = 0; kw < g->k_w; kw++) {
      const __m512 wv = _mm512_set1_ps(w[kh * g->k_w + kw]);
      const float *s = scratch + (long)ih * sw * pw + offsets[kw] + ow0;
      for (int i = 0; i < nv; i++) a[i] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(s + 16 * i), a[i]);
    }
  }
  store_valid512(a, nv, out, valid);
}

__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) void
sums_avx512(const float *restrict w, float bias, const ck_conv_geometry *g, const float *restrict scratch, int sw,
            long pw, const long *offsets, int oh, int ow0, float *restrict out, int valid) {
  switch ((valid + 15) / 16) {
  case 1: sums512_n(w, bias, g, scratch, sw, pw, offsets, oh, ow0, out, valid, 1); break;
  case 2: sums512_n(w, bias, g, scratch, sw, pw, offsets, oh, ow0, out, valid, 2); break;
  case 3: sums512_n(w, bias, g, scratch, sw, pw, offsets, oh, ow0, out, valid, 3); break;
  default: sums512_n(w, bias, g, scratch, sw, pw, offsets, oh, ow0, out, valid, 4); break;
  }
}

/* Eight ymm accumulators. */
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void sums_avx2(
    const float *restrict w, float bias, const ck_conv_geometry *g, const float *restrict scratch, int sw, long pw,
    const long *offsets, int oh, int ow0, float *restrict out, int valid) {
  __m256 a[8];
  for (int i = 0; i < 8; i++) a[i] = _mm256_set1_ps(bias);
  for (int kh = 0; kh < g->k_h; kh++) {
    const int ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
    if (ih < 0 || ih >= g->in_h) continue;
    for (int kw = 0; kw < g->k_w; kw++) {
      const __m256 wv = _mm256_set1_ps(w[kh * g->k_w + kw]);
      const float *s = scratch + (long)ih * sw * pw + offsets[kw] + ow0;
      for (int i = 0; i < 8; i++) a[i] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(s + 8 * i), a[i]);
    }
  }
  for (int i = 0; i < 8; i++) {
    const int n = valid - 8 * i;
    if (n >= 8) {
      _mm256_storeu_ps(out + 8 * i, a[i]);
    } else if (n > 0) {
      const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      _mm256_maskstore_ps(out + 8 * i, lanes, a[i]);
    }
  }
}

__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl"))) DEPTHWISE_PLANE(depthwise_plane_avx512, sums_avx512)

/* Tap kw of one padded input row into the chains of the rows `q0 … q1 − 1` whose weights are
 * `wq[q]` (plain loads: the padding holds the zeros). */
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) void
tap512(__m512 (*a)[8], const float *restrict at, const float *const *wq, int kw, const int nv, const int q0,
       const int q1) {
  __m512 v[8];
  for (int i = 0; i < nv; i++) v[i] = _mm512_loadu_ps(at + 16 * i);
  for (int q = q0; q < q1; q++) {
    const __m512 wv = _mm512_set1_ps(wq[q][kw]);
    for (int i = 0; i < nv; i++) a[q][i] = _mm512_fmadd_ps(wv, v[i], a[q][i]);
  }
}

/* AVX-512, from the zero-padded rows (split into phase rows for a width stride): `r` output rows
 * (≤ 4; 4 only for nv ≤ 2) of `nv` vectors (≤ 8) at once, so each input row is loaded once for
 * all the rows it serves and up to 16 chains hide the FMA latency. Every output is still its own
 * chain, bias first, taps in (kh, kw) order with the rows outside the input skipped: the bits of
 * the one-row sums. */
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl"))) static inline __attribute__((always_inline)) void
rows_block512(const float *restrict w, float bias, float *restrict y, const ck_conv_geometry *g,
              const float *restrict scratch, long pw, const long *offsets, int oh, int ow0, int valid, const int nv,
              const int r) {
  const int kws = g->k_w, sh = g->stride_h, dh = g->dil_h;
  __m512 a[MAX_ROWS][8];
  for (int q = 0; q < r; q++)
    for (int i = 0; i < nv; i++) a[q][i] = _mm512_set1_ps(bias);
  /* the input rows any of the output rows reads, in increasing order (each row's taps in kh order) */
  const int first = oh * sh - g->pad_top, last = (oh + r - 1) * sh - g->pad_top + (g->k_h - 1) * dh;
  for (int ih = first < 0 ? 0 : first; ih <= last && ih < g->in_h; ih++) {
    const float *wq[MAX_ROWS] = {NULL};
    int rows_here = 0;
    for (int q = 0; q < r; q++) {
      const int t = ih - ((oh + q) * sh - g->pad_top);
      if (t >= 0 && t % dh == 0 && t / dh < g->k_h) {
        wq[q] = w + (t / dh) * kws;
        rows_here++;
      }
    }
    const float *at = scratch + (long)ih * g->stride_w * pw + ow0;
    if (rows_here == r) /* every row: one load per tap for all of them */
      for (int kw = 0; kw < kws; kw++) tap512(a, at + offsets[kw], wq, kw, nv, 0, r);
    else
      for (int q = 0; q < r; q++)
        if (wq[q])
          for (int kw = 0; kw < kws; kw++) tap512(a, at + offsets[kw], wq, kw, nv, q, q + 1);
  }
  for (int q = 0; q < r; q++) store_valid512(a[q], nv, y + (long)(oh + q) * g->out_w + ow0, valid);
}

/* Rows in blocks of up to 8 vectors (the row's vectors shared evenly between blocks), two
 * output rows at a time, or four when a block is at most two vectors wide (a 7×7 or 14×14
 * plane: more chains in flight where each row has few). */
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl"))) static void depthwise_rows_avx512(
    const float *restrict x, const float *restrict w, float bias, float *restrict y, const ck_conv_geometry *g,
    float *restrict scratch) {
  const long pw = phase_width_for(g, 16);
  fill_phases(x, g, pw, scratch, split2_avx512);
  long offsets[MAX_KW]; /* tap kw's run within an input row's phase rows */
  for (int kw = 0; kw < g->k_w; kw++)
    offsets[kw] = (long)(kw * g->dil_w % g->stride_w) * pw + kw * g->dil_w / g->stride_w;
  const int vectors = (g->out_w + 15) / 16, blocks = (vectors + 7) / 8;
  for (int b = 0; b < blocks; b++) {
    const int v0 = b * vectors / blocks, nv = (b + 1) * vectors / blocks - v0, ow0 = 16 * v0;
    const int valid = g->out_w - ow0 < 16 * nv ? g->out_w - ow0 : 16 * nv;
    const int step = nv <= 2 ? MAX_ROWS : 2;
    for (int oh = 0; oh < g->out_h; oh += step) {
      const int r = g->out_h - oh < step ? g->out_h - oh : step;
#define ROWS512(NV, R) rows_block512(w, bias, y, g, scratch, pw, offsets, oh, ow0, valid, NV, R)
#define WIDE512(NV)                                                                                \
  case NV:                                                                                         \
    if (r == 2) ROWS512(NV, 2);                                                                    \
    else ROWS512(NV, 1);                                                                           \
    break;
#define NARROW512(NV)                                                                              \
  case NV:                                                                                         \
    switch (r) {                                                                                   \
    case 4: ROWS512(NV, 4); break;                                                                 \
    case 3: ROWS512(NV, 3); break;                                                                 \
    case 2: ROWS512(NV, 2); break;                                                                 \
    default: ROWS512(NV, 1); break;                                                                \
    }                                                                                              \
    break;
      switch (nv) {
        NARROW512(1) NARROW512(2) WIDE512(3) WIDE512(4) WIDE512(5) WIDE512(6) WIDE512(7) default: WIDE512(8)
      }
#undef NARROW512
#undef WIDE512
#undef ROWS512
    }
  }
}
__attribute__((target("avx2,fma"))) DEPTHWISE_PLANE(depthwise_plane_avx2, sums_avx2)
#endif

void ck_depthwise_f32_ref(const float *x, const float *w, float bias, float *y, const ck_conv_geometry *g,
                          float *scratch) {
  depthwise_plane(x, w, bias, y, g, scratch);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void ck_depthwise_f32_avx2(const float *x, const float *w, float bias, float *y,
                                                               const ck_conv_geometry *g, float *scratch) {
  depthwise_plane_avx2(x, w, bias, y, g, scratch);
}
/* 512-bit vectors: two output rows at a time; the one-row 64-column blocks only for kernels wider
 * than MAX_KW taps. */
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl"))) static void depthwise_avx512(
    const float *x, const float *w, float bias, float *y, const ck_conv_geometry *g, float *scratch) {
  if (g->k_w <= MAX_KW)
    depthwise_rows_avx512(x, w, bias, y, g, scratch);
  else
    depthwise_plane_avx512(x, w, bias, y, g, scratch);
}
#else
void ck_depthwise_f32_avx2(const float *x, const float *w, float bias, float *y, const ck_conv_geometry *g,
                           float *scratch) {
  ck_depthwise_f32_ref(x, w, bias, y, g, scratch);
}
#endif

ck_depthwise_f32_fn ck_depthwise_f32_for(ck_isa isa) {
#if defined(__x86_64__)
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return depthwise_avx512;
#endif
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return ck_depthwise_f32_avx2;
  return ck_depthwise_f32_ref;
}
