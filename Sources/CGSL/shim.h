// GNU Scientific Library (Debian: libgsl-dev): random numbers, statistics, eigenvalues.
//
// libgsl depends on libgslcblas, but mixprec's CBLAS is OpenBLAS (linked first, so its
// cblas_* symbols win). GSL's own <gsl/gsl_cblas.h> declares the same CBLAS enums with other
// members, which clang refuses next to OpenBLAS's <cblas.h> in one Swift module; so the CBLAS
// types come from OpenBLAS's header and GSL's copy is kept out by its include guard.
#include <cblas.h>
#define __GSL_CBLAS_H__
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_statistics_double.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_cdf.h>
