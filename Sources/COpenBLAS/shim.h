// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). Only the FP32 reference GEMM uses it.
#include <cblas.h>
