// test_entra.cc: cmocka tables for reading Entra ID answers
// (src/core/entra.cc): each success and failure class of the token
// endpoint, AADSTS codes and hints, device-code answers, and that no token
// or trace blob reaches a message. Also form encoding and JSON bounds.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include "entra.hh"
#include "json.hh"

#include <cstring>
#include <string>

using namespace exo;

namespace {
// An HttpResponse with status, body and Retry-After.
HttpResponse answer(long status, const std::string &body, int retry_after = -1)
{
    HttpResponse r;
    r.status = status;
    r.body = Secret(body);
    r.retry_after = retry_after;
    if (status == 0)
        r.error = "Couldn't connect to server";
    return r;
}

const char *OK_BODY = R"({"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0.eyJ1.sig"})";

struct Row {
    long status;
    std::string body;
    int retry_after;
    Outcome outcome;
    const char *message; // fragment, "" = any
    long aadsts;
};

const Row ROWS[] = {
    {200, OK_BODY, -1, Outcome::Ok, "", 0},
    {200, R"({"token_type":"bearer","expires_in":"3599","access_token":"a.b.c","refresh_token":"rt"})", -1, Outcome::Ok, "", 0},
    {200, R"({"token_type":"Bearer","expires_in":3599})", -1, Outcome::Temporary, "access_token", 0},
    {200, R"({"token_type":"Bearer","expires_in":3599,"access_token":""})", -1, Outcome::Temporary, "access_token", 0},
    {200, R"({"token_type":"Bearer","expires_in":3599,"access_token":"a b"})", -1, Outcome::Temporary, "access_token", 0},
    {200, R"({"token_type":"Bearer","expires_in":0,"access_token":"a"})", -1, Outcome::Temporary, "expires_in", 0},
    {200, R"({"token_type":"Bearer","expires_in":99999999,"access_token":"a"})", -1, Outcome::Temporary, "expires_in", 0},
    {200, R"({"token_type":"Bearer","expires_in":"12x","access_token":"a"})", -1, Outcome::Temporary, "expires_in", 0},
    {200, R"({"token_type":"MAC","expires_in":1,"access_token":"a"})", -1, Outcome::Temporary, "Bearer", 0},
    {200, R"({"token_type":"Bearer","expires_in":1,"access_token":"a","refresh_token":7})", -1, Outcome::Ok, "", 0},
    {200, R"({"token_type":"Bearer","expires_in":1,"access_token":"a","refresh_token":"r r"})", -1, Outcome::Temporary, "refresh_token", 0},
    {200, R"({"token_type":"Bearer","token_type":"Bearer","expires_in":1,"access_token":"a"})", -1, Outcome::Temporary, "JSON", 0},
    {200, R"({"token_type":"Bearer","access_tok)", -1, Outcome::Temporary, "JSON", 0},
    {200, "[1,2]", -1, Outcome::Temporary, "object", 0},
    {200, "", -1, Outcome::Temporary, "", 0},
    {0, "", -1, Outcome::Temporary, "unreachable", 0},
    {503, "Service Unavailable", -1, Outcome::Temporary, "503", 0},
    {500, R"({"error":"server_error","error_description":"AADSTS90033: A transient error."})", -1, Outcome::Temporary, "AADSTS90033", 90033},
    {429, "", 7, Outcome::RateLimited, "429", 0},
    {429, "", -1, Outcome::RateLimited, "429", 0},
    {401, R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure...\r\nTrace ID: abc\r\nCorrelation ID: def","error_codes":[7000215]})", -1, Outcome::Permanent, "VALUE, not its ID", 7000215},
    {401, R"({"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys are expired.","error_codes":[7000222]})", -1, Outcome::Permanent, "expired", 7000222},
    {400, R"({"error":"invalid_client","error_description":"AADSTS700027: Client assertion failed signature validation.","error_codes":[700027]})", -1, Outcome::Permanent, "certificate", 700027},
    {400, R"({"error":"invalid_grant","error_description":"AADSTS65001: The user or administrator has not consented."})", -1, Outcome::Permanent, "consent", 65001},
    {400, R"({"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired.","error_codes":[700082]})", -1, Outcome::Permanent, "exoauthctl login", 700082},
    {400, R"({"error":"authorization_pending","error_codes":[70016]})", -1, Outcome::Pending, "", 70016},
    {400, R"({"error":"slow_down"})", -1, Outcome::Pending, "", 0},
    {400, R"({"error":"temporarily_unavailable"})", -1, Outcome::Temporary, "", 0},
    {400, R"({"error":"invalid_request","error_description":"AADSTS12345: Something odd. More text.\r\nTrace ID: x"})", -1, Outcome::Permanent, "Something odd.", 12345},
    {400, "not json", -1, Outcome::Permanent, "without an error body", 0},
    {403, R"({"error":"weird\u0001\nerror"})", -1, Outcome::Permanent, "weird", 0},
};
} // namespace

// Each answer gets its outcome, AADSTS code and message.
static void test_token_table(void **)
{
    for (const Row &r : ROWS) {
        TokenResult t = read_token_response(answer(r.status, r.body, r.retry_after));
        if (t.outcome != r.outcome || t.aadsts != r.aadsts ||
            t.message.find(r.message) == std::string::npos)
            fail_msg("%ld %s: outcome %d aadsts %ld message '%s'", r.status, r.body.c_str(),
                     (int)t.outcome, t.aadsts, t.message.c_str());
        if (t.message.find_first_of("\r\n\t") != std::string::npos || t.message.size() > 400)
            fail_msg("message not one bounded line: '%s'", t.message.c_str());
        if (t.message.find("Trace ID") != std::string::npos)
            fail_msg("trace blob in message: '%s'", t.message.c_str());
    }
}

// Success fields, Retry-After and the default wait.
static void test_token_fields(void **)
{
    TokenResult t = read_token_response(answer(200, OK_BODY));
    assert_string_equal(t.access_token.str().c_str(), "eyJ0.eyJ1.sig");
    assert_int_equal(t.expires_in, 3599);
    assert_true(t.refresh_token.empty());
    assert_null(strstr(t.message.c_str(), "eyJ0"));
    assert_int_equal(read_token_response(answer(429, "", 7)).retry_after, 7);
    assert_int_equal(read_token_response(answer(429, "")).retry_after, 60);
    assert_int_equal(read_token_response(answer(400, R"({"error":"slow_down"})")).retry_after, 5);
}

// Device-code answers: a good one and each missing or bad field.
static void test_devicecode(void **)
{
    std::string good = R"({"user_code":"AB-CD","device_code":"dc1","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":5,"message":"Open the page"})";
    DeviceCode dc;
    std::string msg;
    assert_int_equal((int)read_devicecode_response(answer(200, good), dc, msg), (int)Outcome::Ok);
    assert_string_equal(dc.user_code.c_str(), "AB-CD");
    assert_string_equal(dc.device_code.str().c_str(), "dc1");
    assert_int_equal(dc.interval, 5);
    const char *bad[] = {
        R"({"device_code":"d","verification_uri":"https://x","expires_in":9})",
        R"({"user_code":"A","verification_uri":"https://x","expires_in":9})",
        R"({"user_code":"A","device_code":"d","verification_uri":"http://x","expires_in":9})",
        R"({"user_code":"A","device_code":"d","verification_uri":"https://x"})",
        R"({"user_code":"A\n","device_code":"d","verification_uri":"https://x","expires_in":9})",
        R"({"user_code":"A","device_code":"d","verification_uri":"https://x","expires_in":99999})",
    };
    for (const char *b : bad) {
        DeviceCode d2;
        if (read_devicecode_response(answer(200, b), d2, msg) == Outcome::Ok)
            fail_msg("accepted %s", b);
    }
    DeviceCode d3;
    assert_int_equal((int)read_devicecode_response(
                         answer(400, R"({"error":"invalid_client","error_codes":[700016]})"), d3, msg),
                     (int)Outcome::Permanent);
    assert_non_null(strstr(msg.c_str(), "700016"));
}

// Endpoints, hints, form encoding and JSON limits.
static void test_helpers(void **)
{
    assert_string_equal(token_endpoint("https://login.microsoftonline.com", "t").c_str(),
                        "https://login.microsoftonline.com/t/oauth2/v2.0/token");
    assert_string_equal(devicecode_endpoint("https://a", "t").c_str(), "https://a/t/oauth2/v2.0/devicecode");
    assert_string_equal(aadsts_hint(1), "");
    assert_true(strlen(aadsts_hint(65001)) > 0);
    FormFields f = {{"a b", Secret("x&y=z")}, {"scope", Secret("https://o/.default")}};
    assert_string_equal(form_encode(f).str().c_str(), "a%20b=x%26y%3Dz&scope=https%3A%2F%2Fo%2F.default");
    JsonPtr j;
    std::string error;
    assert_false(json_parse_object(std::string(JSON_MAX_BYTES + 1, ' '), j, error));
    assert_false(json_parse_object("\"str\"", j, error));
    assert_true(json_parse_object(R"({"a":"b","n":5})", j, error));
    std::string s;
    int64_t n = 0;
    assert_true(json_get_string(j.get(), "a", s) && json_get_int(j.get(), "n", n) && n == 5);
    assert_false(json_get_int(j.get(), "a", n));
}

// http:// is refused before any network use.
static void test_http_refuses_plain_http(void **)
{
    HttpClient c(HttpOptions{});
    HttpResponse r;
    std::string error;
    assert_false(c.get("http://127.0.0.1:1/", r, error));
    assert_non_null(strstr(error.c_str(), "non-HTTPS"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_table), cmocka_unit_test(test_token_fields),
        cmocka_unit_test(test_devicecode),  cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_http_refuses_plain_http),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
