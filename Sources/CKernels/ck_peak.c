#include "ck_peak.h"

#if defined(__x86_64__)
#include <immintrin.h>

/* Twelve accumulator chains hide the instruction's latency; the empty asm keeps them live. */
#define CHAINS 12

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static double peak512(long iterations) {
  __m512i a[CHAINS];
  for (int i = 0; i < CHAINS; i++) a[i] = _mm512_set1_epi32(i);
  const __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(5);
  for (long it = 0; it < iterations; it++) {
    for (int i = 0; i < CHAINS; i++) a[i] = _mm512_dpbusd_epi32(a[i], x, y);
    __asm__ volatile("" : "+v"(a[0]), "+v"(a[1]), "+v"(a[2]), "+v"(a[3]), "+v"(a[4]), "+v"(a[5]), "+v"(a[6]),
                     "+v"(a[7]), "+v"(a[8]), "+v"(a[9]), "+v"(a[10]), "+v"(a[11]));
  }
  return (double)iterations * CHAINS * 64 * 2;
}

__attribute__((target("avx2,avxvnni"))) static double peak256(long iterations) {
  __m256i a[CHAINS];
  for (int i = 0; i < CHAINS; i++) a[i] = _mm256_set1_epi32(i);
  const __m256i x = _mm256_set1_epi8(3), y = _mm256_set1_epi8(5);
  for (long it = 0; it < iterations; it++) {
    for (int i = 0; i < CHAINS; i++) a[i] = _mm256_dpbusd_avx_epi32(a[i], x, y);
    __asm__ volatile("" : "+v"(a[0]), "+v"(a[1]), "+v"(a[2]), "+v"(a[3]), "+v"(a[4]), "+v"(a[5]), "+v"(a[6]),
                     "+v"(a[7]), "+v"(a[8]), "+v"(a[9]), "+v"(a[10]), "+v"(a[11]));
  }
  return (double)iterations * CHAINS * 32 * 2;
}

double ck_vnni_peak_ops(ck_isa isa, long iterations) {
  if (isa >= CK_ISA_AVX512_VNNI && ck_cpu_supports(CK_ISA_AVX512_VNNI)) return peak512(iterations);
  if (isa >= CK_ISA_AVX_VNNI && ck_cpu_supports(CK_ISA_AVX_VNNI)) return peak256(iterations);
  return 0;
}
#else
double ck_vnni_peak_ops(ck_isa isa, long iterations) {
  (void)isa;
  (void)iterations;
  return 0;
}
#endif
