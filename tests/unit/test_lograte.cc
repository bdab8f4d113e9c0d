// test_lograte.cc: cmocka table for the log rate limiter
// (src/core/lograte.cc): the first lines of a kind are logged, the rest
// counted, and each ended interval gives one summary with the right count.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include <cmocka.h>
}

#include "lograte.hh"

#include <map>
#include <string>

using namespace exo;

// A scripted sequence of lines: which are logged and what is summarised.
static void test_limit_table(void **)
{
    struct Row { const char *key; double now; bool logged; } rows[] = {
        {"a", 0, true},   {"a", 1, true},   {"a", 2, false}, {"a", 3, false}, {"b", 3, true},
        {"b", 4, true},   {"b", 5, false},  {"a", 11, true}, {"c", 11, true}, {"d", 11, true},
        {"e", 12, true},  {"f", 12, true},  {"f", 12, true}, {"f", 12, false},
    };
    LogLimiter l(10, 2, 3);
    std::map<std::string, uint64_t> told;
    auto record = [&](const std::string &k, uint64_t n) { told[k] += n; };
    for (const Row &r : rows) {
        if (r.now == 11 && told.empty())
            l.flush(r.now, record);  // the interval of "a" ended at 10, of "b" not yet
        if (l.allow(r.key, r.now) != r.logged)
            fail_msg("%s at %g: want logged=%d", r.key, r.now, r.logged);
    }
    assert_int_equal(told["a"], 2);
    assert_int_equal(told.count("b"), 0);
    l.flush(1e9, record);
    assert_int_equal(told["f"], 1);
    assert_int_equal(told["(other kinds)"], 1);  // b was evicted for d with one line untold
}

// Past max_keys the oldest kind makes room: every kind's first line is
// told, and an evicted kind's count is not lost.
static void test_first_line_of_every_kind(void **)
{
    LogLimiter l(60, 1, 1);
    assert_true(l.allow("x", 0));
    assert_false(l.allow("x", 0));
    assert_true(l.allow("y", 1));  // x is evicted, its untold line kept
    assert_true(l.allow("z", 2));
    std::map<std::string, uint64_t> told;
    l.flush(100, [&](const std::string &k, uint64_t n) { told[k] += n; });
    assert_int_equal(told["(other kinds)"], 1);
    assert_int_equal(told.size(), 1);
    assert_true(l.allow("x", 100));  // a new interval starts afresh
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_table),
        cmocka_unit_test(test_first_line_of_every_kind),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
