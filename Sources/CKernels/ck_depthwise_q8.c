/* Quantized depthwise convolution.
 *
 * The scalar twin widens the plane to (x − z_a) and the taps to float and runs the float32
 * depthwise kernel: every product and partial sum is an integer below 2^24, so its sums are
 * exact. The x86 copies sum in int32 instead, two taps per instruction (VPMADDWD / VPDPWSSD):
 * each padded input row is prepared once as "pair rows", whose 32-bit lane j holds the two
 * int16 values (x − z_a) that output column j meets at taps t and t + 1, so a tap pair is one
 * unaligned load and one multiply-add for 8 or 16 output columns, with no shuffles.
 *
 *   stride_w 1: lane i of the pair row is (X[i], X[i + d_w]), X the zero-padded row; the pair
 *               (t, t + 1) of column j sits at lane j + t·d_w.
 *   stride_w 2, d_w 1: the padded int16 row itself, read as 32-bit lanes from element t: lane j
 *               is (X[2j + t], X[2j + t + 1]).
 *
 * Other strides and dilations go to the float path. The int32 sum is the same integer the float
 * path forms, converted and scaled by s_w the same way, so every copy gives the twin's bits. */
#include "ck_depthwise_q8.h"

#include <string.h>

#include "ck_qgemm_driver.h"

enum { PAIR_MAX_KW = 64, PAIR_VECTORS = 4 };

/* The float path: also the fallback of the x86 copies. */
static long float_scratch_floats(const ck_conv_geometry *g) {
  return (long)g->in_h * g->in_w + (long)g->out_h * g->out_w + ck_depthwise_f32_scratch_floats(g);
}

CK_AI void finish_plane(float *acc, long out, float sa, const ck_q_epilogue *e) {
  ck_q_epilogue plane = *e;
  plane.row_stride = 0;
  plane.col_stride = 1;
  finish_row(acc, NULL, (int)out, 0, 0, sa, &plane);
}

CK_AI void depthwise_plane(const uint8_t *x, int32_t za, float sa, const int8_t *w, float sw,
                           const ck_conv_geometry *g, const ck_q_epilogue *e, float *scratch,
                           ck_depthwise_f32_fn sums) {
  const long in = (long)g->in_h * g->in_w, out = (long)g->out_h * g->out_w;
  float *xf = scratch, *acc = scratch + in, *rest = acc + out;
  for (long i = 0; i < in; i++) xf[i] = (float)((int32_t)x[i] - za);
  float taps[CK_Q_DEPTHWISE_MAX_TAPS];
  for (int t = 0; t < g->k_h * g->k_w; t++) taps[t] = (float)w[t];
  sums(xf, taps, 0.0f, acc, g, rest);
  for (long i = 0; i < out; i++) acc[i] = sw * acc[i];
  finish_plane(acc, out, sa, e);
}

void ck_q_depthwise_ref(const uint8_t *x, int32_t za, float sa, const int8_t *w, float sw, const ck_conv_geometry *g,
                        const ck_q_epilogue *e, float *scratch) {
  depthwise_plane(x, za, sa, w, sw, g, e, scratch, ck_depthwise_f32_ref);
}

/* ---- pair rows ---- */

static int pairs_apply(const ck_conv_geometry *g) {
  return g->k_w <= PAIR_MAX_KW && g->k_h * g->k_w <= CK_Q_DEPTHWISE_MAX_TAPS &&
         (g->stride_w == 1 || (g->stride_w == 2 && g->dil_w == 1));
}

/* Output columns rounded up to whole vectors of `lanes`. */
static long padded_out_w(const ck_conv_geometry *g, int lanes) { return (g->out_w + lanes - 1) / lanes * lanes; }

/* Padded input rows the outputs reach. */
static long pair_rows(const ck_conv_geometry *g) { return (long)(g->out_h - 1) * g->stride_h + (long)(g->k_h - 1) * g->dil_h + 1; }

/* 32-bit lanes per pair row: the last vector's last lane through the widest tap pair. */
static long pair_row_lanes(const ck_conv_geometry *g, int lanes) {
  const long ow = padded_out_w(g, lanes);
  return g->stride_w == 1 ? ow + (long)(g->k_w - 1) * g->dil_w : ow + (g->k_w + 1) / 2 + 1;
}

static long pair_scratch_floats(const ck_conv_geometry *g, int lanes) {
  return pair_rows(g) * pair_row_lanes(g, lanes) + (long)g->out_h * padded_out_w(g, lanes) + 16;
}

long ck_q_depthwise_scratch_floats(const ck_conv_geometry *g) {
  const long a = float_scratch_floats(g), b = pair_scratch_floats(g, 16);
  return a > b ? a : b;
}

CK_AI int32_t code_at(const uint8_t *src, long c, long width, int32_t za) {
  return c >= 0 && c < width ? (int32_t)src[c] - za : 0;
}
CK_AI int32_t pair_of(int32_t lo, int32_t hi) { return (int32_t)(uint16_t)lo | (int32_t)((uint32_t)(uint16_t)hi << 16); }

/* Every pair row of the plane, straight from the uint8 codes (a separate int16 row written and
 * read back at once stalls on store forwarding), and the tap pairs' byte offsets and weights. */
CK_AI void prepare_pairs(const uint8_t *x, int32_t za, const int8_t *w, const ck_conv_geometry *g, int lanes,
                         int32_t *restrict rows, long *offsets, int32_t *weights) {
  const long n = pair_row_lanes(g, lanes), count = pair_rows(g), width = g->in_w, left = g->pad_left;
  for (long r = 0; r < count; r++) {
    int32_t *restrict p = rows + r * n;
    const long ih = r - g->pad_top;
    if (ih < 0 || ih >= g->in_h) {
      memset(p, 0, sizeof(int32_t) * (size_t)n);
      continue;
    }
    const uint8_t *src = x + ih * width;
    if (g->stride_w == 1) {
      /* lane i: padded columns i and i + d, input columns i − left and i − left + d */
      const long d = g->dil_w;
      long i0 = left < n ? left : n, i1 = left + width - d < n ? left + width - d : n;
      if (i1 < i0) i1 = i0;
      for (long i = 0; i < i0; i++) p[i] = pair_of(code_at(src, i - left, width, za), code_at(src, i - left + d, width, za));
      for (long i = i0; i < i1; i++) p[i] = pair_of((int32_t)src[i - left] - za, (int32_t)src[i - left + d] - za);
      for (long i = i1; i < n; i++) p[i] = pair_of(code_at(src, i - left, width, za), code_at(src, i - left + d, width, za));
    } else {
      /* the padded int16 row itself: lane i holds padded columns 2i and 2i + 1 */
      int16_t *restrict q = (int16_t *)p;
      const long e = 2 * n;
      long i0 = left < e ? left : e, i1 = left + width < e ? left + width : e;
      for (long i = 0; i < i0; i++) q[i] = 0;
      for (long i = i0; i < i1; i++) q[i] = (int16_t)((int32_t)src[i - left] - za);
      for (long i = i1 > i0 ? i1 : i0; i < e; i++) q[i] = 0;
    }
  }
  const int pairs = (g->k_w + 1) / 2;
  for (int q = 0; q < pairs; q++) {
    const int t = 2 * q;
    offsets[q] = g->stride_w == 1 ? 4L * t * g->dil_w : 2L * t;
  }
  for (int kh = 0; kh < g->k_h; kh++)
    for (int q = 0; q < pairs; q++) {
      const int t = 2 * q;
      const int16_t a = w[kh * g->k_w + t], b = t + 1 < g->k_w ? w[kh * g->k_w + t + 1] : 0;
      weights[kh * pairs + q] = (int32_t)(uint16_t)a | (int32_t)((uint32_t)(uint16_t)b << 16);
    }
}

/* How a block stores s_w·Σ: into a padded acc row (finished by finish_plane afterwards), or —
 * float32 outputs — finished on the spot exactly as finish_row does (fmaf(f, s_a, bias), then
 * the clip bounds), the last vector storing only `last` lanes. */
typedef struct pair_store {
  int fused, last;
  float sa, bias, lo, hi;
} pair_store;

/* The plane through `BLOCK(y, taps, column, weights, count, s_w, nv, store)`, which stores nv
 * vectors of columns: whole blocks of PAIR_VECTORS, then one block of the 1–3 vectors left. */
#define PAIR_PLANE(NAME, TARGET, LANES, BLOCK)                                                                    \
  __attribute__((target(TARGET))) static void NAME(const uint8_t *x, int32_t za, float sa, const int8_t *w,      \
                                                   float sw, const ck_conv_geometry *g, const ck_q_epilogue *e,  \
                                                   float *scratch) {                                             \
    const long n = pair_row_lanes(g, LANES), ow = padded_out_w(g, LANES);                                        \
    int32_t *rows = (int32_t *)scratch;                                                                          \
    float *acc = scratch + pair_rows(g) * n;                                                                     \
    long offsets[PAIR_MAX_KW / 2];                                                                               \
    int32_t weights[CK_Q_DEPTHWISE_MAX_TAPS + 1];                                                                \
    prepare_pairs(x, za, w, g, LANES, rows, offsets, weights);                                                   \
    /* an even count of tap pairs: an odd one gets a zero-weight partner (adds exactly 0) */                      \
    const int pairs = (g->k_w + 1) / 2, real = g->k_h * pairs, count = (real + 1) / 2 * 2;                       \
    if (count > real) weights[real] = 0;                                                                         \
    const char *taps[CK_Q_DEPTHWISE_MAX_TAPS + 1];                                                               \
    pair_store st = {e->type == CK_OUT_F32, LANES, sa, e->bias ? e->bias[0] : 0.0f, e->clip_lo, e->clip_hi};     \
    for (int oh = 0; oh < g->out_h; oh++) {                                                                      \
      for (int kh = 0; kh < g->k_h; kh++)                                                                        \
        for (int q = 0; q < pairs; q++)                                                                          \
          taps[kh * pairs + q] =                                                                                 \
              (const char *)(rows + ((long)oh * g->stride_h + (long)kh * g->dil_h) * n) + offsets[q];            \
      if (count > real) taps[real] = taps[real - 1];                                                             \
      float *y = st.fused ? (float *)e->y + (long)oh * g->out_w : acc + (long)oh * ow;                           \
      long j0 = 0;                                                                                               \
      st.last = LANES;                                                                                           \
      for (; j0 + LANES * PAIR_VECTORS <= g->out_w; j0 += LANES * PAIR_VECTORS)                                  \
        BLOCK(y + j0, taps, 4 * j0, weights, count, sw, PAIR_VECTORS, &st);                                      \
      const int left = (int)(g->out_w - j0), vectors = (left + LANES - 1) / LANES;                               \
      st.last = left - (vectors - 1) * LANES;                                                                    \
      switch (vectors) {                                                                                         \
      case 3: BLOCK(y + j0, taps, 4 * j0, weights, count, sw, 3, &st); break;                                    \
      case 2: BLOCK(y + j0, taps, 4 * j0, weights, count, sw, 2, &st); break;                                    \
      case 1: BLOCK(y + j0, taps, 4 * j0, weights, count, sw, 1, &st); break;                                    \
      default: break;                                                                                            \
      }                                                                                                          \
      if (!st.fused && ow != g->out_w) memmove(acc + (long)oh * g->out_w, y, sizeof(float) * (size_t)g->out_w);  \
    }                                                                                                            \
    if (!st.fused) finish_plane(acc, (long)g->out_h * g->out_w, sa, e);                                          \
  }

#if defined(__x86_64__)
#include <immintrin.h>

#define T512 "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"

/* Tap pair i of the row at taps[i] + column (bytes), weights[i], `count` even; pairs alternate
 * between two accumulators per vector, so even one vector keeps two chains in flight. */
__attribute__((target(T512))) static inline __attribute__((always_inline)) void block512(
    float *y, const char *const *taps, long column, const int32_t *weights, int count, float sw, int nv,
    const pair_store *st) {
  __m512i a[PAIR_VECTORS], b[PAIR_VECTORS];
  for (int v = 0; v < nv; v++) a[v] = b[v] = _mm512_setzero_si512();
  for (int i = 0; i < count; i += 2) {
    const __m512i w0 = _mm512_set1_epi32(weights[i]), w1 = _mm512_set1_epi32(weights[i + 1]);
    const char *p0 = taps[i] + column, *p1 = taps[i + 1] + column;
    for (int v = 0; v < nv; v++) {
      a[v] = _mm512_dpwssd_epi32(a[v], _mm512_loadu_si512(p0 + 64 * v), w0);
      b[v] = _mm512_dpwssd_epi32(b[v], _mm512_loadu_si512(p1 + 64 * v), w1);
    }
  }
  const __m512 s = _mm512_set1_ps(sw), sa = _mm512_set1_ps(st->sa), bias = _mm512_set1_ps(st->bias);
  const __m512 lo = _mm512_set1_ps(st->lo), hi = _mm512_set1_ps(st->hi);
  for (int v = 0; v < nv; v++) {
    __m512 o = _mm512_mul_ps(s, _mm512_cvtepi32_ps(_mm512_add_epi32(a[v], b[v])));
    if (!st->fused) {
      _mm512_storeu_ps(y + 16 * v, o);
      continue;
    }
    o = _mm512_min_ps(_mm512_max_ps(_mm512_fmadd_ps(o, sa, bias), lo), hi);
    if (v == nv - 1 && st->last < 16) _mm512_mask_storeu_ps(y + 16 * v, (__mmask16)((1u << st->last) - 1), o);
    else _mm512_storeu_ps(y + 16 * v, o);
  }
}

/* Without AVX-VNNI there is no 256-bit VPDPWSSD; VPMADDWD + VPADDD forms the same sums. */
#define MADD256(acc, p, w) _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(p)), w))
__attribute__((target("avx2,fma,f16c"))) static inline __attribute__((always_inline)) void block_avx2(
    float *y, const char *const *taps, long column, const int32_t *weights, int count, float sw, int nv,
    const pair_store *st) {
  __m256i a[PAIR_VECTORS], b[PAIR_VECTORS];
  for (int v = 0; v < nv; v++) a[v] = b[v] = _mm256_setzero_si256();
  for (int i = 0; i < count; i += 2) {
    const __m256i w0 = _mm256_set1_epi32(weights[i]), w1 = _mm256_set1_epi32(weights[i + 1]);
    const char *p0 = taps[i] + column, *p1 = taps[i + 1] + column;
    for (int v = 0; v < nv; v++) {
      a[v] = MADD256(a[v], p0 + 32 * v, w0);
      b[v] = MADD256(b[v], p1 + 32 * v, w1);
    }
  }
  const __m256 s = _mm256_set1_ps(sw), sa = _mm256_set1_ps(st->sa), bias = _mm256_set1_ps(st->bias);
  const __m256 lo = _mm256_set1_ps(st->lo), hi = _mm256_set1_ps(st->hi);
  for (int v = 0; v < nv; v++) {
    __m256 o = _mm256_mul_ps(s, _mm256_cvtepi32_ps(_mm256_add_epi32(a[v], b[v])));
    if (!st->fused) {
      _mm256_storeu_ps(y + 8 * v, o);
      continue;
    }
    o = _mm256_min_ps(_mm256_max_ps(_mm256_fmadd_ps(o, sa, bias), lo), hi);
    if (v == nv - 1 && st->last < 8) {
      const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      _mm256_maskstore_ps(y + 8 * v, _mm256_cmpgt_epi32(_mm256_set1_epi32(st->last), lane), o);
    } else {
      _mm256_storeu_ps(y + 8 * v, o);
    }
  }
}

PAIR_PLANE(pairs_avx512, T512, 16, block512)
PAIR_PLANE(pairs_avx2, "avx2,fma,f16c", 8, block_avx2)

__attribute__((target(T512))) static void depthwise_avx512(const uint8_t *x, int32_t za, float sa, const int8_t *w,
                                                           float sw, const ck_conv_geometry *g,
                                                           const ck_q_epilogue *e, float *scratch) {
  if (pairs_apply(g)) pairs_avx512(x, za, sa, w, sw, g, e, scratch);
  else depthwise_plane(x, za, sa, w, sw, g, e, scratch, ck_depthwise_f32_for(CK_ISA_AVX512_VNNI));
}
__attribute__((target("avx2,fma,f16c"))) static void depthwise_avx2(const uint8_t *x, int32_t za, float sa,
                                                                     const int8_t *w, float sw,
                                                                     const ck_conv_geometry *g,
                                                                     const ck_q_epilogue *e, float *scratch) {
  if (pairs_apply(g)) pairs_avx2(x, za, sa, w, sw, g, e, scratch);
  else depthwise_plane(x, za, sa, w, sw, g, e, scratch, ck_depthwise_f32_avx2);
}
ck_q_depthwise_fn ck_q_depthwise_for(ck_isa isa) {
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return depthwise_avx512;
  if (isa >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)) return depthwise_avx2;
  return ck_q_depthwise_ref;
}
#else
ck_q_depthwise_fn ck_q_depthwise_for(ck_isa isa) {
  (void)isa;
  return ck_q_depthwise_ref;
}
#endif
