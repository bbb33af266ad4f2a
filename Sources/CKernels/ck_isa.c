#include "ck_isa.h"

#include <stdlib.h>
#include <string.h>

int ck_cpu_supports(ck_isa isa) {
  switch (isa) {
  case CK_ISA_SCALAR:
    return 1;
  case CK_ISA_AVX2:
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
  }
  return 0;
}

const char *ck_isa_name(ck_isa isa) { return isa == CK_ISA_AVX2 ? "avx2" : "scalar"; }

ck_isa ck_selected_isa(void) {
  static int chosen = -1;
  if (chosen < 0) {
    ck_isa best = ck_cpu_supports(CK_ISA_AVX2) ? CK_ISA_AVX2 : CK_ISA_SCALAR;
    const char *forced = getenv("MIXPREC_ISA");
    if (forced && strcmp(forced, "scalar") == 0) best = CK_ISA_SCALAR;
    chosen = (int)best;
  }
  return (ck_isa)chosen;
}
