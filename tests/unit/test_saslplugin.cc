// test_saslplugin.cc: golden transcripts of the SASL client plugin
// (src/sasl/plugin.cc) driven the way libsasl2 drives it, with fake
// callbacks standing in for Postfix and a scripted exoauthd on a UNIX socket
// in a temp dir. Each case asserts the exact bytes the plugin sends to the
// mail server and the exact lines it sends to exoauthd.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
}

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern "C" int sasl_client_plug_init(const sasl_utils_t *utils, int max_version, int *out_version,
                                     sasl_client_plug_t **pluglist, int *plugcount);

namespace {

// ---- a scripted exoauthd ------------------------------------------------

struct FakeDaemon {
    std::string dir, socket;
    int listen_fd = -1;
    std::vector<std::string> seen;   // request lines, in order
    std::vector<std::string> answers; // one answer line per request ("" = say nothing)
    std::thread thread;

    void start()
    {
        char tmpl[] = "/tmp/exo-saslplug-XXXXXX";
        dir = mkdtemp(tmpl);
        socket = dir + "/s.sock";
        listen_fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un a = {};
        a.sun_family = AF_UNIX;
        strcpy(a.sun_path, socket.c_str());
        assert_int_equal(bind(listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(listen_fd, 8), 0);
        thread = std::thread([this] { serve(); });
    }
    // One connection per plugin call: VERSION, then one request.
    void serve()
    {
        for (size_t i = 0; i < answers.size(); i++) {
            int c = accept(listen_fd, nullptr, nullptr);
            if (c < 0)
                return;
            std::string v = "VERSION\t1\t0\n";
            (void)!write(c, v.data(), v.size());
            std::string lines = read_lines(c, 2);
            size_t nl = lines.find('\n');
            if (nl != std::string::npos)
                seen.push_back(lines.substr(nl + 1, lines.size() - nl - 2));
            if (!answers[i].empty()) {
                std::string out = answers[i] + "\n";
                (void)!write(c, out.data(), out.size());
            } else {
                char b;
                (void)!read(c, &b, 1);  // hold the connection until the plugin gives up
            }
            close(c);
        }
    }
    static std::string read_lines(int fd, int n)
    {
        std::string s;
        char c;
        while (n > 0 && read(fd, &c, 1) == 1) {
            s += c;
            if (c == '\n')
                n--;
        }
        return s;
    }
    void stop()
    {
        if (thread.joinable())
            thread.join();
        close(listen_fd);
        unlink(socket.c_str());
        unlink((dir + "/smtp.conf").c_str());
        rmdir(dir.c_str());
    }
};

// ---- fake libsasl2 utilities and Postfix callbacks -----------------------

std::string g_confdir, g_authname, g_password, g_error, g_log;
sasl_secret_t *g_secret;

int getconfpath(void *, char **path)
{
    *path = (char *)g_confdir.c_str();
    return SASL_OK;
}

int getsimple(void *, int id, const char **result, unsigned *len)
{
    if (id != SASL_CB_AUTHNAME)
        return SASL_FAIL;
    *result = g_authname.c_str();
    *len = (unsigned)g_authname.size();
    return SASL_OK;
}

int getsecret(sasl_conn_t *, void *, int id, sasl_secret_t **psecret)
{
    if (id != SASL_CB_PASS)
        return SASL_FAIL;
    free(g_secret);
    g_secret = (sasl_secret_t *)malloc(sizeof(sasl_secret_t) + g_password.size());
    g_secret->len = g_password.size();
    memcpy(g_secret->data, g_password.data(), g_password.size());
    *psecret = g_secret;
    return SASL_OK;
}

int getcallback(sasl_conn_t *, unsigned long id, sasl_callback_ft *proc, void **ctx)
{
    *ctx = nullptr;
    if (id == SASL_CB_GETCONFPATH)
        *proc = (sasl_callback_ft)(void (*)(void))&getconfpath;
    else if (id == SASL_CB_AUTHNAME)
        *proc = (sasl_callback_ft)(void (*)(void))&getsimple;
    else if (id == SASL_CB_PASS)
        *proc = (sasl_callback_ft)(void (*)(void))&getsecret;
    else
        return SASL_FAIL;
    return SASL_OK;
}

void fake_log(sasl_conn_t *, int, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    g_log += std::string(buf) + "\n";
}

void fake_seterror(sasl_conn_t *, unsigned, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    g_error = buf;
}

int fake_canon(sasl_conn_t *, const char *in, unsigned len, unsigned, sasl_out_params_t *o)
{
    o->authid = in;
    o->alen = len;
    return SASL_OK;
}

struct Harness {
    FakeDaemon d;
    sasl_utils_t utils = {};
    sasl_client_params_t params = {};
    sasl_out_params_t oparams = {};
    sasl_client_plug_t *plugs = nullptr;

    void start(std::vector<std::string> answers, const char *extra_conf = "")
    {
        d.answers = std::move(answers);
        d.start();
        g_confdir = d.dir;
        FILE *f = fopen((d.dir + "/smtp.conf").c_str(), "w");
        fprintf(f, "pwcheck_method: auxprop\nexoauth_socket: %s\nexoauth_timeout: 1\n%s", d.socket.c_str(),
                extra_conf);
        fclose(f);
        utils.conn = (sasl_conn_t *)&utils;
        utils.getcallback = &getcallback;
        utils.log = &fake_log;
        utils.seterror = &fake_seterror;
        params.utils = &utils;
        params.canon_user = &fake_canon;
        params.serverFQDN = "smtp.office365.com";
        params.ipremoteport = "127.0.0.1;587";
        int version = 0, count = 0;
        assert_int_equal(sasl_client_plug_init(&utils, SASL_CLIENT_PLUG_VERSION, &version, &plugs, &count), SASL_OK);
        assert_int_equal(count, 2);
        g_authname = "relay@contoso.example";
        g_password = "relay";
        g_error.clear();
        g_log.clear();
    }
    // Run one step of mechanism i; returns the code and the client's bytes.
    int step(void *ctx, int i, const char *serverin, std::string &out)
    {
        const char *co = nullptr;
        unsigned colen = 0;
        sasl_interact_t *prompt = nullptr;
        int rc = plugs[i].mech_step(ctx, &params, serverin, serverin ? (unsigned)strlen(serverin) : 0, &prompt,
                                    &co, &colen, &oparams);
        out.assign(co ? co : "", colen);
        return rc;
    }
    void *open(int i)
    {
        void *ctx = nullptr;
        assert_int_equal(plugs[i].mech_new(plugs[i].glob_context, &params, &ctx), SASL_OK);
        return ctx;
    }
};

const char *TOKEN_OK = "1\tOK\ttoken=eyJ.tok.sig\texpires=1999999999\thash=0123456789ab";

void assert_text(const std::string &got, const std::string &want)
{
    if (got != want)
        fail_msg("got [%s]\nwant [%s]", got.c_str(), want.c_str());
}

} // namespace

// XOAUTH2: the initial response, then the error challenge and its reply.
static void test_xoauth2_transcript(void **)
{
    Harness h;
    h.start({TOKEN_OK, "1\tOK\tdropped=yes"});
    assert_string_equal(h.plugs[0].mech_name, "XOAUTH2");
    assert_true(h.plugs[0].security_flags & SASL_SEC_NOPLAINTEXT);
    void *ctx = h.open(0);
    std::string out;
    assert_int_equal(h.step(ctx, 0, nullptr, out), SASL_CONTINUE);
    assert_text(out, std::string("user=relay@contoso.example\x01" "auth=Bearer eyJ.tok.sig\x01\x01"));
    assert_int_equal(h.step(ctx, 0, "{\"status\":\"401\",\"schemes\":\"bearer\"}", out), SASL_CONTINUE);
    assert_text(out, "");
    h.plugs[0].mech_dispose(ctx, &h.utils);
    h.d.stop();
    assert_int_equal(h.d.seen.size(), 2);
    assert_text(h.d.seen[0], "1\tTOKEN\taccount=relay\tmailbox=relay@contoso.example");
    assert_text(h.d.seen[1], "1\tINVALIDATE\taccount=relay\thash=0123456789ab");
    assert_non_null(strstr(g_log.c_str(), "server refused token 0123456789ab for relay@contoso.example: status 401"));
    assert_null(strstr(g_log.c_str(), "eyJ.tok.sig"));
}

// The 334 path: the server's empty challenge before the client has said
// anything gets the same initial response, byte for byte.
static void test_empty_challenge_first(void **)
{
    Harness h;
    h.start({TOKEN_OK});
    void *ctx = h.open(0);
    std::string out;
    assert_int_equal(h.step(ctx, 0, "", out), SASL_CONTINUE);
    assert_text(out, std::string("user=relay@contoso.example\x01" "auth=Bearer eyJ.tok.sig\x01\x01"));
    h.plugs[0].mech_dispose(ctx, &h.utils);
    h.d.stop();
}

// OAUTHBEARER: GS2 header, host and port from the connection, ^A reply.
static void test_oauthbearer_transcript(void **)
{
    Harness h;
    h.start({TOKEN_OK, "1\tOK\tdropped=yes"});
    assert_string_equal(h.plugs[1].mech_name, "OAUTHBEARER");
    void *ctx = h.open(1);
    std::string out;
    assert_int_equal(h.step(ctx, 1, nullptr, out), SASL_CONTINUE);
    assert_text(out, std::string("n,a=relay@contoso.example,\x01" "host=smtp.office365.com\x01" "port=587\x01"
                                 "auth=Bearer eyJ.tok.sig\x01\x01"));
    assert_int_equal(h.step(ctx, 1, "{\"status\":\"invalid_token\"}", out), SASL_CONTINUE);
    assert_text(out, "\x01");
    assert_int_equal(h.step(ctx, 1, "more", out), SASL_BADPROT);
    h.plugs[1].mech_dispose(ctx, &h.utils);
    h.d.stop();
    assert_text(h.d.seen[1], "1\tINVALIDATE\taccount=relay\thash=0123456789ab");
}

// exoauthd's temporary failure: no bytes to the server, a reason for Postfix.
static void test_temporary_failure(void **)
{
    Harness h;
    h.start({"1\tFAIL\tkind=temp\tcode=idp_unavailable\treason=token endpoint answered 503\tretry_after=4"});
    void *ctx = h.open(0);
    std::string out;
    assert_int_equal(h.step(ctx, 0, nullptr, out), SASL_TRYAGAIN);
    assert_text(out, "");
    assert_text(g_error, "exoauth: no token for account relay (mailbox relay@contoso.example): idp_unavailable: "
                         "token endpoint answered 503");
    h.plugs[0].mech_dispose(ctx, &h.utils);
    h.d.stop();
}

// A silent exoauthd: the plugin gives up at exoauth_timeout.
static void test_silent_daemon_times_out(void **)
{
    Harness h;
    h.start({""});
    void *ctx = h.open(0);
    std::string out;
    assert_int_equal(h.step(ctx, 0, nullptr, out), SASL_TRYAGAIN);
    assert_non_null(strstr(g_error.c_str(), "exoauthd unavailable (timed out)"));
    h.plugs[0].mech_dispose(ctx, &h.utils);
    shutdown(h.d.listen_fd, SHUT_RDWR);
    h.d.stop();
}

// No account in the password field: refused before exoauthd is asked.
static void test_unmapped_mailbox(void **)
{
    Harness h;
    h.start({});
    g_password = "";
    void *ctx = h.open(0);
    std::string out;
    assert_int_equal(h.step(ctx, 0, nullptr, out), SASL_BADPARAM);
    assert_text(g_error, "exoauth: mailbox relay@contoso.example has no exoauthd account: put it in the password "
                         "field of smtp_sasl_password_maps");
    h.plugs[0].mech_dispose(ctx, &h.utils);
    h.d.stop();
    assert_int_equal(h.d.seen.size(), 0);
}

// mailbox_map refuses: an authorization failure (Postfix still defers).
static void test_mailbox_not_allowed(void **)
{
    Harness h;
    h.start({"1\tFAIL\tkind=perm\tcode=not_mapped\treason=mailbox_map does not let account relay act as "
             "relay@contoso.example"});
    void *ctx = h.open(0);
    std::string out;
    assert_int_equal(h.step(ctx, 0, nullptr, out), SASL_NOAUTHZ);
    assert_text(g_error, "exoauth: no token for account relay (mailbox relay@contoso.example): not_mapped: "
                         "mailbox_map does not let account relay act as relay@contoso.example");
    assert_true(out.empty());
    h.plugs[0].mech_dispose(ctx, &h.utils);
    h.d.stop();
}

// A bad smtp.conf stops the plugin from loading, with the reason logged.
static void test_bad_settings_refuse_init(void **)
{
    FakeDaemon d;
    d.start();
    g_confdir = d.dir;
    FILE *f = fopen((d.dir + "/smtp.conf").c_str(), "w");
    fprintf(f, "exoauth_timeout: 99\n");
    fclose(f);
    sasl_utils_t utils = {};
    utils.getcallback = &getcallback;
    utils.log = &fake_log;
    utils.seterror = &fake_seterror;
    g_log.clear();
    int version = 0, count = 0;
    sasl_client_plug_t *plugs = nullptr;
    assert_int_equal(sasl_client_plug_init(&utils, SASL_CLIENT_PLUG_VERSION, &version, &plugs, &count),
                     SASL_BADPARAM);
    assert_non_null(strstr(g_log.c_str(), "smtp.conf: line 1: exoauth_timeout must be 1 to 30"));
    d.stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xoauth2_transcript),    cmocka_unit_test(test_oauthbearer_transcript),
        cmocka_unit_test(test_empty_challenge_first),
        cmocka_unit_test(test_temporary_failure),     cmocka_unit_test(test_silent_daemon_times_out),
        cmocka_unit_test(test_unmapped_mailbox),      cmocka_unit_test(test_mailbox_not_allowed),      cmocka_unit_test(test_bad_settings_refuse_init),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
