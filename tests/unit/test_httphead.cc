// test_httphead.cc: cmocka table for the metrics listener's request-head
// parser (src/core/httphead.cc): GET /metrics over HTTP/1.0 and 1.1, the
// 404 and 405 answers, and the refusals: bad method, bad path, bare LF,
// NUL, header folding, absolute URI, oversized heads.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include <cmocka.h>
}

#include "httphead.hh"

#include <cstdio>
#include <string>

using exo::HttpHead;

// One request head and the verdict on it.
static void test_head_table(void **)
{
    using H = HttpHead;
    struct Row { std::string in; H want; } rows[] = {
        {"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAccept: */*\r\n\r\n", H::Metrics},
        {"GET /metrics HTTP/1.0\r\n\r\n", H::Metrics},
        {"GET /metrics?x=1 HTTP/1.1\r\nUser-Agent: a\tb\r\n\r\n", H::Metrics},
        {"GET /metrics HTTP/1.1\r\nHost:\r\n\r\n", H::Metrics},
        {"GET /metrics HTTP/1.1\r\nHost: x\r\n", H::NeedMore},
        {"GET /metr", H::NeedMore},
        {"", H::NeedMore},
        {"GET / HTTP/1.1\r\n\r\n", H::NotFound},
        {"GET /metrics/ HTTP/1.1\r\n\r\n", H::NotFound},
        {"GET /../metrics HTTP/1.1\r\n\r\n", H::NotFound},
        {"POST /metrics HTTP/1.1\r\n\r\n", H::BadMethod},
        {"HEAD /metrics HTTP/1.1\r\n\r\n", H::BadMethod},
        {"get /metrics HTTP/1.1\r\n\r\n", H::BadMethod},
        {"G(T /metrics HTTP/1.1\r\n\r\n", H::Bad},                    // not a token
        {"GET http://127.0.0.1/metrics HTTP/1.1\r\n\r\n", H::Bad},    // absolute URI
        {"GET * HTTP/1.1\r\n\r\n", H::Bad},
        {"GET /metrics HTTP/2.0\r\n\r\n", H::Bad},
        {"GET /metrics HTTP/1.1 x\r\n\r\n", H::Bad},
        {"GET  /metrics HTTP/1.1\r\n\r\n", H::Bad},
        {"GET /metrics\r\n\r\n", H::Bad},                              // HTTP/0.9
        {"GET /metrics HTTP/1.1\n\n", H::Bad},                         // no CRLF
        {"GET /metrics HTTP/1.1\nHost: x\r\n\r\n", H::Bad},
        {"GET /metrics HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", H::Bad},    // bare CR
        {std::string("GET /metrics HTTP/1.1\r\nHost: ") + '\0' + "x\r\n\r\n", H::Bad},
        {std::string("GET /met\0", 9), H::Bad},                        // NUL before the end
        {"GET /metrics HTTP/1.1\r\nA: b\r\n c\r\n\r\n", H::Bad},       // folding
        {"GET /metrics HTTP/1.1\r\n\tc\r\n\r\n", H::Bad},
        {"GET /metrics HTTP/1.1\r\nNo colon\r\n\r\n", H::Bad},
        {"GET /metrics HTTP/1.1\r\nA b: c\r\n\r\n", H::Bad},
        {"GET /metrics HTTP/1.1\r\n: c\r\n\r\n", H::Bad},
        {"GET /metrics HTTP/1.1\r\nA: \x01\r\n\r\n", H::Bad},
        {"GET /m\x7f HTTP/1.1\r\n\r\n", H::Bad},
        {"\r\n\r\n", H::Bad},
        {"GET /metrics HTTP/1.1\r\nX: " + std::string(exo::HTTP_MAX_HEAD, 'a') + "\r\n\r\n", H::TooLarge},
        {"GET /metrics HTTP/1.1\r\nX: " + std::string(exo::HTTP_MAX_HEAD, 'a'), H::TooLarge},
        {"GET /metrics HTTP/1.1\r\nX: " + std::string(exo::HTTP_MAX_HEAD - 30, 'a') + "\r\n\r\n", H::Metrics},
    };
    int i = 0;
    for (const Row &r : rows) {
        HttpHead got = exo::parse_http_head(r.in);
        if (got != r.want)
            fail_msg("row %d: got %d, want %d", i, (int)got, (int)r.want);
        i++;
    }
}

// Each verdict has its status line.
static void test_status_lines(void **)
{
    assert_string_equal(exo::http_status_line(HttpHead::Metrics), "200 OK");
    assert_string_equal(exo::http_status_line(HttpHead::NotFound), "404 Not Found");
    assert_string_equal(exo::http_status_line(HttpHead::BadMethod), "405 Method Not Allowed");
    assert_string_equal(exo::http_status_line(HttpHead::Bad), "400 Bad Request");
    assert_string_equal(exo::http_status_line(HttpHead::TooLarge), "431 Request Header Fields Too Large");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_table),
        cmocka_unit_test(test_status_lines),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
