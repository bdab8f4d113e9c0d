// test_protocol.cc: cmocka tables for the exoauthd protocol codec
// (src/plug/protocol.cc): request and response parsing with every class of
// bad input, formatting and sanitising, the VERSION line, and the line
// buffer's limits.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include "protocol.hh"

#include <algorithm>

#include <string>

using namespace exo::proto;

namespace {
struct ReqRow {
    std::string line;
    Parse expect;
    const char *id;      // expected id when not Fatal
    const char *reason;  // fragment of the error when not Ok
};

const ReqRow REQUESTS[] = {
    {"1\tPING", Parse::Ok, "1", ""},
    {"abcXYZ09\tTOKEN\taccount=relay", Parse::Ok, "abcXYZ09", ""},
    {"1\tTOKEN\taccount=", Parse::Ok, "1", ""},
    {"1\tTOKEN\tk=a=b=c", Parse::Ok, "1", ""},
    {"1\tSTATUS-ALL", Parse::Ok, "1", ""},
    {"1\tTOKEN\taccount=caf\xc3\xa9", Parse::Ok, "1", ""},
    {"1234567890123456\tPING", Parse::Ok, "1234567890123456", ""},
    {"", Parse::Fatal, "", "empty"},
    {"\tPING", Parse::Fatal, "", "id"},
    {"12345678901234567\tPING", Parse::Fatal, "", "id"},
    {"a-b\tPING", Parse::Fatal, "", "id"},
    {"*\tPING", Parse::Fatal, "", "id"},
    {"1 PING", Parse::Fatal, "", "id"},
    {"1", Parse::Error, "1", "command"},
    {"1\t", Parse::Error, "1", "command"},
    {"1\tping", Parse::Error, "1", "command"},
    {"1\t-PING", Parse::Error, "1", "command"},
    {"1\tPI NG", Parse::Error, "1", "command"},
    {"1\tABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", Parse::Error, "1", "command"},
    {"1\tTOKEN\taccount", Parse::Error, "1", "="},
    {"1\tTOKEN\t=relay", Parse::Error, "1", "key"},
    {"1\tTOKEN\tAccount=relay", Parse::Error, "1", "key"},
    {"1\tTOKEN\tacc-ount=relay", Parse::Error, "1", "key"},
    {"1\tTOKEN\taaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=x", Parse::Error, "1", "key"},
    {"1\tTOKEN\taccount=a\rb", Parse::Error, "1", "byte"},
    {"1\tTOKEN\taccount=a\x7f", Parse::Error, "1", "byte"},
    {"1\tTOKEN\taccount=a\x01", Parse::Error, "1", "byte"},
    {"1\tTOKEN\taccount=a\taccount=b", Parse::Error, "1", "duplicate"},
    {"1\tTOKEN\t", Parse::Error, "1", "="},
    {"1\tTOKEN\taccount=a\t\tx=y", Parse::Error, "1", "="},
    {"1\tPING\r", Parse::Error, "1", "command"},
};

// A line with n key=value fields.
std::string many_fields(int n)
{
    std::string s = "7\tTOKEN";
    for (int i = 0; i < n; i++)
        s += "\tk" + std::to_string(i) + "=v";
    return s;
}
} // namespace

// Every row gets its expected verdict, id and reason.
static void test_request_table(void **)
{
    for (const ReqRow &r : REQUESTS) {
        Request req;
        std::string error;
        Parse p = parse_request(r.line, req, error);
        if (p != r.expect)
            fail_msg("line '%s': verdict %d, want %d (%s)", r.line.c_str(), (int)p, (int)r.expect,
                     error.c_str());
        if (p != Parse::Fatal && req.id != r.id)
            fail_msg("line '%s': id '%s'", r.line.c_str(), req.id.c_str());
        if (p != Parse::Ok && error.find(r.reason) == std::string::npos)
            fail_msg("line '%s': reason '%s' lacks '%s'", r.line.c_str(), error.c_str(), r.reason);
    }
}

// Fields are split at the first '=' and kept in order.
static void test_request_fields(void **)
{
    Request req;
    std::string error;
    assert_int_equal((int)parse_request("9\tTOKEN\taccount=relay\tmailbox=a=b", req, error), (int)Parse::Ok);
    assert_string_equal(req.command.c_str(), "TOKEN");
    assert_int_equal(req.args.size(), 2);
    assert_string_equal(req.arg("account")->c_str(), "relay");
    assert_string_equal(req.arg("mailbox")->c_str(), "a=b");
    assert_null(req.arg("nosuch"));
}

// 32 fields pass, 33 do not; a line over MAX_LINE is fatal.
static void test_request_limits(void **)
{
    Request req;
    std::string error;
    assert_int_equal((int)parse_request(many_fields(32), req, error), (int)Parse::Ok);
    assert_int_equal((int)parse_request(many_fields(33), req, error), (int)Parse::Error);
    std::string big = "1\tTOKEN\taccount=" + std::string(MAX_LINE, 'a');
    assert_int_equal((int)parse_request(big, req, error), (int)Parse::Fatal);
}

// Responses: good lines parse, bad ones are refused.
static void test_response_table(void **)
{
    struct Row { const char *line; bool ok; const char *status; } rows[] = {
        {"1\tOK", true, "OK"},
        {"1\tOK\ttoken=abc.def\texpires=123\thash=0123456789ab", true, "OK"},
        {"*\tERROR\treason=not allowed", true, "ERROR"},
        {"1\tFAIL\tkind=temp\tcode=idp_unavailable\treason=x", true, "FAIL"},
        {"1", false, ""},
        {"\tOK", false, ""},
        {"1\tok", false, ""},
        {"1\tOK\tnoequals", false, ""},
        {"1\tOK\ta=1\ta=2", false, ""},
        {"1\tOK\ta=\x01", false, ""},
        {"**\tOK", false, ""},
    };
    for (const Row &r : rows) {
        Response resp;
        std::string error;
        bool ok = parse_response(r.line, resp, error);
        if (ok != r.ok || (ok && resp.status != r.status))
            fail_msg("response '%s': ok=%d status=%s", r.line, ok, resp.status.c_str());
    }
    Response resp;
    std::string error;
    assert_true(parse_response("5\tOK\ttoken=t\texpires=9", resp, error));
    assert_string_equal(resp.get("expires")->c_str(), "9");
}

// VERSION lines.
static void test_version(void **)
{
    struct Row { const char *line; bool ok; int major, minor; } rows[] = {
        {"VERSION\t1\t0", true, 1, 0}, {"VERSION\t2\t17", true, 2, 17}, {"VERSION\t1", false, 0, 0},
        {"VERSION 1 0", false, 0, 0},  {"VERSION\t1\t0\t0", false, 0, 0}, {"VERSION\tx\t0", false, 0, 0},
        {"VERSION\t\t0", false, 0, 0}, {"VERSION\t99999\t0", false, 0, 0}, {"version\t1\t0", false, 0, 0},
    };
    for (const Row &r : rows) {
        int major = -1, minor = -1;
        bool ok = parse_version(r.line, major, minor);
        if (ok != r.ok || (ok && (major != r.major || minor != r.minor)))
            fail_msg("version '%s'", r.line);
    }
    assert_string_equal(format_version().c_str(), "VERSION\t1\t0\n");
}

// format_line never emits control bytes; sanitize cuts without splitting UTF-8.
static void test_format_and_sanitize(void **)
{
    assert_string_equal(format_line("1", "OK", {{"a", "b"}, {"c", ""}}).c_str(), "1\tOK\ta=b\tc=\n");
    assert_string_equal(format_line("1", "FAIL", {{"reason", "x\ny\tz"}}).c_str(),
                        "1\tFAIL\treason=x y z\n");
    assert_string_equal(sanitize("ab\r\ncd", 100).c_str(), "ab  cd");
    assert_string_equal(sanitize("abcdef", 3).c_str(), "abc");
    assert_string_equal(sanitize("ab\xc3\xa9", 3).c_str(), "ab");
    assert_true(value_ok("plain text = fine"));
    assert_false(value_ok("tab\there"));
}

// LineBuffer: split input, several lines, limits, NUL.
static void test_line_buffer(void **)
{
    LineBuffer b(10);
    std::string line;
    b.append("ab", 2);
    assert_int_equal((int)b.next(line), (int)LineBuffer::Next::NeedMore);
    b.append("c\nd\ne", 5);
    assert_int_equal((int)b.next(line), (int)LineBuffer::Next::Line);
    assert_string_equal(line.c_str(), "abc");
    assert_int_equal((int)b.next(line), (int)LineBuffer::Next::Line);
    assert_string_equal(line.c_str(), "d");
    assert_int_equal((int)b.next(line), (int)LineBuffer::Next::NeedMore);
    b.append("123456789\n", 10);
    assert_int_equal((int)b.next(line), (int)LineBuffer::Next::Line);
    assert_string_equal(line.c_str(), "e123456789");
    b.append("12345678901", 11);
    assert_int_equal((int)b.next(line), (int)LineBuffer::Next::TooLong);
    LineBuffer n(10);
    n.append("a\0b\n", 4);
    assert_int_equal((int)n.next(line), (int)LineBuffer::Next::Binary);
    LineBuffer e(10);
    e.append("\n", 1);
    assert_int_equal((int)e.next(line), (int)LineBuffer::Next::Line);
    assert_true(line.empty());
}

// OutBuffer: bytes leave in order through any split of sends, and a
// drained buffer gives its storage back (a burst does not stay resident).
static void test_out_buffer(void **)
{
    struct Row { size_t chunk; } rows[] = {{1}, {7}, {100}, {4096}, {1 << 20}};
    for (const Row &r : rows) {
        OutBuffer o;
        std::string want;
        for (int i = 0; i < 2000; i++) {
            std::string line = std::to_string(i) + "\tOK\ttoken=" + std::string(200, 'a' + i % 26) + "\n";
            o.append(line);
            want += line;
        }
        std::string got;
        while (!o.empty()) {
            size_t n = std::min(r.chunk, o.size());
            got.append(o.data(), n);
            o.consume(n);
        }
        if (got != want)
            fail_msg("chunk %zu: bytes out of order", r.chunk);
        if (o.capacity() > 4096)
            fail_msg("chunk %zu: drained buffer keeps %zu bytes", r.chunk, o.capacity());
    }
}

// LineBuffer: a big read, consumed line by line, leaves no big storage.
static void test_line_buffer_releases(void **)
{
    LineBuffer b;
    std::string burst;
    for (int i = 0; i < 3000; i++)
        burst += std::to_string(i) + "\tVALIDATE\ttoken=x\n";
    b.append(burst.data(), burst.size());
    b.append("partial", 7);
    std::string line;
    int lines = 0;
    while (b.next(line) == LineBuffer::Next::Line)
        lines++;
    assert_int_equal(lines, 3000);
    assert_int_equal(b.buffered(), 7);
    b.append("\n", 1);
    assert_int_equal((int)b.next(line), (int)LineBuffer::Next::Line);
    assert_string_equal(line.c_str(), "partial");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_table),  cmocka_unit_test(test_request_fields),
        cmocka_unit_test(test_request_limits), cmocka_unit_test(test_response_table),
        cmocka_unit_test(test_version),        cmocka_unit_test(test_format_and_sanitize),
        cmocka_unit_test(test_line_buffer),    cmocka_unit_test(test_out_buffer),
        cmocka_unit_test(test_line_buffer_releases),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
