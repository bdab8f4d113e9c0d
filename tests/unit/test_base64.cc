// test_base64.cc: cmocka tables for base64 and base64url
// (src/plug/base64.cc): RFC 4648 vectors both ways, and every kind of
// non-canonical input refused by the strict decoders.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include "base64.hh"

#include <string>

using namespace exo;

// RFC 4648 section 10 vectors, padded and url forms.
static void test_vectors(void **)
{
    struct Row { const char *plain, *std, *url; } rows[] = {
        {"", "", ""},          {"f", "Zg==", "Zg"},          {"fo", "Zm8=", "Zm8"},
        {"foo", "Zm9v", "Zm9v"}, {"foob", "Zm9vYg==", "Zm9vYg"}, {"fooba", "Zm9vYmE=", "Zm9vYmE"},
        {"foobar", "Zm9vYmFy", "Zm9vYmFy"}, {"\xfb\xff", "+/8=", "-_8"},
    };
    for (const Row &r : rows) {
        std::string out;
        assert_string_equal(base64_encode(r.plain).c_str(), r.std);
        assert_string_equal(base64url_encode(r.plain).c_str(), r.url);
        assert_true(base64_decode(r.std, out));
        assert_string_equal(out.c_str(), r.plain);
        assert_true(base64url_decode(r.url, out));
        assert_string_equal(out.c_str(), r.plain);
    }
}

// Strict decoders refuse anything not canonical.
static void test_refusals(void **)
{
    const char *bad_std[] = {"Zg", "Zg=", "Zg===", "Z===", "Zh==", "Zm9=", "Zm 9v", "Zm9v\n",
                             "-_8=", "Zm9v====", "=Zm9", "Zg==Zg==", "Z"};
    const char *bad_url[] = {"Zg==", "Zh", "Zm9", "Z", "+/8", "Zm 9v", "Zg=", "Zm9vY", "a\x80"};
    std::string out = "unchanged";
    for (const char *b : bad_std)
        if (base64_decode(b, out))
            fail_msg("base64 accepted '%s'", b);
    for (const char *b : bad_url)
        if (base64url_decode(b, out))
            fail_msg("base64url accepted '%s'", b);
    assert_string_equal(out.c_str(), "unchanged");
}

// Round trip of every byte value at several lengths.
static void test_round_trip(void **)
{
    std::string all;
    for (int i = 0; i < 256; i++)
        all += (char)i;
    for (size_t n = 0; n <= all.size(); n += 37) {
        std::string in = all.substr(0, n), out;
        assert_true(base64_decode(base64_encode(in), out) && out == in);
        assert_true(base64url_decode(base64url_encode(in), out) && out == in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
