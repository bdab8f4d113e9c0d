// test_metrics.cc: cmocka tables for the Prometheus text exposition
// renderer (src/core/metrics.hh): label and HELP escaping, sample values
// (+Inf, NaN, shortest exact decimals), histogram buckets that are
// cumulative and end with le="+Inf", and _sum/_count.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include <cmocka.h>
}

#include "metrics.hh"

#include <cmath>
#include <string>

using namespace exo;

// Label values: backslash, double quote and newline are escaped, nothing else.
static void test_escape_table(void **)
{
    struct Row { const char *in, *want; } rows[] = {
        {"relay", "relay"},
        {"a\\b", "a\\\\b"},
        {"say \"hi\"", "say \\\"hi\\\""},
        {"two\nlines", "two\\nlines"},
        {"\\\"\n", "\\\\\\\"\\n"},
        {"", ""},
        {"tab\there", "tab\there"},
        {"utf-8 \xc3\xa9", "utf-8 \xc3\xa9"},
    };
    for (const Row &r : rows)
        if (metric_escape(r.in) != r.want)
            fail_msg("escape(%s) = %s, want %s", r.in, metric_escape(r.in).c_str(), r.want);
}

// Sample values as the format spells them.
static void test_value_table(void **)
{
    struct Row { double in; const char *want; } rows[] = {
        {0, "0"}, {1, "1"}, {42, "42"}, {0.1, "0.1"}, {0.00025, "0.00025"}, {0.0001, "0.0001"},
        {1e-12, "1e-12"}, {-3.5, "-3.5"}, {1764000000, "1764000000"}, {HUGE_VAL, "+Inf"}, {-HUGE_VAL, "-Inf"}, {NAN, "NaN"},
    };
    for (const Row &r : rows)
        if (metric_value(r.in) != r.want)
            fail_msg("value(%g) = %s, want %s", r.in, metric_value(r.in).c_str(), r.want);
}

// A family with labels: HELP escaped, TYPE, one line per sample.
static void test_family_and_samples(void **)
{
    Exposition e;
    e.family("exoauth_x_total", "counter", "Things \\ counted\nby kind.");
    e.sample("exoauth_x_total", {{"account", "re\"lay"}, {"kind", "a\\b"}}, 3);
    e.sample("exoauth_x_total", {}, 0.5);
    assert_string_equal(e.text().c_str(),
                        "# HELP exoauth_x_total Things \\\\ counted\\nby kind.\n"
                        "# TYPE exoauth_x_total counter\n"
                        "exoauth_x_total{account=\"re\\\"lay\",kind=\"a\\\\b\"} 3\n"
                        "exoauth_x_total 0.5\n");
}

// Buckets are cumulative, +Inf holds every observation, _sum and _count
// follow; an observation on a bound falls in that bound's bucket.
static void test_histogram(void **)
{
    static const double bounds[] = {0.25, 1, 10};
    Histogram h(bounds, 3);
    for (double v : {0.125, 0.25, 0.5, 1.0, 2.0, 100.0})
        h.observe(v);
    Exposition e;
    e.histogram("exoauth_d_seconds", {{"command", "TOKEN"}}, h);
    assert_string_equal(e.text().c_str(),
                        "exoauth_d_seconds_bucket{command=\"TOKEN\",le=\"0.25\"} 2\n"
                        "exoauth_d_seconds_bucket{command=\"TOKEN\",le=\"1\"} 4\n"
                        "exoauth_d_seconds_bucket{command=\"TOKEN\",le=\"10\"} 5\n"
                        "exoauth_d_seconds_bucket{command=\"TOKEN\",le=\"+Inf\"} 6\n"
                        "exoauth_d_seconds_sum{command=\"TOKEN\"} 103.875\n"
                        "exoauth_d_seconds_count{command=\"TOKEN\"} 6\n");
}

// Without labels the le label stands alone; an empty histogram is all zeros.
static void test_histogram_empty_unlabelled(void **)
{
    static const double bounds[] = {0.5};
    Histogram h(bounds, 1);
    Exposition e;
    e.histogram("h", {}, h);
    assert_string_equal(e.text().c_str(), "h_bucket{le=\"0.5\"} 0\n"
                                          "h_bucket{le=\"+Inf\"} 0\n"
                                          "h_sum 0\n"
                                          "h_count 0\n");
}

// The shipped bucket tables ascend and fit a histogram.
static void test_bucket_tables(void **)
{
    struct Row { const double *b; size_t n; } rows[] = {{kRequestBuckets, kRequestBucketCount},
                                                       {kIdpBuckets, kIdpBucketCount}};
    for (const Row &r : rows) {
        assert_true(r.n > 0 && r.n <= HISTOGRAM_MAX_BUCKETS);
        for (size_t i = 1; i < r.n; i++)
            assert_true(r.b[i - 1] < r.b[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_table),       cmocka_unit_test(test_value_table),
        cmocka_unit_test(test_family_and_samples), cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_histogram_empty_unlabelled), cmocka_unit_test(test_bucket_tables),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
