// test_verdicts.cc: the Dovecot passdb's cache of recent acceptances: keyed
// by login and token together, never past the token's expiry or the TTL,
// bounded in size, off with a TTL of 0.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include "verdicts.hh"

#include <string>

using exo::dovecot::Verdicts;

static void test_key_binds_login_and_token(void **)
{
    std::string a = Verdicts::key("alice", "tok");
    assert_int_equal(a.size(), 32);
    assert_true(a == Verdicts::key("alice", "tok"));
    assert_false(a == Verdicts::key("bob", "tok"));
    assert_false(a == Verdicts::key("alice", "tok2"));
    // The separator keeps "al"+"icetok" apart from "alice"+"tok".
    assert_false(a == Verdicts::key("al", "icetok"));
}

static void test_kept_until_ttl_or_expiry(void **)
{
    Verdicts v(16, 60);
    v.put("k1", "alice", 1000 + 3600, 1000);   // TTL first
    v.put("k2", "bob", 1000 + 10, 1000);       // token expiry first
    assert_string_equal(v.find("k1", 1059)->c_str(), "alice");
    assert_null(v.find("k1", 1060));
    assert_string_equal(v.find("k2", 1009)->c_str(), "bob");
    assert_null(v.find("k2", 1010));
    assert_null(v.find("nope", 1000));
}

static void test_expired_or_disabled_not_kept(void **)
{
    Verdicts v(16, 60);
    v.put("k", "alice", 999, 1000);
    assert_null(v.find("k", 1000));
    Verdicts off(16, 0);
    off.put("k", "alice", 5000, 1000);
    assert_null(off.find("k", 1000));
    assert_int_equal(off.size(), 0);
}

static void test_bounded(void **)
{
    Verdicts v(4, 60);
    for (int i = 0; i < 4; i++)
        v.put("k" + std::to_string(i), "u", 2000, 1000);
    assert_int_equal(v.size(), 4);
    v.put("k0", "again", 2000, 1000);   // an update needs no room
    assert_int_equal(v.size(), 4);
    v.put("k9", "u", 2000, 1000);       // full: everything goes, then k9
    assert_int_equal(v.size(), 1);
    assert_non_null(v.find("k9", 1000));
    v.put("e", "u", 1005, 1000);
    for (int i = 0; i < 2; i++)
        v.put("n" + std::to_string(i), "u", 2000, 1000);
    v.put("last", "u", 2000, 1010);     // full: only the expired "e" goes
    assert_int_equal(v.size(), 4);
    assert_null(v.find("e", 1010));
    assert_non_null(v.find("k9", 1010));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_binds_login_and_token),
        cmocka_unit_test(test_kept_until_ttl_or_expiry),
        cmocka_unit_test(test_expired_or_disabled_not_kept),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
