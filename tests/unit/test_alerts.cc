// test_alerts.cc: cmocka tables for the alerts' rules (src/daemon/
// alertrules.cc): which conditions an account's facts make under the
// [alerts] settings (thresholds at their edges), the hint of an AADSTS
// code, the fixed message ids, and the JSON event with exactly its fields.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include <cmocka.h>
}

#include "alertrules.hh"
#include "entra.hh"
#include "json.hh"

#include <cstring>
#include <string>

using namespace exo;

namespace {

constexpr int64_t NOW = 1800000000;

// Facts of a healthy client-credentials account named "relay".
AlertFacts healthy()
{
    AlertFacts f;
    f.account = "relay";
    f.credential = "certificate";
    f.credential_expires = NOW + 365 * 86400;
    return f;
}

// The kinds the facts make, space separated.
std::string kinds_of(const AlertFacts &f, const AlertsConfig &cfg)
{
    std::string out;
    for (const auto &c : alert_conditions({f}, cfg, NOW))
        out += (out.empty() ? "" : " ") + c.kind;
    return out;
}

// Each row: facts changed from healthy(), and the kinds they make.
void test_condition_table(void **)
{
    struct Row {
        const char *what;
        void (*change)(AlertFacts &);
        const char *kinds;
    } rows[] = {
        {"healthy", [](AlertFacts &) {}, ""},
        {"permanent", [](AlertFacts &f) { f.permanent = true; f.aadsts = 7000222; }, "account_failed"},
        {"temporary, under threshold", [](AlertFacts &f) { f.failing_since = NOW - 899; }, ""},
        {"temporary, at threshold", [](AlertFacts &f) { f.failing_since = NOW - 900; }, "idp_unreachable"},
        {"delegated, not signed in",
         [](AlertFacts &f) { f.delegated = true; f.signed_in = false; f.credential_expires = 0; }, "login_required"},
        {"delegated, invalid_grant",
         [](AlertFacts &f) { f.delegated = true; f.permanent = true; f.error_code = "invalid_grant"; },
         "login_required"},
        {"delegated, invalid_client",
         [](AlertFacts &f) { f.delegated = true; f.permanent = true; f.error_code = "invalid_client"; },
         "account_failed"},
        {"expires in 30 days", [](AlertFacts &f) { f.credential_expires = NOW + 30 * 86400; }, ""},
        {"expires in 30 days less 1 s", [](AlertFacts &f) { f.credential_expires = NOW + 30 * 86400 - 1; },
         "credential_expiring"},
        {"expired", [](AlertFacts &f) { f.credential_expires = NOW - 1; }, "credential_expiring"},
        {"unknown expiry", [](AlertFacts &f) { f.credential_expires = 0; }, ""},
        {"fresh token rejected", [](AlertFacts &f) { f.fresh_rejected = true; }, "token_rejected"},
        {"all at once",
         [](AlertFacts &f) { f.permanent = true; f.credential_expires = NOW; f.fresh_rejected = true; },
         "account_failed credential_expiring token_rejected"},
    };
    AlertsConfig cfg;
    for (const Row &r : rows) {
        AlertFacts f = healthy();
        r.change(f);
        if (kinds_of(f, cfg) != r.kinds)
            fail_msg("%s: got \"%s\", want \"%s\"", r.what, kinds_of(f, cfg).c_str(), r.kinds);
    }
}

// The settings move the thresholds.
void test_thresholds_follow_settings(void **)
{
    AlertsConfig cfg;
    cfg.warn_days = 3;
    cfg.idp_unreachable_after = 5;
    AlertFacts f = healthy();
    f.credential_expires = NOW + 4 * 86400;
    f.failing_since = NOW - 5;
    assert_string_equal(kinds_of(f, cfg).c_str(), "idp_unreachable");
    f.credential_expires = NOW + 2 * 86400;
    assert_string_equal(kinds_of(f, cfg).c_str(), "credential_expiring idp_unreachable");
}

// Texts and hints: the AADSTS code and doctor's hint, the login command,
// the expiry date.
void test_texts_and_hints(void **)
{
    AlertsConfig cfg;
    AlertFacts f = healthy();
    f.permanent = true;
    f.aadsts = 7000222;
    f.error = "invalid_client AADSTS7000222";
    auto c = alert_conditions({f}, cfg, NOW);
    assert_non_null(strstr(c[0].text.c_str(), "(AADSTS7000222)"));
    assert_string_equal(c[0].hint.c_str(), aadsts_hint(7000222));
    f = healthy();
    f.delegated = true;
    f.signed_in = false;
    c = alert_conditions({f}, cfg, NOW);
    assert_string_equal(c[0].hint.c_str(), "run: exoauthctl login relay");
    f = healthy();
    f.credential_expires = NOW + 10 * 86400;  // 2027-01-25 08:00 UTC + 10 days
    c = alert_conditions({f}, cfg, NOW);
    assert_non_null(strstr(c[0].text.c_str(), "certificate expires on 2027-01-25 (in 10 days)"));
    f.credential = "refresh token";
    c = alert_conditions({f}, cfg, NOW);
    assert_non_null(strstr(c[0].text.c_str(), "refresh token expires on"));
    assert_non_null(strstr(c[0].hint.c_str(), "exoauthctl login relay"));
}

// Message ids: fixed, 32 lower-case hex digits, one per kind.
void test_message_ids(void **)
{
    const char *kinds[] = {"account_failed", "login_required", "credential_expiring", "idp_unreachable",
                           "token_rejected", "resolved"};
    std::string seen;
    for (const char *k : kinds) {
        std::string id = alert_message_id(k);
        assert_int_equal(id.size(), 32);
        assert_true(id.find_first_not_of("0123456789abcdef") == std::string::npos);
        assert_true(seen.find(id) == std::string::npos);
        seen += id;
    }
    assert_string_equal(alert_message_id("account_failed"), "64231a1da9d94eb7bd19a54355ab2678");
    assert_string_equal(alert_message_id("nonsense"), "");
    assert_string_equal(alert_severity("credential_expiring"), "warning");
}

// The JSON event: one line, exactly its fields, strings escaped.
void test_json(void **)
{
    AlertEvent e;
    e.kind = "resolved";
    e.resolves = "account_failed";
    e.severity = "info";
    e.account = "relay";
    e.message_id = alert_message_id("resolved");
    e.text = "a \"quoted\"\nline";
    e.first_seen = NOW - 60;
    e.time = NOW;
    std::string j = alert_json(e);
    assert_true(j.back() == '\n' && j.find('\n') == j.size() - 1);
    JsonPtr o;
    std::string error;
    assert_true(json_parse_object(j, o, error));
    const char *keys[] = {"kind", "resolves", "severity", "account", "message_id", "text",
                          "hint", "first_seen", "time", "reminder"};
    assert_int_equal(json_object_size(o.get()), sizeof(keys) / sizeof(keys[0]));
    for (const char *k : keys)
        assert_non_null(json_object_get(o.get(), k));
    std::string text;
    assert_true(json_get_string(o.get(), "text", text));
    assert_string_equal(text.c_str(), "a \"quoted\"\nline");
    e.resolves.clear();
    assert_null(strstr(alert_json(e).c_str(), "resolves"));
}

} // namespace

// Runs every table.
int main()
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_condition_table), cmocka_unit_test(test_thresholds_follow_settings),
        cmocka_unit_test(test_texts_and_hints), cmocka_unit_test(test_message_ids),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
