// test_lru.cc: cmocka table for the bounded LRU map (src/core/lru.hh):
// the least recently used entry goes first, a lookup counts as a use, and
// replacing or erasing keeps the size right.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include <cmocka.h>
}

#include "lru.hh"

#include <string>

using exo::LruMap;

// A scripted sequence of puts (value > 0), finds (value 0) and erases
// (value < 0) on a map of 3, with the keys present after each step.
static void test_lru_table(void **)
{
    struct Row { const char *key; int value; const char *present; } rows[] = {
        {"a", 1, "a"},      {"b", 2, "ab"},     {"c", 3, "abc"},    {"d", 4, "bcd"},
        {"b", 0, "bcd"},    {"e", 5, "bde"},    {"d", 6, "bde"},    {"f", 7, "def"},
        {"b", -1, "def"},    {"g", 8, "dfg"},    {"h", 9, "fgh"},
    };
    LruMap<int> m(3);
    for (const Row &r : rows) {
        if (r.value > 0)
            m.put(r.key, r.value);
        else if (r.value == 0)
            assert_non_null(m.find(r.key));
        else
            m.erase(r.key);
        std::string got;
        for (const char *k : {"a", "b", "c", "d", "e", "f", "g", "h"})
            if (m.contains(k))
                got += k;
        if (got != r.present)
            fail_msg("after %s %d: present %s, want %s", r.key, r.value, got.c_str(), r.present);
        assert_int_equal(m.size(), got.size());
    }
    assert_int_equal(*m.find("h"), 9);
}

// Replacing a value keeps one entry; clear empties.
static void test_replace_and_clear(void **)
{
    LruMap<int> m(2);
    m.put("x", 1);
    m.put("x", 2);
    assert_int_equal(m.size(), 1);
    assert_int_equal(*m.find("x"), 2);
    m.clear();
    assert_null(m.find("x"));
    assert_int_equal(m.size(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lru_table),
        cmocka_unit_test(test_replace_and_clear),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
