// clock.hh: the two clocks of exoauthd and which governs what. Wall-clock
// time (unix seconds) for everything compared with what the IdP or a token
// says: token expiry, JWT exp/nbf, backoff deadlines and cache lifetimes
// derived from them. The monotonic clock for the event loop's own
// intervals (idle connections, ticks, log summaries), which must not jump
// when the system time is set.
#pragma once

namespace exo {

// Unix time in seconds, with sub-second precision.
double wall_now();
// Seconds on CLOCK_MONOTONIC.
double mono_now();

} // namespace exo
