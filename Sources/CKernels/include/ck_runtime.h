#ifndef CK_RUNTIME_H
#define CK_RUNTIME_H

/// Keeps freed buffers in the process (glibc mallopt: high mmap and trim thresholds) so that
/// per-op activation buffers are reused instead of mapped and page-faulted anew. No-op elsewhere.
void ck_tune_allocator(void);

#endif
