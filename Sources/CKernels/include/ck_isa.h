#ifndef CK_ISA_H
#define CK_ISA_H

/// Instruction sets the kernels are built for, lowest first. Each one includes the ones below it.
typedef enum ck_isa {
  CK_ISA_SCALAR = 0,
  CK_ISA_AVX2 = 1,        /* AVX2 + FMA + F16C */
  CK_ISA_AVX_VNNI = 2,    /* AVX2 + VEX-encoded VPDPBUSD on 256-bit vectors */
  CK_ISA_AVX512_VNNI = 3, /* AVX-512 F/BW/VL + VNNI on 512-bit vectors */
} ck_isa;

enum { CK_ISA_COUNT = 4 };

/// The instruction set chosen once per process: the best one this CPU has, unless the
/// environment variable MIXPREC_ISA names a lower one ("scalar", "avx2", "avxvnni", "avx512vnni")
/// for tests and comparisons. An unknown name is ignored (ck_isa_from_name reports it).
ck_isa ck_selected_isa(void);

/// Whether this CPU can run kernels built for `isa`.
int ck_cpu_supports(ck_isa isa);

/// The copy of a kernel to run for `isa`: the AVX-512 one, else the AVX2 one, else the scalar
/// twin, each only when this CPU has its instruction set (the vector names vanish off x86-64).
#if defined(__x86_64__)
#define CK_PICK(isa, avx512, avx2, ref)                                                         \
  ((isa) >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI) ? (avx512)                \
   : (isa) >= CK_ISA_AVX2 && ck_cpu_supports(CK_ISA_AVX2)             ? (avx2)                  \
                                                                      : (ref))
#else
#define CK_PICK(isa, avx512, avx2, ref) (ref)
#endif

/// "scalar", "avx2", "avxvnni", "avx512vnni".
const char *ck_isa_name(ck_isa isa);

/// The instruction set called `name`, or -1.
int ck_isa_from_name(const char *name);

#endif
