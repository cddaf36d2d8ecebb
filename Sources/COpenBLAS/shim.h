// OpenBLAS's C interface. Debian installs cblas.h under an alternatives-managed include path that
// pkg-config (openblas.pc) adds to the search path.
#include <cblas.h>
