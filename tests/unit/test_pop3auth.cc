// test_pop3auth.cc: cmocka tables for exoauth-pop3-bridge's one rewrite
// (src/bridge/pop3auth.hh): which client lines are split into "AUTH MECH"
// plus the response, what each half holds, and which lines pass unchanged.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include <cmocka.h>
}

#include "pop3auth.hh"

#include <cstdio>
#include <string>

using exo::bridge::is_continuation;
using exo::bridge::kAuthLineLimit;
using exo::bridge::split_auth;

// "AUTH <mech> " + n base64 bytes + CRLF.
static std::string auth_line(const char *verb, const char *mech, size_t n)
{
    return std::string(verb) + " " + mech + " " + std::string(n, 'A') + "\r\n";
}

// Lines at, under and over the limit; malformed AUTH lines pass unchanged.
static void test_split_table(void **)
{
    // "AUTH XOAUTH2 " is 13 octets, CRLF 2: 240 base64 bytes make exactly 255.
    struct Row { std::string line; bool split; const char *command; size_t response; } rows[] = {
        {auth_line("AUTH", "XOAUTH2", 240), false, "", 0},
        {auth_line("AUTH", "XOAUTH2", 241), true, "AUTH XOAUTH2\r\n", 243},
        {auth_line("auth", "xoauth2", 2000), true, "auth xoauth2\r\n", 2002},
        {auth_line("AUTH", "OAUTHBEARER", 3000), true, "AUTH OAUTHBEARER\r\n", 3002},
        {"AUTH XOAUTH2\r\n", false, "", 0},
        {"AUTH XOAUTH2 =\r\n", false, "", 0},
        {"AUTH XOAUTH2 " + std::string(300, 'A'), false, "", 0},            // no CRLF
        {"AUTH XOAUTH2 " + std::string(300, 'A') + "\n", false, "", 0},    // bare LF
        {"AUTH XOAUTH2 " + std::string(300, '!') + "\r\n", false, "", 0},  // not base64
        {"AUTH XOAUTH2 " + std::string(150, 'A') + " " + std::string(150, 'A') + "\r\n", false, "", 0},
        {"AUTH " + std::string(21, 'X') + " " + std::string(300, 'A') + "\r\n", false, "", 0},  // mech > 20
        {"AUTH XO.AUTH " + std::string(300, 'A') + "\r\n", false, "", 0},
        {"AUTHX XOAUTH2 " + std::string(300, 'A') + "\r\n", false, "", 0},
        {"USER " + std::string(300, 'a') + "\r\n", false, "", 0},
        {"AUTH  " + std::string(300, 'A') + "\r\n", false, "", 0},          // empty mechanism
        {"", false, "", 0},
    };
    int i = 0;
    for (const Row &r : rows) {
        std::string command = "unchanged", response = "unchanged";
        bool got = split_auth(r.line, kAuthLineLimit, command, response);
        if (got != r.split)
            fail_msg("row %d: split %d, want %d", i, got, r.split);
        if (r.split) {
            assert_string_equal(command.c_str(), r.command);
            assert_int_equal(response.size(), r.response);
            assert_true(response.compare(0, 4, "AAAA") == 0 && response.substr(response.size() - 2) == "\r\n");
        } else {
            assert_string_equal(command.c_str(), "unchanged");
            assert_string_equal(response.c_str(), "unchanged");
        }
        i++;
    }
}

// "+" then space or the line's end is a continuation; "+OK" is not.
static void test_continuation_table(void **)
{
    struct Row { const char *line; bool want; } rows[] = {
        {"+ \r\n", true}, {"+\r\n", true}, {"+", true}, {"+ abc\r\n", true},
        {"+OK\r\n", false}, {"-ERR Protocol error\r\n", false}, {"", false}, {" +\r\n", false},
    };
    for (const Row &r : rows)
        if (is_continuation(r.line) != r.want)
            fail_msg("\"%s\": want %d", r.line, r.want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_table),
        cmocka_unit_test(test_continuation_table),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
