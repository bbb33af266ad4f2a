#include "ck_eltwise_f32.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define CK_AI static inline __attribute__((always_inline))

/* Swift's min and max, NaN in x passing through. */
CK_AI float max_s(float x, float y) { return y >= x ? y : x; }
CK_AI float min_s(float x, float y) { return y < x ? y : x; }

CK_AI float erf_poly(float v) {
  const float x = min_s(max_s(v, -4.0f), 4.0f);
  const float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2; p = p + 2.77068142495902e-08f;
  p = p * x2; p = p - 2.10102402082508e-06f;
  p = p * x2; p = p - 5.69250639462346e-05f;
  p = p * x2; p = p - 7.34990630326855e-04f;
  p = p * x2; p = p - 2.95459980854025e-03f;
  p = p * x2; p = p - 1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * x2; q = q - 2.13374055278905e-04f;
  q = q * x2; q = q - 1.68282697438203e-03f;
  q = q * x2; q = q - 7.37332916720468e-03f;
  q = q * x2; q = q - 1.42647390514189e-02f;
  float r = x * p;
  r = r / q;
  return v != v ? v : r;
}

/* One step over a block; each case a loop the compiler vectorizes for the caller's target. */
CK_AI void step_block(float *restrict x, long n, const ck_act_step s) {
  const float a = s.a, b = s.b;
  switch (s.op) {
  case CK_ACT_ADD:
    for (long i = 0; i < n; i++) x[i] = x[i] + a;
    break;
  case CK_ACT_MUL:
    for (long i = 0; i < n; i++) x[i] = x[i] * a;
    break;
  case CK_ACT_CLAMP:
    for (long i = 0; i < n; i++) x[i] = min_s(max_s(x[i], a), b);
    break;
  case CK_ACT_HARDSWISH:
    for (long i = 0; i < n; i++) {
      float u = x[i] + 3.0f;
      u = min_s(max_s(u, 0.0f), 6.0f);
      float t = x[i] * u;
      x[i] = t / 6.0f;
    }
    break;
  case CK_ACT_HARDSIGMOID:
    for (long i = 0; i < n; i++) {
      float t = a * x[i];
      t = t + b;
      x[i] = max_s(0.0f, min_s(1.0f, t));
    }
    break;
  case CK_ACT_LEAKY:
    for (long i = 0; i < n; i++) {
      const float t = a * x[i];
      x[i] = x[i] < 0.0f ? t : x[i];
    }
    break;
  case CK_ACT_GELU:
    for (long i = 0; i < n; i++) {
      float t = x[i] / a;
      t = erf_poly(t);
      t = t + 1.0f;
      t = x[i] * t;
      x[i] = t * b;
    }
    break;
  default: break;
  }
}

/* Blocks of 1024 floats (4 KB, in L1) pass through every step before the next block. */
CK_AI void activate(float *x, long count, const ck_act_program *program) {
  enum { BLOCK = 1024 };
  const int steps = program->count < CK_ACT_MAX_STEPS ? program->count : CK_ACT_MAX_STEPS;
  for (long i0 = 0; i0 < count; i0 += BLOCK) {
    const long n = count - i0 < BLOCK ? count - i0 : BLOCK;
    for (int s = 0; s < steps; s++) step_block(x + i0, n, program->steps[s]);
  }
}

void ck_activate_f32_ref(float *x, long count, const ck_act_program *program) { activate(x, count, program); }

#define BINARY_LOOPS(EXPR)                                                                        \
  if (a_step && b_step) {                                                                         \
    for (long j = 0; j < n; j++) { const float u = a[j], v = b[j]; y[j] = EXPR; }                 \
  } else if (a_step) {                                                                            \
    const float v = b[0];                                                                         \
    for (long j = 0; j < n; j++) { const float u = a[j]; y[j] = EXPR; }                           \
  } else if (b_step) {                                                                            \
    const float u = a[0];                                                                         \
    for (long j = 0; j < n; j++) { const float v = b[j]; y[j] = EXPR; }                           \
  } else {                                                                                        \
    const float u = a[0], v = b[0], r = EXPR;                                                     \
    for (long j = 0; j < n; j++) y[j] = r;                                                        \
  }

/* y may alias a or b exactly (in place), never partly: each element is read before it is written. */
CK_AI void binary(int op, float *y, const float *a, int a_step, const float *b, int b_step, long n) {
  switch (op) {
  case CK_BIN_ADD: BINARY_LOOPS(u + v) break;
  case CK_BIN_SUB: BINARY_LOOPS(u - v) break;
  case CK_BIN_MUL: BINARY_LOOPS(u * v) break;
  case CK_BIN_DIV: BINARY_LOOPS(u / v) break;
  default: break;
  }
}

void ck_binary_f32_ref(int op, float *y, const float *a, int a_step, const float *b, int b_step, long n) {
  binary(op, y, a, a_step, b, b_step, n);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void activate_avx2(float *x, long count, const ck_act_program *program) {
  activate(x, count, program);
}
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl"))) static void activate_avx512(
    float *x, long count, const ck_act_program *program) {
  activate(x, count, program);
}
__attribute__((target("avx2,fma"))) static void binary_avx2(int op, float *y, const float *a, int a_step,
                                                            const float *b, int b_step, long n) {
  binary(op, y, a, a_step, b, b_step, n);
}
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl"))) static void binary_avx512(
    int op, float *y, const float *a, int a_step, const float *b, int b_step, long n) {
  binary(op, y, a, a_step, b, b_step, n);
}
#endif

ck_binary_f32_fn ck_binary_f32_for(ck_isa isa) {
  return CK_PICK(isa, binary_avx512, binary_avx2, ck_binary_f32_ref);
}

ck_activate_f32_fn ck_activate_f32_for(ck_isa isa) {
  return CK_PICK(isa, activate_avx512, activate_avx2, ck_activate_f32_ref);
}
