#include "ck_runtime.h"

#include <stdlib.h> /* defines __GLIBC__ through <features.h> */

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void ck_tune_allocator(void) {
#if defined(__GLIBC__)
  mallopt(M_TOP_PAD, 256 << 20);
#endif
}
