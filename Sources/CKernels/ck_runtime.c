#define _GNU_SOURCE
#include "ck_runtime.h"

#include <dlfcn.h>
#include <stdlib.h> /* defines __GLIBC__ through <features.h> */

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void ck_tune_allocator(void) {
#if defined(__GLIBC__)
  /* Buffers up to 32 MB (glibc's largest mmap threshold) come from the heap and are reused; */
  /* the heap is neither trimmed nor grown in small steps. */
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

const char *ck_library_of(const char *symbol) {
  void *self = dlopen(NULL, RTLD_NOW);
  if (!self) return NULL;
  void *address = dlsym(self, symbol);
  Dl_info info;
  if (!address || dladdr(address, &info) == 0) return NULL;
  return info.dli_fname;
}
