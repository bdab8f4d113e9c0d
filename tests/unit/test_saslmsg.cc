// test_saslmsg.cc: golden bytes of the XOAUTH2 and OAUTHBEARER messages
// (src/plug/saslmsg.cc), the server error challenge parser, and the client
// message parsers with their refusals; plus the SASL plugin's smtp.conf
// settings parser (src/sasl/settings.cc).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include "saslmsg.hh"
#include "settings.hh"

#include <cstring>
#include <string>

using namespace exo;

static void assert_bytes(const std::string &got, const std::string &want)
{
    if (got != want)
        fail_msg("bytes differ: got %zu bytes, want %zu", got.size(), want.size());
}

static void test_golden_initial_responses(void **)
{
    assert_bytes(sasl::xoauth2_initial("relay@contoso.example", "eyJ.x.y"),
                 std::string("user=relay@contoso.example\x01" "auth=Bearer eyJ.x.y\x01\x01"));
    assert_bytes(sasl::oauthbearer_initial("relay@contoso.example", "smtp.office365.com", "587", "eyJ.x.y"),
                 std::string("n,a=relay@contoso.example,\x01" "host=smtp.office365.com\x01" "port=587\x01"
                             "auth=Bearer eyJ.x.y\x01\x01"));
    assert_bytes(sasl::oauthbearer_initial("a,b=c", "", "", "T"),
                 std::string("n,a=a=2Cb=3Dc,\x01" "auth=Bearer T\x01\x01"));
    assert_bytes(sasl::error_reply(false), "");
    assert_bytes(sasl::error_reply(true), "\x01");
}

static void test_round_trip(void **)
{
    sasl::ClientMessage m;
    std::string e;
    assert_true(sasl::parse_xoauth2(sasl::xoauth2_initial("u@x", "tok"), m, e));
    assert_string_equal(m.user.c_str(), "u@x");
    assert_string_equal(m.token.c_str(), "tok");
    assert_true(sasl::parse_oauthbearer(sasl::oauthbearer_initial("a,b=c", "h", "25", "tok"), m, e));
    assert_string_equal(m.user.c_str(), "a,b=c");
    assert_string_equal(m.host.c_str(), "h");
    assert_string_equal(m.port.c_str(), "25");
    assert_string_equal(m.token.c_str(), "tok");
    assert_true(sasl::parse_oauthbearer(std::string("n,,\x01" "auth=bearer T\x01\x01"), m, e));
    assert_string_equal(m.user.c_str(), "");
}

static void test_client_message_refusals(void **)
{
    struct Row { bool bearer; std::string msg; const char *why; } rows[] = {
        {false, "user=u\x01" "auth=Bearer t\x01", "two ^A"},
        {false, "user=u\x01" "auth=Basic t\x01\x01", "not a Bearer"},
        {false, "auth=Bearer t\x01\x01", "no user"},
        {false, "user=u\x01" "auth=Bearer \x01\x01", "empty or malformed"},
        {false, "user=u\x01" "auth=Bearer a b\x01\x01", "empty or malformed"},
        {false, "user=u\x01\x01" "auth=Bearer t\x01\x01", "malformed key=value"},
        {false, "user=u\x01" "user=v\x01" "auth=Bearer t\x01\x01", "duplicate key"},
        {false, "=u\x01" "auth=Bearer t\x01\x01", "malformed key=value"},
        {false, std::string(sasl::MAX_MESSAGE + 1, 'a'), "too long"},
        {true, "p=tls-unique,,\x01" "auth=Bearer t\x01\x01", "GS2 header"},
        {true, "n,a=u\x01" "auth=Bearer t\x01\x01", "GS2 header"},
        {true, "n,a=u=2X,\x01" "auth=Bearer t\x01\x01", "bad authzid"},
        {true, "n,x=u,\x01" "auth=Bearer t\x01\x01", "bad authzid"},
        {true, "n,a=u," "auth=Bearer t\x01\x01", "no ^A after"},
        {true, "n,a=u,\x01" "host=h\x01\x01", "not a Bearer"},
        {true, "", "GS2 header"},
    };
    for (const Row &r : rows) {
        sasl::ClientMessage m;
        m.user = "unchanged";
        std::string e;
        bool ok = r.bearer ? sasl::parse_oauthbearer(r.msg, m, e) : sasl::parse_xoauth2(r.msg, m, e);
        assert_false(ok);
        assert_string_equal(m.user.c_str(), "unchanged");
        if (e.find(r.why) == std::string::npos)
            fail_msg("got \"%s\", want \"%s\"", e.c_str(), r.why);
    }
}

static void test_server_error(void **)
{
    sasl::ServerError se;
    std::string e;
    assert_true(sasl::parse_server_error("{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"https://x/.default\"}",
                                         se, e));
    assert_string_equal(se.status.c_str(), "401");
    assert_string_equal(se.schemes.c_str(), "bearer");
    assert_true(sasl::parse_server_error("{\"status\":\"invalid_token\"}", se, e));
    assert_string_equal(se.status.c_str(), "invalid_token");
    const char *bad[] = {"", "401", "[]", "{}", "{\"status\":401}", "{\"status\":\"\"}", "{\"status\":\"a\"",
                         "{\"status\":\"a\",\"status\":\"b\"}"};
    for (const char *b : bad) {
        sasl::ServerError keep;
        keep.status = "kept";
        assert_false(sasl::parse_server_error(b, keep, e));
        assert_string_equal(keep.status.c_str(), "kept");
    }
    assert_false(sasl::parse_server_error(std::string(sasl::MAX_MESSAGE + 1, ' '), se, e));
}

static void test_port_of(void **)
{
    assert_string_equal(sasl::port_of("127.0.0.1;587").c_str(), "587");
    assert_string_equal(sasl::port_of("::1;25").c_str(), "25");
    assert_string_equal(sasl::port_of("127.0.0.1").c_str(), "");
    assert_string_equal(sasl::port_of("127.0.0.1;").c_str(), "");
    assert_string_equal(sasl::port_of("127.0.0.1;123456").c_str(), "");
    assert_string_equal(sasl::port_of("127.0.0.1;2a").c_str(), "");
}

static void test_settings(void **)
{
    saslplug::Settings s;
    std::string e;
    assert_true(saslplug::parse_settings("pwcheck_method: saslauthd\n# c\n exoauth_socket: /s/x.sock \n"
                                         "exoauth_timeout: 3\r\n", s, e));
    assert_string_equal(s.socket.c_str(), "/s/x.sock");
    assert_int_equal(s.timeout_ms, 3000);
    assert_true(saslplug::parse_settings("exoauth_socket: exoauth/a..b.sock\n", s, e));  // a name, not ".."
    assert_string_equal(s.socket.c_str(), "exoauth/a..b.sock");
    struct Row { std::string text; const char *why; } rows[] = {
        {"exoauth_socket relative\n", "line 1: expected \"key: value\""},
        {"x: y\nexoauth_socket: ../x.sock\n", "line 2: exoauth_socket must be"},
        {"exoauth_socket: \n", "line 1: exoauth_socket must be"},
        {"exoauth_socket: exoauth/../x.sock\n", "line 1: exoauth_socket must be"},
        {"exoauth_socket: /run/..\n", "line 1: exoauth_socket must be"},
        {"exoauth_socket: " + std::string(108, 'a') + "\n", "line 1: exoauth_socket must be"},
        {"exoauth_socket: /x\x01\n", "line 1: exoauth_socket must be"},
        {"exoauth_timeout: 0\n", "line 1: exoauth_timeout must be 1 to 30"},
        {"exoauth_timeout: 31\n", "line 1: exoauth_timeout must be 1 to 30"},
        {"exoauth_timeout: 1s\n", "line 1: exoauth_timeout must be 1 to 30"},
        {"exoauth_timeout: 999\n", "line 1: exoauth_timeout must be 1 to 30"},
        {"exoauth_sockett: /x\n", "line 1: unknown key \"exoauth_sockett\" (known: exoauth_socket, exoauth_timeout)"},
    };
    for (const Row &r : rows) {
        saslplug::Settings keep;
        assert_false(saslplug::parse_settings(r.text, keep, e));
        assert_string_equal(keep.socket.c_str(), "exoauth/exoauthd.sock");
        assert_int_equal(keep.timeout_ms, 5000);
        if (e.compare(0, strlen(r.why), r.why) != 0)
            fail_msg("got \"%s\", want \"%s\"", e.c_str(), r.why);
    }
    assert_false(saslplug::parse_settings(std::string(70000, '#'), s, e));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_initial_responses), cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_client_message_refusals),  cmocka_unit_test(test_server_error),
        cmocka_unit_test(test_port_of),                  cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
