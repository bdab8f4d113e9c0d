// test_store.cc: cmocka tests of the refresh-token store (src/core/store.cc):
// round trip, mode 0600, atomic replacement, stale temporary files swept,
// and every kind of damaged or unsafe file refused without being used.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include "store.hh"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace exo;

namespace {
// A fresh 0700 directory under /tmp.
std::string make_dir()
{
    char tmpl[] = "/tmp/exo-store-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return tmpl;
}

// Write content to path with mode.
void write_file(const std::string &path, const std::string &content, mode_t mode)
{
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content.data(), content.size()), (ssize_t)content.size());
    fchmod(fd, mode);
    close(fd);
}

// Number of directory entries other than . and ..
int count_entries(const std::string &dir)
{
    DIR *d = opendir(dir.c_str());
    int n = 0;
    while (struct dirent *e = readdir(d))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..") ? 1 : 0;
    closedir(d);
    return n;
}
} // namespace

// save then load gives the same token, in a 0600 file, no temp files left.
static void test_round_trip(void **)
{
    std::string dir = make_dir();
    TokenStore s(dir);
    std::string error;
    assert_true(s.open(error));
    assert_true(s.save("alice", Secret("rt-1.AbC_d-e"), error));
    assert_true(s.save("alice", Secret("rt-2.second"), error));
    Secret t;
    assert_true(s.load("alice", t, error));
    assert_string_equal(t.str().c_str(), "rt-2.second");
    struct stat st;
    assert_int_equal(stat(s.path_of("alice").c_str(), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(count_entries(dir), 1);
}

// A missing file is "absent" (false, empty error), not an error.
static void test_absent(void **)
{
    TokenStore s(make_dir());
    std::string error = "x";
    Secret t;
    assert_true(s.open(error));
    assert_false(s.load("bob", t, error));
    assert_true(error.empty());
}

// Damaged or unsafe files are refused with a reason and never returned.
static void test_refusals(void **)
{
    struct Row { const char *content; mode_t mode; const char *why; } rows[] = {
        {"exoauth-refresh-token 1\nabc\n", 0644, "chmod 600"},
        {"exoauth-refresh-token 1\nabc", 0600, "not an exoauth"},
        {"exoauth-refresh-token 2\nabc\n", 0600, "not an exoauth"},
        {"garbage", 0600, "not an exoauth"},
        {"", 0600, "is empty"},
        {"exoauth-refresh-token 1\n\n", 0600, "not an exoauth"},
        {"exoauth-refresh-token 1\nab c\n", 0600, "malformed"},
        {"exoauth-refresh-token 1\nab\x01\n", 0600, "malformed"},
        {"exoauth-refresh-token 1\nab\nc\n", 0600, "malformed"},
    };
    std::string dir = make_dir();
    TokenStore s(dir);
    std::string error;
    assert_true(s.open(error));
    for (const Row &r : rows) {
        write_file(s.path_of("acct"), r.content, r.mode);
        Secret t;
        error.clear();
        if (s.load("acct", t, error) || error.find(r.why) == std::string::npos)
            fail_msg("content %s: want refusal with '%s', got '%s'", r.content, r.why, error.c_str());
        assert_true(t.empty());
    }
    std::string big = "exoauth-refresh-token 1\n" + std::string(20000, 'a') + "\n";
    write_file(s.path_of("acct"), big, 0600);
    Secret t;
    assert_false(s.load("acct", t, error));
    assert_non_null(strstr(error.c_str(), "larger than"));
}

// Malformed tokens are never written, and the old one stays.
static void test_save_refuses_bad_token(void **)
{
    TokenStore s(make_dir());
    std::string error;
    assert_true(s.open(error));
    assert_true(s.save("a", Secret("good"), error));
    const char *bad[] = {"", "has space", "new\nline", "tab\there"};
    for (const char *b : bad)
        assert_false(s.save("a", Secret(b), error));
    Secret t;
    assert_true(s.load("a", t, error));
    assert_string_equal(t.str().c_str(), "good");
}

// open() sweeps temp files a crash left and refuses unsafe directories.
static void test_open_sweeps_and_checks(void **)
{
    std::string dir = make_dir();
    write_file(dir + "/.tmp-a.123456", "half", 0600);
    write_file(dir + "/keep.rt", "exoauth-refresh-token 1\nx\n", 0600);
    TokenStore s(dir);
    std::string error;
    assert_true(s.open(error));
    assert_int_equal(count_entries(dir), 1);
    chmod(dir.c_str(), 0777);
    assert_false(s.open(error));
    assert_non_null(strstr(error.c_str(), "writable"));
    TokenStore missing("/nonexistent/exo");
    assert_false(missing.open(error));
}

// remove() deletes the token; removing an absent one is fine.
static void test_remove(void **)
{
    TokenStore s(make_dir());
    std::string error;
    assert_true(s.open(error));
    assert_true(s.save("a", Secret("tok"), error));
    assert_true(s.remove("a", error));
    assert_true(s.remove("a", error));
    Secret t;
    assert_false(s.load("a", t, error));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_absent),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_save_refuses_bad_token),
        cmocka_unit_test(test_open_sweeps_and_checks),
        cmocka_unit_test(test_remove),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
