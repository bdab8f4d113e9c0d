// backoff.cc: the broker's timing policy (see backoff.hh). Pure arithmetic,
// no clock and no randomness of its own, so tests can pin every case.
#include "backoff.hh"

#include <algorithm>
#include <cmath>

namespace exo {

// base * 2^(failures-1), capped, minus up to `jitter` of itself.
double backoff_delay(const BackoffPolicy &p, int failures, double random01)
{
    int n = std::clamp(failures, 1, 30);
    double d = std::min(p.cap, p.base * std::ldexp(1.0, n - 1));
    double r = std::clamp(random01, 0.0, 1.0);
    return d * (1.0 - std::clamp(p.jitter, 0.0, 1.0) * r);
}

// Honour the IdP's Retry-After; fall back to backoff without one.
double rate_limit_delay(const BackoffPolicy &p, int retry_after, int failures, double random01)
{
    if (retry_after >= 0)
        return std::clamp(retry_after, 1, 3600);
    return backoff_delay(p, failures, random01);
}

// A quarter of the lifetime, at most 30 seconds.
int64_t min_validity(const TokenTimes &t)
{
    int64_t life = std::max<int64_t>(0, t.expires - t.acquired);
    return std::min<int64_t>(30, life / 4);
}

// Served while more than min_validity remains.
bool token_servable(const TokenTimes &t, int64_t now)
{
    return t.expires > 0 && now < t.expires - min_validity(t);
}

// Refresh once inside the refresh-ahead window (or past half-life).
bool token_needs_refresh(const TokenTimes &t, int64_t now, int refresh_ahead)
{
    if (t.expires <= 0)
        return true;
    int64_t life = std::max<int64_t>(0, t.expires - t.acquired);
    int64_t ahead = std::min<int64_t>(std::max(refresh_ahead, 0), life / 2);
    return now >= t.expires - ahead;
}

} // namespace exo
