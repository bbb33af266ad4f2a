#ifndef CK_RUNTIME_H
#define CK_RUNTIME_H

/// Keeps freed buffers in the process (glibc mallopt: a large top pad) so that per-op
/// activation buffers are reused instead of mapped and page-faulted anew. No-op elsewhere.
void ck_tune_allocator(void);

/// Path of the shared object (or executable) that the dynamic linker resolved `symbol` to in
/// this process, or NULL when the symbol is not found. The string is owned by the loader.
const char *ck_library_of(const char *symbol);

#endif
