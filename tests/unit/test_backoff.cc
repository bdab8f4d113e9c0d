// test_backoff.cc: cmocka tables for the broker's timing policy
// (src/core/backoff.cc): exponential backoff with its cap and jitter,
// Retry-After handling, and when a cached token is served or refreshed.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include <cmocka.h>
}

#include "backoff.hh"

#include <cmath>

using namespace exo;

// Backoff doubles from base, stops at cap, and jitter only shortens it.
static void test_backoff_table(void **)
{
    struct Row { int failures; double random01; double expect; } rows[] = {
        {1, 0.0, 1.0},   {2, 0.0, 2.0},    {3, 0.0, 4.0},    {9, 0.0, 256.0},
        {10, 0.0, 300.0}, {30, 0.0, 300.0}, {1000, 0.0, 300.0}, {0, 0.0, 1.0},
        {-5, 0.0, 1.0},  {1, 1.0, 0.5},    {4, 0.5, 6.0},    {10, 0.999999, 150.0},
    };
    BackoffPolicy p;
    for (const Row &r : rows) {
        double d = backoff_delay(p, r.failures, r.random01);
        if (std::fabs(d - r.expect) > 0.001)
            fail_msg("failures=%d random=%f: got %f, want %f", r.failures, r.random01, d, r.expect);
    }
}

// Retry-After wins over backoff and is clamped to [1, 3600].
static void test_rate_limit_table(void **)
{
    struct Row { int retry_after; int failures; double expect; } rows[] = {
        {5, 1, 5.0}, {0, 1, 1.0}, {120, 7, 120.0}, {99999, 1, 3600.0}, {-1, 3, 4.0}, {-1, 1, 1.0},
    };
    BackoffPolicy p;
    for (const Row &r : rows) {
        double d = rate_limit_delay(p, r.retry_after, r.failures, 0.0);
        if (std::fabs(d - r.expect) > 0.001)
            fail_msg("retry_after=%d: got %f, want %f", r.retry_after, d, r.expect);
    }
}

// A token is served until min_validity before its expiry, never after.
static void test_servable_table(void **)
{
    struct Row { int64_t acquired, expires, now; bool servable; } rows[] = {
        {1000, 4600, 1000, true},  {1000, 4600, 4569, true},  {1000, 4600, 4570, false},
        {1000, 4600, 5000, false}, {1000, 1008, 1005, true},  {1000, 1008, 1006, false},
        {0, 0, 0, false},          {1000, 1000, 1000, false},
    };
    for (const Row &r : rows)
        if (token_servable(TokenTimes{r.acquired, r.expires}, r.now) != r.servable)
            fail_msg("acquired=%lld expires=%lld now=%lld: want %d", (long long)r.acquired,
                     (long long)r.expires, (long long)r.now, r.servable);
}

// Refresh starts refresh_ahead before expiry, or at half-life for short tokens.
static void test_needs_refresh_table(void **)
{
    struct Row { int64_t acquired, expires, now; int ahead; bool refresh; } rows[] = {
        {0, 3600, 3299, 300, false}, {0, 3600, 3300, 300, true}, {0, 3600, 0, 300, false},
        {0, 100, 49, 300, false},    {0, 100, 50, 300, true},    {0, 3600, 3600, 0, true},
        {0, 3600, 3599, 0, false},   {0, 0, 0, 300, true},
    };
    for (const Row &r : rows)
        if (token_needs_refresh(TokenTimes{r.acquired, r.expires}, r.now, r.ahead) != r.refresh)
            fail_msg("expires=%lld now=%lld ahead=%d: want %d", (long long)r.expires,
                     (long long)r.now, r.ahead, r.refresh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_table),
        cmocka_unit_test(test_rate_limit_table),
        cmocka_unit_test(test_servable_table),
        cmocka_unit_test(test_needs_refresh_table),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
