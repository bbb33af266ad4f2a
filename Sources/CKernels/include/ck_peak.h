#ifndef CK_PEAK_H
#define CK_PEAK_H

#include "ck_isa.h"

/// Runs `iterations` rounds of 12 independent VPDPBUSD on the widest vectors `isa` has (512-bit
/// for AVX-512 VNNI, 256-bit for AVX-VNNI) and returns the integer operations performed
/// (2 per multiply-add), or 0 when the set has no VNNI. The caller times it: the result is the
/// machine's dot-product peak that the GEMM is measured against.
double ck_vnni_peak_ops(ck_isa isa, long iterations);

#endif
