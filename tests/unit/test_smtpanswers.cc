// test_smtpanswers.cc: doctor --smtp's table of Exchange's answers: each
// reply Exchange sends maps to its meaning and fix (5.7.139 tenant vs
// mailbox, 5.7.3, 4.3.2, 5.7.57, 5.7.8, 5.2.252, transport failures),
// unknown replies get a generic entry by class, and enhanced codes are
// parsed strictly.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include "smtpanswers.hh"

#include <string>

using namespace exo::ctl;

struct Case {
    const char *reply;      // first line of the answer; key "" = from its code
    const char *key;        // "" = smtp_enhanced_code(reply)
    bool temporary;
    const char *fix_holds;  // text the fix must contain (MAILBOX filled in)
};

static const Case kCases[] = {
    {"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit "
     "https://aka.ms/smtp_auth_disabled for more information.", "", false,
     "Set-TransportConfig -SmtpClientAuthenticationDisabled $false"},
    {"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit "
     "https://aka.ms/smtp_auth_disabled for more information.", "", false,
     "Set-CASMailbox -Identity relay@contoso.example -SmtpClientAuthenticationDisabled $false"},
    {"535 5.7.139 Authentication unsuccessful, the user credentials were incorrect.", "", false,
     "https://aka.ms/smtp_auth_disabled"},
    {"535 5.7.3 Authentication unsuccessful [X.outlook.com]", "", false,
     "Add-MailboxPermission -Identity relay@contoso.example"},
    {"432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending", "", true,
     "destination concurrency"},
    {"421 4.3.2 Service not available, submission rate", "", true, "rate"},
    {"530 5.7.57 Client not authenticated to send mail", "", false, "smtp_sasl_auth_enable"},
    {"535 5.7.8 Error: authentication failed", "", false, "scope"},
    {"554 5.2.252 SendAsDenied; relay@contoso.example not allowed", "", false,
     "-Trustee relay@contoso.example -AccessRights SendAs"},
    {"", "connect", true, "587"},
    {"", "timeout", true, "network path"},
    {"", "certificate", false, "--ca-file"},
    {"451 4.7.0 Temporary server error", "", true, "reply text"},
    {"550 5.1.1 no such user", "", false, "reply text"},
};

static void test_answers_table(void **)
{
    for (const auto &c : kCases) {
        std::string key = *c.key ? c.key : smtp_enhanced_code(c.reply);
        const SmtpAnswer a = smtp_explain(key, c.reply);
        std::string fix = smtp_fix(a, "relay@contoso.example");
        if (fix.find(c.fix_holds) == std::string::npos || a.temporary != c.temporary)
            fail_msg("%s / %s: fix \"%s\", temporary %d", c.reply, c.key, fix.c_str(), a.temporary);
        assert_true(fix.find("MAILBOX") == std::string::npos);
        assert_true(a.meaning && *a.meaning);
    }
}

static void test_enhanced_code(void **)
{
    static const struct { const char *line, *code; } cases[] = {
        {"535 5.7.3 Authentication unsuccessful", "5.7.3"},
        {"535 5.7.139 Authentication unsuccessful", "5.7.139"},
        {"250-2.0.0 more follows", "2.0.0"},
        {"432 4.3.2", "4.3.2"},
        {"535 Authentication failed", ""},   // no enhanced code
        {"535 4.7.3 class differs", ""},      // must match the reply's class
        {"535 5..3 x", ""},
        {"535 5.7. x", ""},
        {"535 5.7.3.1 x", ""},
        {"5357.3 x", ""},
        {"", ""},
        {"abc 5.7.3 x", ""},
    };
    for (const auto &c : cases)
        assert_string_equal(smtp_enhanced_code(c.line).c_str(), c.code);
}

static void test_fix_fills_every_mailbox(void **)
{
    const SmtpAnswer a = smtp_explain("5.2.252", "554 5.2.252 SendAsDenied");
    // A mailbox that itself holds "MAILBOX" is put in once, not forever.
    assert_true(smtp_fix(a, "MAILBOX@x").find("-Trustee MAILBOX@x") != std::string::npos);
}

int main()
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_table),
        cmocka_unit_test(test_enhanced_code),
        cmocka_unit_test(test_fix_fills_every_mailbox),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
