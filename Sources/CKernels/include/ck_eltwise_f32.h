#ifndef CK_ELTWISE_F32_H
#define CK_ELTWISE_F32_H

#include "ck_isa.h"

/// Element-wise activation programs, applied in place to a run of floats (a convolution's output
/// plane, a MatMul's output) while it is still in cache. Each step is a fixed sequence of IEEE
/// operations with the runtime's formulas (min/max as Swift's: max(x, y) = y >= x ? y : x,
/// min(x, y) = y < x ? y : x), one operation per statement so no contraction into FMA can make a
/// vector copy differ from the scalar `_ref` twin:
///
///   ADD         x + a
///   MUL         x · a
///   CLAMP       min(max(x, a), b)
///   HARDSWISH   (x · min(max(x + 3, 0), 6)) / 6
///   HARDSIGMOID max(0, min(1, a·x + b))
///   LEAKY       x < 0 ? a·x : x
///   GELU        (x · (erf(x / a) + 1)) · b, erf a rational polynomial on [−4, 4] (NaN stays NaN)
typedef enum ck_act_op {
  CK_ACT_ADD = 0,
  CK_ACT_MUL = 1,
  CK_ACT_CLAMP = 2,
  CK_ACT_HARDSWISH = 3,
  CK_ACT_HARDSIGMOID = 4,
  CK_ACT_LEAKY = 5,
  CK_ACT_GELU = 6,
} ck_act_op;

enum { CK_ACT_MAX_STEPS = 6 };

typedef struct ck_act_step {
  int op; /* ck_act_op */
  float a, b;
} ck_act_step;

typedef struct ck_act_program {
  int count; /* steps used, ≤ CK_ACT_MAX_STEPS */
  ck_act_step steps[CK_ACT_MAX_STEPS];
} ck_act_program;

/// x[i] = steps applied in order to x[i], for i in [0, count).
typedef void (*ck_activate_f32_fn)(float *x, long count, const ck_act_program *program);

void ck_activate_f32_ref(float *x, long count, const ck_act_program *program);
ck_activate_f32_fn ck_activate_f32_for(ck_isa isa);

/// One row of a broadcast binary operation: y[j] = a[j·a_step] op b[j·b_step] for j in [0, n),
/// a step 0 repeating that operand's element (a per-channel or scalar operand). IEEE results,
/// so every copy gives the same bits.
typedef enum ck_binary_op { CK_BIN_ADD = 0, CK_BIN_SUB = 1, CK_BIN_MUL = 2, CK_BIN_DIV = 3 } ck_binary_op;

typedef void (*ck_binary_f32_fn)(int op, float *y, const float *a, int a_step, const float *b, int b_step, long n);

void ck_binary_f32_ref(int op, float *y, const float *a, int a_step, const float *b, int b_step, long n);
ck_binary_f32_fn ck_binary_f32_for(ck_isa isa);

#endif
