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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_accepted), cmocka_unit_test(test_refused)};
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
