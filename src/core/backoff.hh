// backoff.hh: the timing policy of the token broker, as pure functions so
// the unit tests can walk them: capped exponential backoff with jitter after
// transient IdP failures, Retry-After for 429, and when a cached token is
// still worth serving or should be refreshed ahead of its expiry.
#pragma once

#include <cstdint>

namespace exo {

struct BackoffPolicy {
    double base = 1.0;    // seconds after the first failure
    double cap = 300.0;   // never wait longer than this
    double jitter = 0.5;  // up to this fraction is taken off at random
};

// Delay before the next attempt after `failures` (>= 1) consecutive
// transient failures; random01 in [0,1) supplies the jitter.
double backoff_delay(const BackoffPolicy &p, int failures, double random01);

// Delay after a 429: Retry-After when given (clamped to [1, 3600]), else
// the backoff delay.
double rate_limit_delay(const BackoffPolicy &p, int retry_after, int failures, double random01);

// Times of one cached token, unix seconds.
struct TokenTimes {
    int64_t acquired = 0;
    int64_t expires = 0;
};

// Seconds before expiry under which a token is no longer handed out: a
// token must outlive the SMTP/IMAP exchange that uses it.
int64_t min_validity(const TokenTimes &t);

// True when the token may still be served at now.
bool token_servable(const TokenTimes &t, int64_t now);

// True when a background refresh should start at now (refresh_ahead seconds
// before expiry, but never later than half-way through a short lifetime).
bool token_needs_refresh(const TokenTimes &t, int64_t now, int refresh_ahead);

} // namespace exo
