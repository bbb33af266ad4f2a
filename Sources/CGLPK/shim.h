// GNU Linear Programming Kit (Debian: libglpk-dev): the exact MILP of the precision assignment.
#include <glpk.h>
