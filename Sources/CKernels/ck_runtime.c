#define _GNU_SOURCE
#include "ck_runtime.h"

#include <dlfcn.h>
#include <stdlib.h> /* defines __GLIBC__ through <features.h> */

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void ck_tune_allocator(void) {
#if defined(__GLIBC__)
  /* Every buffer comes from the heap and is reused: no mmap per large activation (a 50 MB */
  /* tensor of a batch of 640×640 images otherwise costs ~25 ms of fresh page faults on each */
  /* allocation); the heap is neither trimmed nor grown in small steps. */
  mallopt(M_MMAP_MAX, 0);
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
