// test_credfile.cc: cmocka tests of the one rule for credential and policy
// files (src/core/credfile.cc) through every loader that uses it: client
// secret, private key, refresh-token store, configuration, mailbox_map and
// user_map, each against a table of unsafe files (symlink, fifo, directory,
// foreign owner, loose modes, oversized, empty, missing) and a good one.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include "config.hh"
#include "credfile.hh"
#include "crypto.hh"
#include "store.hh"
#include "usermap.hh"

#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <vector>
#include <sys/stat.h>
#include <unistd.h>

using namespace exo;

namespace {
constexpr uid_t NOBODY = 65534;
std::string g_dir; // scratch directory, 0700
std::string g_key; // PEM of a good RSA key
std::string g_crt; // path of its certificate

// One loader under test: its good content and how it loads dir/cred.rt.
struct Loader {
    const char *name;
    bool secret;
    const char *missing; // what a missing file gives
    std::string good;
    bool (*load)(const std::string &path, std::string &error);
};

// Each loader, called on path.
bool load_secret(const std::string &p, std::string &e) { Secret s; return read_secret_file(p, s, e); }
bool load_key(const std::string &p, std::string &e) { CertCredential c; return load_cert_credential(g_crt, p, c, e); }
bool load_config(const std::string &p, std::string &e) { Config c; return config_load(p, c, e); }
bool load_mailbox(const std::string &p, std::string &e) { MailboxMap m; return mailboxmap_load(p, m, e); }
bool load_users(const std::string &p, std::string &e) { UserMap m; return usermap_load(p, m, e); }

// The store reads <dir>/<account>.rt; absence is false with no error.
bool load_store(const std::string &p, std::string &e)
{
    TokenStore s(g_dir);
    Secret t;
    bool ok = s.load("cred", t, e);
    if (!ok && e.empty())
        e = p + ": absent (no refresh token yet)";
    return ok;
}

std::vector<Loader> loaders()
{
    return {
        {"secret_file", true, "does not exist", "s3cret-value\n", load_secret},
        {"private_key", true, "does not exist", g_key, load_key},
        {"token store", true, "absent", "exoauth-refresh-token 1\nrt.abc\n", load_store},
        {"config", false, "does not exist", "[global]\nlog = stderr\n", load_config},
        {"mailbox_map", false, "does not exist", "alice alice@example.com acct\n", load_mailbox},
        {"user_map", false, "does not exist", "alice@example.com alice\n", load_users},
    };
}

// Write content to path (replacing it) with mode and owner.
void put(const std::string &path, const std::string &content, mode_t mode, uid_t owner = 0)
{
    unlink(path.c_str());
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content.data(), content.size()), (ssize_t)content.size());
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(fchown(fd, owner, (gid_t)-1), 0);
    close(fd);
}

// How a table row makes dir/cred.rt.
enum class Make { Good, Symlink, Fifo, Dir, Nobody, Mode, Big, Empty, Missing };

struct Row {
    const char *name;
    Make make;
    mode_t mode;
    const char *secret_want; // error substring for secrets; "" = accepted
    const char *policy_want; // the same for policy files
};

const Row ROWS[] = {
    {"good", Make::Good, 0600, "", ""},
    {"good, root-readable policy", Make::Good, 0644, "chmod 600", ""},
    {"symlink to a good file", Make::Symlink, 0600, "symbolic link", "symbolic link"},
    {"fifo", Make::Fifo, 0600, "not a regular file", "not a regular file"},
    {"directory", Make::Dir, 0700, "not a regular file", "not a regular file"},
    {"owned by nobody", Make::Nobody, 0600, "chown", "chown"},
    {"group-readable", Make::Mode, 0640, "chmod 600", ""},
    {"group-writable", Make::Mode, 0620, "chmod 600", "chmod go-w"},
    {"world-writable", Make::Mode, 0602, "chmod 600", "chmod go-w"},
    {"oversized", Make::Big, 0600, "larger than", "larger than"},
    {"empty", Make::Empty, 0600, "is empty", ""},
    {"missing", Make::Missing, 0600, "(per loader)", "(per loader)"},
};

// Create dir/cred.rt as the row says, for loader l.
void make(const Row &r, const Loader &l, const std::string &path)
{
    std::string target = g_dir + "/target";
    unlink(path.c_str());
    rmdir(path.c_str());
    switch (r.make) {
    case Make::Good: case Make::Mode: return put(path, l.good, r.mode);
    case Make::Nobody: return put(path, l.good, r.mode, NOBODY);
    case Make::Big: return put(path, std::string(1024 * 1024 + 1, '#'), r.mode);
    case Make::Empty: return put(path, "", r.mode);
    case Make::Missing: return;
    case Make::Symlink: put(target, l.good, 0600); assert_int_equal(symlink(target.c_str(), path.c_str()), 0); return;
    case Make::Fifo: assert_int_equal(mkfifo(path.c_str(), r.mode), 0); return;
    case Make::Dir: assert_int_equal(mkdir(path.c_str(), r.mode), 0); return;
    }
}

// Set up: scratch directory, a key and its certificate.
int setup(void **)
{
    char tmpl[] = "/tmp/exo-credfile-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    g_dir = tmpl;
    EvpPkeyPtr key(EVP_RSA_gen(2048));
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    char *data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    g_key.assign(data, (size_t)n);
    BIO_free(b);
    X509Ptr c(X509_new());
    ASN1_INTEGER_set(X509_get_serialNumber(c.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(c.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(c.get()), 86400);
    X509_set_pubkey(c.get(), key.get());
    X509_sign(c.get(), key.get(), EVP_sha256());
    g_crt = g_dir + "/cert.pem";
    FILE *f = fopen(g_crt.c_str(), "w");
    PEM_write_X509(f, c.get());
    fclose(f);
    return 0;
}

// Tear down: remove the scratch directory.
int teardown(void **)
{
    return system(("rm -rf " + g_dir).c_str()) == 0 ? 0 : -1;
}
} // namespace

// Every loader against every row: accepted or refused with the right fix.
static void test_table(void **)
{
    std::string error;
    assert_true(cred_set_owner("", error));
    std::string path = g_dir + "/cred.rt";
    int failures = 0;
    for (const Loader &l : loaders())
        for (const Row &r : ROWS) {
            if (r.make == Make::Nobody && geteuid() != 0)
                continue; // chown needs root
            make(r, l, path);
            const char *want = r.make == Make::Missing ? l.missing : l.secret ? r.secret_want : r.policy_want;
            error.clear();
            bool ok = l.load(path, error);
            bool right = *want ? !ok && error.find(want) != std::string::npos : ok;
            if (!right) {
                print_error("%s, %s: want %s%s, got %s '%s'\n", l.name, r.name, *want ? "refusal with " : "success",
                            want, ok ? "success" : "refusal", error.c_str());
                failures++;
            }
        }
    assert_int_equal(failures, 0);
}

// Error messages name the file and the exact fix.
static void test_messages(void **)
{
    std::string path = g_dir + "/cred.rt", error;
    put(path, "x\n", 0640);
    Secret s;
    assert_false(read_secret_file(path, s, error));
    assert_string_equal(error.c_str(), ("secret_file " + path + ": readable or writable by group or others; chmod 600 " +
                                        path).c_str());
    assert_true(s.empty());
}

// exoauthctl as root: files of exoauthd's user are accepted once it is set.
static void test_set_owner(void **)
{
    if (geteuid() != 0)
        skip();
    std::string path = g_dir + "/cred.rt", error;
    put(path, "s3cret\n", 0600, NOBODY);
    Secret s;
    assert_false(read_secret_file(path, s, error));
    assert_non_null(strstr(error.c_str(), "chown"));
    assert_true(cred_set_owner("nobody", error));
    assert_true(read_secret_file(path, s, error));
    assert_string_equal(s.str().c_str(), "s3cret");
    assert_false(cred_set_owner("no-such-user-here", error));
    assert_true(cred_set_owner("", error));
}

// A config owned by the user it names ("user =") is accepted.
static void test_config_own_user(void **)
{
    if (geteuid() != 0)
        skip();
    std::string path = g_dir + "/cred.rt", error;
    Config c;
    put(path, "[global]\nuser = nobody\n", 0640, NOBODY);
    assert_true(config_load(path, c, error));
    put(path, "[global]\nuser = root\n", 0640, NOBODY);
    assert_false(config_load(path, c, error));
    assert_non_null(strstr(error.c_str(), "chown root"));
}

// The state directory: a foreign owner or group/other write is refused.
static void test_state_dir(void **)
{
    std::string dir = g_dir + "/state", error;
    assert_int_equal(mkdir(dir.c_str(), 0700), 0);
    TokenStore s(dir);
    assert_true(s.open(error));
    chmod(dir.c_str(), 0770);
    assert_false(s.open(error));
    assert_non_null(strstr(error.c_str(), "chmod 0700"));
    chmod(dir.c_str(), 0700);
    if (geteuid() == 0) {
        assert_int_equal(chown(dir.c_str(), NOBODY, (gid_t)-1), 0);
        assert_false(s.open(error));
        assert_non_null(strstr(error.c_str(), "chown"));
    }
    rmdir(dir.c_str());
}

int main(void)
{
    alarm(60); // a loader that blocks on the fifo fails instead of hanging
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_set_owner),
        cmocka_unit_test(test_config_own_user),
        cmocka_unit_test(test_state_dir),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
