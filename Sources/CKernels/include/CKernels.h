// Umbrella header of the C kernel target.
#include "ck_isa.h"
#include "ck_runtime.h"
#include "ck_depthwise_f32.h"
#include "ck_softmax_f32.h"
#include "ck_qgemm.h"
#include "ck_hgemm.h"
#include "ck_convert.h"
#include "ck_depthwise_q8.h"
