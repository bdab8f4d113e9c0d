// test_usermap.cc: cmocka table for the [validate] user_map parser
// (src/core/usermap.cc): accepted layouts, every refusal with its line, and
// case-insensitive look-up that leaves unmapped users alone.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include "usermap.hh"

#include <cstring>
#include <string>

using namespace exo;

// Good files and what they map.
static void test_accepted(void **)
{
    UserMap m;
    std::string error;
    assert_true(usermap_parse("# comment\n\n  Alice@Contoso.example\talice  \r\nbob@x b\n", "u", m, error));
    assert_int_equal(m.size(), 2);
    assert_string_equal(usermap_apply(m, "ALICE@contoso.EXAMPLE").c_str(), "alice");
    assert_string_equal(usermap_apply(m, "bob@x").c_str(), "b");
    assert_string_equal(usermap_apply(m, "carol@x").c_str(), "carol@x");
    assert_true(usermap_parse("", "u", m, error) && m.empty());
}

// Each bad file is refused at the right line, and out is left alone.
static void test_refused(void **)
{
    struct Row { std::string text; const char *prefix; } rows[] = {
        {"alice\n", "u:1: expected"},
        {"a b c\n", "u:1: expected"},
        {"# ok\na b\nlonely\n", "u:3: expected"},
        {"a\x01 b\n", "u:1: control"},
        {"a " + std::string(300, 'x') + "\n", "u:1: control character or over-long"},
    };
    for (const Row &r : rows) {
        UserMap m = {{"keep", "me"}};
        std::string error;
        if (usermap_parse(r.text, "u", m, error) || error.compare(0, strlen(r.prefix), r.prefix) != 0)
            fail_msg("'%s': got '%s'", r.text.c_str(), error.c_str());
        assert_int_equal(m.size(), 1);
    }
    UserMap m;
    std::string error;
    assert_false(usermap_load("/nonexistent/users.map", m, error));
}

// mailbox_map: exact entries win over domain rewrites; who is not in the
// map gets nothing; an account may act only as the mailboxes it leads to.
static void test_mailbox_routes_and_policy(void **)
{
    MailboxMap m;
    std::string error;
    const char *text = "# local user   mailbox                 account\n"
                       "alice           alice@contoso.example   imap-app\n"
                       "Boss@Example.local  ceo@contoso.example  imap-app\n"
                       "@example.local  @contoso.example        relay\n"
                       "scanner@example.local scan@contoso.example relay\n";
    assert_true(mailboxmap_parse(text, "m", m, error));
    MailboxRoute r;
    assert_true(mailboxmap_route(m, "ALICE", r));
    assert_string_equal(r.mailbox.c_str(), "alice@contoso.example");
    assert_string_equal(r.account.c_str(), "imap-app");
    assert_true(mailboxmap_route(m, "boss@example.local", r));
    assert_string_equal(r.mailbox.c_str(), "ceo@contoso.example");
    assert_true(mailboxmap_route(m, "carol@Example.Local", r));
    assert_string_equal(r.mailbox.c_str(), "carol@contoso.example");
    assert_string_equal(r.account.c_str(), "relay");
    assert_false(mailboxmap_route(m, "mallory", r));
    assert_false(mailboxmap_route(m, "mallory@evil.example", r));
    assert_false(mailboxmap_route(m, "@example.local", r));
    assert_true(mailboxmap_allows(m, "imap-app", "Alice@contoso.example"));
    assert_true(mailboxmap_allows(m, "relay", "anyone@contoso.example"));
    assert_true(mailboxmap_allows(m, "relay", "scan@contoso.example"));
    assert_false(mailboxmap_allows(m, "imap-app", "bob@contoso.example"));
    assert_false(mailboxmap_allows(m, "relay", "bob@fabrikam.example"));
    assert_false(mailboxmap_allows(m, "other", "alice@contoso.example"));
    assert_false(mailboxmap_allows(m, "relay", "@contoso.example"));
}

static void test_mailbox_refused(void **)
{
    struct Row { std::string text; const char *prefix; } rows[] = {
        {"alice alice@x\n", "m:1: expected"},
        {"alice alice@x acct extra\n", "m:1: expected"},
        {"alice alice acct\n", "m:1: the mailbox must be local@domain"},
        {"alice @x acct\n", "m:1: the mailbox must be local@domain"},
        {"alice a@b@c acct\n", "m:1: the mailbox must be local@domain"},
        {"@x a@y acct\n", "m:1: a domain entry maps @domain to @domain"},
        {"@ @y acct\n", "m:1: a domain entry maps"},
        {"a@b@c m@x acct\n", "m:1: bad local user"},
        {"alice a@x bad/acct\n", "m:1: bad account name"},
        {"alice a@x " + std::string(65, 'a') + "\n", "m:1: bad account name"},
        {"alice a@x acct\nALICE b@x acct\n", "m:2: duplicate entry for alice"},
        {"@x @y a\n@X @z a\n", "m:2: duplicate entry for @x"},
        {"alice a\x01@x acct\n", "m:1: control character"},
    };
    for (const Row &r : rows) {
        MailboxMap m;
        m.users["keep"] = MailboxRoute{"k@x", "a"};
        std::string error;
        if (mailboxmap_parse(r.text, "m", m, error) || error.compare(0, strlen(r.prefix), r.prefix) != 0)
            fail_msg("'%s': got '%s'", r.text.c_str(), error.c_str());
        assert_int_equal(m.users.size(), 1);
    }
    MailboxMap m;
    std::string error;
    assert_false(mailboxmap_load("/nonexistent/mailboxes", m, error));
    assert_string_equal(error.c_str(), "mailbox_map /nonexistent/mailboxes: does not exist; create it or fix the path");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_accepted), cmocka_unit_test(test_refused),
                                       cmocka_unit_test(test_mailbox_routes_and_policy),
                                       cmocka_unit_test(test_mailbox_refused)};
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
