// test_dvargs.cc: cmocka tables for the Dovecot passdb's args line (2.3),
// its exoauth_KEY settings (2.4), and the
// token pre-checks (src/dovecot/args.cc): defaults, accepted forms, every
// refusal with its reason, and that a refused line changes nothing.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include "args.hh"

#include <cstring>
#include <string>

using namespace exo::dovecot;

static void test_defaults_and_accepted(void **)
{
    PluginArgs a;
    std::string error;
    assert_true(parse_args("", a, error));
    assert_string_equal(a.socket.c_str(), "/run/exoauth/exoauthd.sock");
    assert_int_equal(a.timeout_ms, 5000);
    assert_int_equal(a.cache_ttl, 60);
    assert_true(parse_args("socket=/var/spool/x.sock  timeout=2s max_token=9000", a, error));
    assert_string_equal(a.socket.c_str(), "/var/spool/x.sock");
    assert_int_equal(a.timeout_ms, 2000);
    assert_int_equal(a.max_token, 9000);
    assert_true(parse_args("timeout=2500ms", a, error));
    assert_int_equal(a.timeout_ms, 2500);
    assert_true(parse_args("timeout=700", a, error));
    assert_int_equal(a.timeout_ms, 700);
    assert_true(parse_args("cache_ttl=0", a, error));
    assert_int_equal(a.cache_ttl, 0);
    assert_false(a.proxy);
    assert_true(parse_args("mode=proxy proxy_host=127.0.0.1 imap_port=10993 pop3_port=10995 proxy_ssl=starttls",
                           a, error));
    assert_true(a.proxy);
    assert_string_equal(a.proxy_host.c_str(), "127.0.0.1");
    assert_int_equal(a.imap_port, 10993);
    assert_int_equal(a.pop3_port, 10995);
    assert_string_equal(a.proxy_ssl.c_str(), "starttls");
    PluginArgs d;
    assert_string_equal(d.proxy_host.c_str(), "outlook.office365.com");
    assert_int_equal(d.imap_port, 993);
    assert_int_equal(d.pop3_port, 995);
    assert_string_equal(d.proxy_ssl.c_str(), "yes");
}

static void test_refused(void **)
{
    struct Row { std::string args; const char *reason; } rows[] = {
        {"socket", "expected key=value"},
        {"=x", "expected key=value"},
        {"socket=relative.sock", "absolute path"},
        {"socket=", "absolute path"},
        {"socket=/" + std::string(120, 'a'), "absolute path"},
        {"socket=/run/../x.sock", "without a \"..\" component"},
        {"socket=/run/exoauth/..", "without a \"..\" component"},
        {"socket=/run/x\x01.sock", "socket must be"},
        {"socket=/" + std::string(107, 'a'), "at most 107 bytes"},
        {"timeout=0", "timeout must be"},
        {"cache_ttl=3601", "cache_ttl must be"},
        {"cache_ttl=1s", "cache_ttl must be"},
        {"timeout=99ms", "timeout must be"},
        {"timeout=61s", "timeout must be"},
        {"timeout=5m", "timeout must be"},
        {"timeout=-5", "timeout must be"},
        {"timeout=99999999999999999999", "timeout must be"},
        {"timeout=s", "timeout must be"},
        {"max_token=10", "max_token must be"},
        {"max_token=99999", "max_token must be"},
        {"max_token=1k", "max_token must be"},
        {"sockt=/x", "unknown key \"sockt\""},
        {"mode=both", "mode must be validate or proxy"},
        {"proxy_host=", "proxy_host must be"},
        {"proxy_host=a/b", "proxy_host must be"},
        {"imap_port=0", "imap_port must be 1 to 65535"},
        {"pop3_port=65536", "pop3_port must be 1 to 65535"},
        {"proxy_ssl=no", "proxy_ssl must be yes or starttls"},
        {"socket=/ok timeout=1s bogus=1", "unknown key \"bogus\""},
    };
    for (const Row &r : rows) {
        PluginArgs a;
        std::string error;
        assert_false(parse_args(r.args, a, error));
        if (error.find(r.reason) == std::string::npos)
            fail_msg("args \"%s\": got \"%s\", want \"%s\"", r.args.c_str(), error.c_str(), r.reason);
        assert_string_equal(a.socket.c_str(), "/run/exoauth/exoauthd.sock");
        assert_int_equal(a.timeout_ms, 5000);
    }
}

// Dovecot 2.4's exoauth_KEY settings: one key at a time through the same
// table; a bad value or an unknown key is refused with the key named and
// leaves the earlier values alone.
static void test_apply_setting(void **)
{
    struct Case {
        const char *key, *value;
        bool ok;
        const char *in_error;
    } cases[] = {
        {"mode", "proxy", true, ""},
        {"timeout", "2s", true, ""},
        {"imap_port", "10993", true, ""},
        {"proxy_ssl", "starttls", true, ""},
        {"mode", "both", false, "mode"},
        {"timeout", "0", false, "timeout"},
        {"imap_port", "70000", false, "imap_port"},
        {"proxy_ssl", "no", false, "proxy_ssl"},
        {"socket", "relative.sock", false, "socket"},
        {"sockett", "/run/x.sock", false, "sockett"},
        {"max_token", "", false, "max_token"},
    };
    PluginArgs a;
    for (const Case &c : cases) {
        std::string error;
        PluginArgs before = a;
        assert_int_equal(apply_setting(c.key, c.value, a, error), c.ok);
        if (!c.ok) {
            assert_non_null(strstr(error.c_str(), c.in_error));
            assert_int_equal(a.timeout_ms, before.timeout_ms);
            assert_int_equal(a.imap_port, before.imap_port);
            assert_true(a.proxy_ssl == before.proxy_ssl && a.socket == before.socket);
        }
    }
    assert_true(a.proxy);
    assert_int_equal(a.timeout_ms, 2000);
    assert_int_equal(a.imap_port, 10993);
    assert_string_equal(a.proxy_ssl.c_str(), "starttls");
}

static void test_token_problem(void **)
{
    assert_string_equal(token_problem("eyJ.a.b", 100).c_str(), "");
    assert_string_equal(token_problem("", 100).c_str(), "empty token");
    assert_string_equal(token_problem(std::string(101, 'a'), 100).c_str(),
                        "token of 101 bytes is above max_token=100");
    assert_string_equal(token_problem("a\tb", 100).c_str(), "token holds control bytes");
    assert_string_equal(token_problem("a\nb", 100).c_str(), "token holds control bytes");
    assert_string_equal(token_problem(std::string("a\0b", 3), 100).c_str(), "token holds control bytes");
    assert_string_equal(token_problem("a\x7f", 100).c_str(), "token holds control bytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_accepted),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_apply_setting),
        cmocka_unit_test(test_token_problem),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
