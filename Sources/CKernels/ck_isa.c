#include "ck_isa.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[CK_ISA_COUNT] = {"scalar", "avx2", "avxvnni", "avx512vnni"};

int ck_cpu_supports(ck_isa isa) {
  if (isa == CK_ISA_SCALAR) return 1;
#if defined(__x86_64__)
  __builtin_cpu_init();
  const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  switch (isa) {
  case CK_ISA_AVX2:
    return avx2;
  case CK_ISA_AVX_VNNI:
    return avx2 && __builtin_cpu_supports("avxvnni");
  case CK_ISA_AVX512_VNNI:
    return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  default:
    return 0;
  }
#else
  return 0;
#endif
}

const char *ck_isa_name(ck_isa isa) { return (unsigned)isa < CK_ISA_COUNT ? names[isa] : "unknown"; }

int ck_isa_from_name(const char *name) {
  for (int i = 0; i < CK_ISA_COUNT; i++)
    if (name && strcmp(name, names[i]) == 0) return i;
  return -1;
}

ck_isa ck_selected_isa(void) {
  static int chosen = -1;
  if (chosen < 0) {
    int best = CK_ISA_SCALAR;
    for (int i = CK_ISA_COUNT - 1; i > 0; i--)
      if (ck_cpu_supports((ck_isa)i)) { best = i; break; }
    const int forced = ck_isa_from_name(getenv("MIXPREC_ISA"));
    if (forced >= 0 && forced < best) best = forced;
    chosen = best;
  }
  return (ck_isa)chosen;
}
