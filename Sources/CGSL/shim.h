// GNU Scientific Library (Debian: libgsl-dev): random numbers, statistics, eigenvalues.
// libgsl itself depends on libgslcblas; OpenBLAS is linked first so its cblas_* symbols win.
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_statistics_double.h>
#include <gsl/gsl_eigen.h>
