// test_plugconf.cc: cmocka tables for what every settings parser shares
// (src/plug/plugconf.cc): the one socket-path rule with both bases, trim,
// bounded numbers, and the key-table helper (unknown keys, refused values
// leave the settings alone).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include <cmocka.h>
}

#include "plugconf.hh"

#include <string>

using exo::SocketBase;

// One path, whether each base accepts it, and the reason when refused.
struct PathRow {
    std::string path;
    bool absolute_ok;  // SocketBase::None
    bool relative_ok;  // SocketBase::QueueDir
    const char *why;   // fragment of the reason (a relative path without a base:
                       // "expected an absolute path"), "" when both accept
};

const PathRow kPaths[] = {
    {"/run/exoauth/exoauthd.sock", true, true, ""},
    {"/" + std::string(106, 'a'), true, true, ""},
    {"/run/a..b/x.sock", true, true, ""},                // ".." inside a name is a name
    {"/run/..x/x..", true, true, ""},
    {"exoauth/exoauthd.sock", false, true, "expected an absolute path"},
    {"./x.sock", false, true, "expected an absolute path"},
    {"", false, false, "path"},
    {"/" + std::string(107, 'a'), false, false, "longer than 107 bytes"},
    {std::string(108, 'a'), false, false, "107 bytes"},
    {"/run/../x.sock", false, false, "\"..\" is not allowed as a path component"},
    {"/run/exoauth/..", false, false, "\"..\""},
    {"../x.sock", false, false, "\"..\""},
    {"exoauth/../../x.sock", false, false, "\"..\""},
    {"..", false, false, "\"..\""},
    {"/run//../x", false, false, "\"..\""},
    {"/run/x\n.sock", false, false, "control character"},
    {"/run/x\t.sock", false, false, "control character"},
    {std::string("/run/x\0.sock", 12), false, false, "control character"},
    {"/run/x\x7f", false, false, "control character"},
};

// Checks one path against one base: accepted or refused with the reason.
static void check_path(const PathRow &r, SocketBase base, bool want, const char *fragment)
{
    std::string why;
    bool ok = exo::socket_path_ok(r.path, base, why);
    if (ok != want)
        fail_msg("\"%s\" base %d: got %d (%s)", r.path.c_str(), (int)base, ok, why.c_str());
    if (!ok && why.find(fragment) == std::string::npos)
        fail_msg("\"%s\": got \"%s\", want \"%s\"", r.path.c_str(), why.c_str(), fragment);
}

static void test_socket_path_rule(void **)
{
    for (const PathRow &r : kPaths) {
        bool relative = r.path.empty() || r.path[0] != '/';
        check_path(r, SocketBase::None, r.absolute_ok, relative ? "expected an absolute path" : r.why);
        check_path(r, SocketBase::QueueDir, r.relative_ok, r.why);
    }
}

static void test_trim_and_numbers(void **)
{
    assert_true(exo::trim(" \t a b \t") == "a b");
    assert_true(exo::trim("\ra\r") == "\ra\r");
    assert_true(exo::trim(" \t ").empty());
    struct Row { const char *v; size_t digits; unsigned long lo, hi; bool ok; unsigned long n; } rows[] = {
        {"5", 2, 1, 30, true, 5},     {"05", 2, 1, 30, true, 5},  {"30", 2, 1, 30, true, 30},
        {"005", 2, 1, 30, false, 0},  {"0", 2, 1, 30, false, 0},  {"31", 2, 1, 30, false, 0},
        {"", 2, 1, 30, false, 0},     {"-1", 2, 0, 30, false, 0}, {"+1", 2, 0, 30, false, 0},
        {"1 ", 2, 0, 30, false, 0},   {"1s", 3, 0, 30, false, 0},
        {"999999999999", 12, 0, 999999999999ul, true, 999999999999ul},
        {"9999999999999", 12, 0, 999999999999ul, false, 0},
    };
    for (const Row &r : rows) {
        unsigned long n = 0;
        bool ok = exo::plugconf::number_in(r.v, r.digits, r.lo, r.hi, n);
        if (ok != r.ok || n != r.n)
            fail_msg("\"%s\": got %d %lu", r.v, ok, n);
    }
}

struct Toy {
    int a = 1;
    int b = 2;
};

// a: "x" only.
static bool set_a(Toy &t, std::string_view v)
{
    if (v != "x")
        return false;
    t.a = 10;
    return true;
}

// b: anything.
static bool set_b(Toy &t, std::string_view)
{
    t.b = 20;
    return true;
}

const exo::plugconf::Key<Toy> kToyKeys[] = {{"a", "x", set_a}, {"b", "anything", set_b}};

static void test_key_table(void **)
{
    Toy t;
    std::string why;
    assert_true(exo::plugconf::apply(kToyKeys, "b", "", t, why));
    assert_int_equal(t.b, 20);
    assert_false(exo::plugconf::apply(kToyKeys, "a", "y", t, why));
    assert_string_equal(why.c_str(), "a must be x");
    assert_int_equal(t.a, 1);
    assert_false(exo::plugconf::apply(kToyKeys, "c\x01", "x", t, why));
    assert_string_equal(why.c_str(), "unknown key \"c \" (known: a, b)");
    assert_false(exo::plugconf::apply(kToyKeys, std::string(100, 'k'), "x", t, why));
    assert_string_equal(why.c_str(), ("unknown key \"" + std::string(64, 'k') + "\" (known: a, b)").c_str());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_socket_path_rule),
        cmocka_unit_test(test_trim_and_numbers),
        cmocka_unit_test(test_key_table),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
