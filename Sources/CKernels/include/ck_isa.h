#ifndef CK_ISA_H
#define CK_ISA_H

/// Instruction sets the kernels are built for, best last.
typedef enum ck_isa {
  CK_ISA_SCALAR = 0,
  CK_ISA_AVX2 = 1, /* AVX2 + FMA + F16C */
} ck_isa;

/// The instruction set chosen once per process: the best one this CPU has, unless the
/// environment variable MIXPREC_ISA names a lower one ("scalar", "avx2") for tests and comparisons.
ck_isa ck_selected_isa(void);

/// Whether this CPU can run kernels built for `isa`.
int ck_cpu_supports(ck_isa isa);

/// "scalar", "avx2".
const char *ck_isa_name(ck_isa isa);

#endif
