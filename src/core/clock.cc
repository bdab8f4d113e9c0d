// clock.cc: wall-clock and monotonic seconds (see clock.hh).
#include "clock.hh"

#include <time.h>

namespace exo {

// CLOCK_REALTIME as a double.
double wall_now()
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

// CLOCK_MONOTONIC as a double.
double mono_now()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

} // namespace exo
