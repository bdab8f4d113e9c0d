// test_config.cc: unit tests of exoauthd.conf parsing (src/core/config.cc),
// as tables: a file that sets every key, the defaults, each cloud, accepted
// spellings, and one row per refusal with its exact line and message; then
// config_load's refusal of files others may write, and the shipped example.
// Run by `make check`.

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" { // cmocka 1.1 declares print_error() without C linkage
#include <cmocka.h>
}

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <algorithm>
#include <string>

#include "config.hh"
#include "entra.hh"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

using exo::AccountConfig;
using exo::Cloud;
using exo::Config;
using exo::Credential;
using exo::Grant;
using exo::ListenConfig;

namespace {

#define GUID1 "11111111-2222-3333-4444-555555555555"
#define GUID2 "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
// An account that is complete except for its credential (3 lines).
#define ACC "[account a]\ntenant = contoso.com\nclient_id = " GUID1 "\n"

const char kFull[] =
    "# every key, set to something that is not its default\n" // 1
    "[global]\n"                                                 // 2
    "user = exoauth\n"                                           // 3
    "state_dir = /srv/exoauth/state\n"                           // 4
    "log = syslog\n"                                             // 5
    "debug = yes\n"                                              // 6
    "allow_users = postfix  dovecot 1001\n"                      // 7
    "allow_groups = mail 8\n"                                    // 8
    "admin_users = admin 0\n"                                    // 9
    "refresh_ahead = 600\n"                                      // 10
    "http_timeout = 30\n"                                        // 11
    "max_clients = 1024\n"                                       // 12
    "\n"                                                         // 13
    "[idp]\n"                                                    // 14
    "cloud = custom\n"                                           // 15
    "authority = https://127.0.0.1:8443/fake\n"                  // 16
    "ca_file = /etc/exoauth/test-ca.pem\n"                       // 17
    "\n"                                                         // 18
    "[listen main]\n"                                            // 19
    "path = /run/exo/exoauthd.sock\n"                            // 20
    "owner = exoauth\n"                                          // 21
    "group = mail\n"                                             // 22
    "mode = 0600\n"                                              // 23
    "[listen spare]\n"                                           // 24
    "path = /run/exo/spare.sock\n"                               // 25
    "\n"                                                         // 26
    "[account relay]\n"                                          // 27
    "tenant = contoso.onmicrosoft.com\n"                         // 28
    "client_id = " GUID1 "\n"                                    // 29
    "grant = client_credentials\n"                               // 30
    "certificate = /etc/exoauth/relay.crt\n"                     // 31
    "private_key = /etc/exoauth/relay.key\n"                     // 32
    "assertion_alg = RS256\n"                                    // 33
    "scope = https://outlook.office365.com/.default\n"           // 34
    "\n"                                                         // 35
    "[account alice@contoso.com]\n"                              // 36
    "tenant = " GUID2 "\n"                                       // 37
    "client_id = " GUID2 "\n"                                    // 38
    "grant = refresh_token\n"                                    // 39
    "secret_file = /etc/exoauth/alice.secret\n"                  // 40
    "scope =   offline_access   https://outlook.office.com/SMTP.Send\n"; // 41

// Parses text as "t.conf" and fails the test with the error when it is refused.
Config parse_ok(const std::string &text)
{
    Config cfg;
    std::string error;
    bool ok = exo::config_parse(text, "t.conf", cfg, error);
    if (!ok)
        fail_msg("unexpected error: %s", error.c_str());
    return cfg;
}

// Compares a list of ids with a space separated expectation.
void assert_list(const std::vector<std::string> &got, const char *want)
{
    std::string joined;
    for (const auto &s : got)
        joined += (joined.empty() ? "" : " ") + s;
    assert_string_equal(joined.c_str(), want);
}

// [global] and [idp] of kFull.
void test_full_global(void **)
{
    Config c = parse_ok(kFull);
    assert_string_equal(c.path.c_str(), "t.conf");
    assert_string_equal(c.user.c_str(), "exoauth");
    assert_string_equal(c.state_dir.c_str(), "/srv/exoauth/state");
    assert_string_equal(c.log.c_str(), "syslog");
    assert_true(c.debug);
    assert_list(c.allow_users, "postfix dovecot 1001");
    assert_list(c.allow_groups, "mail 8");
    assert_list(c.admin_users, "admin 0");
    assert_int_equal(c.refresh_ahead, 600);
    assert_int_equal(c.http_timeout, 30);
    assert_int_equal(c.max_clients, 1024);
    assert_true(c.cloud == Cloud::Custom);
    assert_string_equal(c.authority.c_str(), "https://127.0.0.1:8443/fake");
    assert_string_equal(c.ca_file.c_str(), "/etc/exoauth/test-ca.pem");
}

// [listen] sections of kFull: no defaults are added.
void test_full_listens(void **)
{
    Config c = parse_ok(kFull);
    assert_int_equal(c.listens.size(), 2);
    const ListenConfig &m = c.listens[0];
    assert_string_equal(m.name.c_str(), "main");
    assert_string_equal(m.path.c_str(), "/run/exo/exoauthd.sock");
    assert_string_equal(m.owner.c_str(), "exoauth");
    assert_string_equal(m.group.c_str(), "mail");
    assert_int_equal(m.mode, 0600);
    assert_false(m.optional);
    const ListenConfig &s = c.listens[1];
    assert_string_equal(s.name.c_str(), "spare");
    assert_string_equal(s.owner.c_str(), "");
    assert_string_equal(s.group.c_str(), "");
    assert_int_equal(s.mode, 0660);
}

// [account] sections of kFull and find_account.
void test_full_accounts(void **)
{
    Config c = parse_ok(kFull);
    assert_int_equal(c.accounts.size(), 2);
    const AccountConfig *r = c.find_account("relay");
    assert_ptr_equal(r, &c.accounts[0]);
    assert_string_equal(r->tenant.c_str(), "contoso.onmicrosoft.com");
    assert_string_equal(r->client_id.c_str(), GUID1);
    assert_true(r->grant == Grant::ClientCredentials);
    assert_true(r->credential == Credential::Certificate);
    assert_string_equal(r->certificate.c_str(), "/etc/exoauth/relay.crt");
    assert_string_equal(r->private_key.c_str(), "/etc/exoauth/relay.key");
    assert_string_equal(r->assertion_alg.c_str(), "RS256");
    assert_string_equal(r->secret_file.c_str(), "");
    assert_string_equal(r->scope.c_str(), "https://outlook.office365.com/.default");
    assert_int_equal(r->line, 27);
    const AccountConfig *a = c.find_account("alice@contoso.com");
    assert_ptr_equal(a, &c.accounts[1]);
    assert_string_equal(a->tenant.c_str(), GUID2);
    assert_true(a->grant == Grant::RefreshToken);
    assert_true(a->credential == Credential::Secret);
    assert_string_equal(a->secret_file.c_str(), "/etc/exoauth/alice.secret");
    assert_string_equal(a->assertion_alg.c_str(), "PS256");
    assert_string_equal(a->scope.c_str(), "offline_access https://outlook.office.com/SMTP.Send");
    assert_int_equal(a->line, 36);
    assert_null(c.find_account("Relay"));
    assert_null(c.find_account(""));
}

// An empty file: every default, and the two default sockets.
void test_defaults(void **)
{
    Config c = parse_ok("");
    assert_string_equal(c.user.c_str(), "");
    assert_string_equal(c.state_dir.c_str(), "/var/lib/exoauth");
    assert_string_equal(c.log.c_str(), "stderr");
    assert_false(c.debug);
    assert_true(c.allow_users.empty() && c.allow_groups.empty() && c.admin_users.empty());
    assert_int_equal(c.refresh_ahead, 300);
    assert_int_equal(c.http_timeout, 10);
    assert_int_equal(c.max_clients, 256);
    assert_true(c.cloud == Cloud::Worldwide);
    assert_string_equal(c.authority.c_str(), "https://login.microsoftonline.com");
    assert_string_equal(c.ca_file.c_str(), "");
    assert_true(c.accounts.empty());
    assert_int_equal(c.listens.size(), 2);
    assert_string_equal(c.listens[0].name.c_str(), "main");
    assert_string_equal(c.listens[0].path.c_str(), RUNSTATEDIR "/exoauth/exoauthd.sock");
    assert_string_equal(c.listens[0].group.c_str(), "");
    assert_int_equal(c.listens[0].mode, 0666);
    assert_false(c.listens[0].optional);
    assert_string_equal(c.listens[1].name.c_str(), "postfix");
    assert_string_equal(c.listens[1].path.c_str(), "/var/spool/postfix/exoauth/exoauthd.sock");
    assert_string_equal(c.listens[1].group.c_str(), "");
    assert_int_equal(c.listens[1].mode, 0666);
    assert_true(c.listens[1].optional);
}

// Account defaults: grant, credential kind, algorithm, scope.
void test_account_defaults(void **)
{
    Config c = parse_ok(ACC "secret_file = /s\n"
                            "[account pub]\ntenant = common\nclient_id = " GUID2 "\n"
                            "grant = refresh_token\n");
    const AccountConfig *a = c.find_account("a");
    assert_non_null(a);
    assert_true(a->grant == Grant::ClientCredentials);
    assert_true(a->credential == Credential::Secret);
    assert_string_equal(a->assertion_alg.c_str(), "PS256");
    assert_string_equal(a->scope.c_str(), "https://outlook.office365.com/.default");
    const AccountConfig *p = c.find_account("pub");
    assert_non_null(p);
    assert_true(p->credential == Credential::None);
    assert_string_equal(p->scope.c_str(),
                        "offline_access https://outlook.office.com/SMTP.Send "
                        "https://outlook.office.com/IMAP.AccessAsUser.All "
                        "https://outlook.office.com/POP.AccessAsUser.All");
}

struct CloudCase {
    const char *text;     // the [idp] section
    Cloud cloud;
    const char *authority;
    const char *outlook;  // cloud_outlook_host
    const char *delegated; // host of the refresh_token scopes
    const char *aud;      // token endpoint for tenant contoso.com: the client assertion's aud
};

// Authorities and hosts as docs/CLOUDS.md gives them, each with its source.
const CloudCase kClouds[] = {
    {"", Cloud::Worldwide, "https://login.microsoftonline.com", "outlook.office365.com",
     "outlook.office.com", "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token"},
    {"[idp]\ncloud = worldwide\n", Cloud::Worldwide, "https://login.microsoftonline.com",
     "outlook.office365.com", "outlook.office.com",
     "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token"},
    {"[idp]\ncloud = usgov\n", Cloud::UsGov, "https://login.microsoftonline.us",
     "outlook.office365.us", "outlook.office365.us",
     "https://login.microsoftonline.us/contoso.com/oauth2/v2.0/token"},
    {"[idp]\ncloud = usgov-dod\n", Cloud::UsGovDod, "https://login.microsoftonline.us",
     "outlook-dod.office365.us", "outlook-dod.office365.us",
     "https://login.microsoftonline.us/contoso.com/oauth2/v2.0/token"},
    {"[idp]\ncloud = china\n", Cloud::China, "https://login.partner.microsoftonline.cn",
     "partner.outlook.cn", "partner.outlook.cn",
     "https://login.partner.microsoftonline.cn/contoso.com/oauth2/v2.0/token"},
    {"[idp]\ncloud = custom\nauthority = https://idp.test:8443\n", Cloud::Custom,
     "https://idp.test:8443", "outlook.office365.com", "outlook.office.com",
     "https://idp.test:8443/contoso.com/oauth2/v2.0/token"},
    {"[idp]\nauthority = https://idp.test/x/y\ncloud = custom\n", Cloud::Custom,
     "https://idp.test/x/y", "outlook.office365.com", "outlook.office.com",
     "https://idp.test/x/y/contoso.com/oauth2/v2.0/token"},
};

// One cloud's default scopes for the app-only account "a" and the
// delegated account "d".
void check_cloud_scopes(const Config &c, const CloudCase &cc)
{
    std::string app = std::string("https://") + cc.outlook + "/.default";
    assert_string_equal(c.find_account("a")->scope.c_str(), app.c_str());
    std::string b = std::string("https://") + cc.delegated + "/";
    std::string del = "offline_access " + b + "SMTP.Send " + b + "IMAP.AccessAsUser.All " + b +
                      "POP.AccessAsUser.All";
    assert_string_equal(c.find_account("d")->scope.c_str(), del.c_str());
}

// Each cloud: its authority, its hosts, the default scopes it gives and the
// aud of a client assertion (the cloud's own token endpoint: Entra refuses
// an assertion addressed to another cloud), whether [idp] comes before or
// after the accounts.
void test_clouds(void **)
{
    const std::string accounts = ACC "secret_file = /s\n[account d]\ntenant = t.example\n"
                                     "client_id = " GUID1 "\ngrant = refresh_token\n";
    for (const auto &cc : kClouds) {
        for (int after = 0; after < 2; after++) {
            Config c = parse_ok(after ? accounts + cc.text : cc.text + accounts);
            assert_true(c.cloud == cc.cloud);
            assert_string_equal(c.authority.c_str(), cc.authority);
            assert_string_equal(exo::cloud_outlook_host(c.cloud), cc.outlook);
            assert_string_equal(exo::token_endpoint(c.authority, "contoso.com").c_str(), cc.aud);
            check_cloud_scopes(c, cc);
        }
    }
    assert_string_equal(exo::cloud_authority(Cloud::Custom), "");
}

// Spellings that are accepted: layout, line endings, edge values.
const char *const kAccepted[] = {
    "\xef\xbb\xbf[global]\nlog = syslog\n",                // byte order mark
    "[global]\r\nlog = syslog\r\n",                        // CRLF
    "  # indented comment\n\t[global]\t\n\tlog=syslog",    // tabs, no newline at end
    "[ global ]\n",                                        // blanks inside brackets
    "[account   x.y_z@w-1]\ntenant=t\nclient_id=" GUID1 "\nsecret_file=/s\n",
    "[global]\nuser =\nallow_users =\nallow_groups =   \nadmin_users =\n",
    "[global]\nrefresh_ahead = 0\nhttp_timeout = 1\nmax_clients = 1\n",
    "[global]\nrefresh_ahead = 3600\nhttp_timeout = 120\nmax_clients = 65536\n",
    "[global]\nallow_users = 0 4294967294 www-data nobody$ a.b_c\n",
    "[global]\n# é ü ✓ 𝄞 comments may hold any UTF-8\n",
    "[listen a]\npath = /x\nmode = 0\n[listen b]\npath = /y\nmode = 777\n",
    "[listen a]\npath = /" "0123456789012345678901234567890123456789012345678901234567890123456789"
    "01234567890123456789012345678901234\nowner =\ngroup =\n",   // 107 bytes
    "[account p]\ntenant = organizations\nclient_id = " GUID1 "\ngrant = refresh_token\n",
    "[account p]\ntenant = t\nclient_id = " GUID1 "\ngrant = refresh_token\n"
    "certificate = /c\nprivate_key = /k\nassertion_alg = PS256\n",
    "[account u]\ntenant = T\nclient_id = AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE\nsecret_file = /s\n",
    "[global]\nstate_dir = /a b/c\n",                     // blanks inside a path
    "[idp]\ncloud = custom\nauthority = https://h/tenant-path\n",
    "[idp]\nproxy = http://proxy.example:3128\n",
    "[idp]\nproxy = https://relay%40corp:p%3Ass@[2001:db8::1]:8443/\nno_proxy = .corp.example\n",
};

// Every accepted spelling parses.
void test_accepted(void **)
{
    for (const char *text : kAccepted) {
        Config c;
        std::string error;
        if (!exo::config_parse(text, "t.conf", c, error))
            fail_msg("refused %s: %s", text, error.c_str());
    }
    Config c = parse_ok(kAccepted[10]);
    assert_int_equal(c.listens[0].mode, 0);
    assert_int_equal(c.listens[1].mode, 0777);
}

struct BadCase {
    std::string text;
    int line;
    const char *fragment; // must appear after "t.conf:LINE: "
};

const std::string kLong(4095, 'x');

const BadCase kBad[] = {
    // secret_expires
    {ACC "secret_file = /s\nsecret_expires = 2027-02-30\n", 5, "expected a date YYYY-MM-DD"},
    {ACC "secret_file = /s\nsecret_expires = 27-01-01\n", 5, "expected a date YYYY-MM-DD"},
    {ACC "secret_file = /s\nsecret_expires = 2027-1-01\n", 5, "expected a date YYYY-MM-DD"},
    {ACC "secret_file = /s\nsecret_expires = 1999-12-31\n", 5, "expected a date YYYY-MM-DD"},
    {ACC "secret_file = /s\nsecret_expires = 2027-13-01\n", 5, "expected a date YYYY-MM-DD"},
    {ACC "certificate = /c\nprivate_key = /k\nsecret_expires = 2027-01-01\n", 6,
     "\"secret_expires\" needs \"secret_file\""},
    // [peer]
    {"[peer]\nusers = postfix\n", 1, "section [peer] needs a name"},
    {"[peer p]\ncommands = TOKEN\n", 1, "missing \"users\" or \"groups\" in [peer p]"},
    {"[peer p]\nusers = postfix\ncommands = TOKEN RELOAD\n", 3, "unknown word \"RELOAD\""},
    {"[peer p]\nusers = postfix\ncommands = token\n", 3, "unknown word \"token\""},
    {"[peer p]\nusers = postfix\ntoken_by = mailbox\n", 3, "unknown word \"mailbox\""},
    {"[peer p]\nusers = post fix!\n", 2, "expected names or numeric ids"},
    {"[peer p]\nusers = postfix\naccounts = a/b\n", 3, "expected account names"},
    {"[peer p]\nusers = postfix\naccounts = nosuch\n", 1, "[peer p] names unknown account \"nosuch\""},
    {"[peer p]\nusers = x\n[peer p]\nusers = y\n", 3, "duplicate section [peer p]"},
    // layout
    {"user = x\n", 1, "key \"user\" before any section"},
    {"# c\n\nlog = x\n", 3, "key \"log\" before any section"},
    {"[global]\njust words\n", 2, "expected \"key = value\" or \"[section]\""},
    {"[global]\n = x\n", 2, "missing key before \"=\""},
    {"[global]\n# " + kLong + "\n", 2, "line longer than 4096 bytes"},
    {"[global]\nlog = syslog\n" + kLong.substr(0, 4090) + " = x\n", 3, "unknown key"},
    {"[global]\n# \xff\n", 2, "invalid UTF-8"},
    {"[global]\n# \xc0\xaf\n", 2, "invalid UTF-8"},
    {"[global]\n# \xed\xa0\x80\n", 2, "invalid UTF-8"},
    {"[global]\nuser = ro\x01ot\n", 2, "control character in the value of \"user\""},
    {"[global]\nuser = a\tb\n", 2, "control character"},
    {"[global]\nstate_dir = /a\rb\n", 2, "control character"},
    {"[global]\nstate_dir = /a\x7f\n", 2, "control character"},
    {"[global]\nlog = syslog # trailing text is not a comment\n", 2,
     "invalid value \"syslog # trailing text is not a comment\" for \"log\""},
    // sections
    {"[foo]\n", 1, "unknown section \"[foo]\""},
    {"[Global]\n", 1, "unknown section"},
    {"[global\n", 1, "expected \"]\" at the end of the section header"},
    {"[global] # c\n", 1, "expected \"]\""},
    {"[global x]\n", 1, "section [global] takes no name"},
    {"[idp x]\n", 1, "section [idp] takes no name"},
    {"[account]\n", 1, "section [account] needs a name"},
    {"[listen  ]\n", 1, "section [listen] needs a name"},
    {"[account bad/name]\n", 1, "invalid account name \"bad/name\""},
    {"[account a b]\n", 1, "invalid account name \"a b\""},
    {"[listen " + std::string(65, 'n') + "]\n", 1, "invalid listen name"},
    {"[global]\n[global]\n", 2, "duplicate section [global] (first at line 1)"},
    {"[idp]\n\n[global]\n[idp]\n", 4, "duplicate section [idp] (first at line 1)"},
    {ACC "secret_file = /s\n[account a]\n", 5, "duplicate section [account a] (first at line 1)"},
    {"[listen a]\npath=/x\n[listen a]\npath=/y\n", 3, "duplicate section [listen a]"},
    // keys
    {"[global]\ntenant = x\n", 2, "unknown key \"tenant\" in [global]"},
    {"[idp]\nuser = x\n", 2, "unknown key \"user\" in [idp]"},
    {"[global]\nLog = syslog\n", 2, "unknown key \"Log\" in [global]"},
    {"[global]\nlog = stderr\nlog = syslog\n", 3,
     "duplicate key \"log\" in [global] (first at line 2)"},
    {ACC "tenant = x\n", 4, "duplicate key \"tenant\" in [account a]"},
    {"[global]\nstate_dir =\n", 2, "empty value for \"state_dir\" in [global]"},
    {ACC "scope =\n", 4, "empty value for \"scope\""},
    // [global] values
    {"[global]\nrefresh_ahead = abc\n", 2,
     "invalid value \"abc\" for \"refresh_ahead\" in [global]: expected a number from 0 to 3600"},
    {"[global]\nrefresh_ahead = 3601\n", 2, "expected a number from 0 to 3600"},
    {"[global]\nrefresh_ahead = +5\n", 2, "expected a number"},
    {"[global]\nhttp_timeout = 0\n", 2, "expected a number from 1 to 120"},
    {"[global]\nhttp_timeout = 121\n", 2, "from 1 to 120"},
    {"[global]\nmax_clients = 65537\n", 2, "expected a number from 1 to 65536"},
    {"[global]\nmax_clients = -1\n", 2, "from 1 to 65536"},
    {"[global]\nmax_clients = 99999999999999999999\n", 2, "from 1 to 65536"},
    {"[global]\nstate_dir = var/lib/exoauth\n", 2, "expected an absolute path"},
    {"[global]\nlog = journal\n", 2, "expected stderr or syslog"},
    {"[global]\ndebug = true\n", 2, "expected yes or no"},
    {"[global]\nuser = a b\n", 2, "expected a user or group name"},
    {"[global]\nallow_users = a,b\n", 2, "expected names or numeric ids separated by spaces"},
    {"[global]\nallow_groups = 4294967295\n", 2, "expected names or numeric ids"},
    {"[global]\nadmin_users = -x\n", 2, "expected names or numeric ids"},
    // [idp]
    {"[idp]\ncloud = mars\n", 2, "expected worldwide, usgov, usgov-dod, china or custom"},
    {"[idp]\ncloud = custom\n", 1, "missing \"authority\" in [idp] (required with cloud = custom)"},
    {"[idp]\nauthority = https://x\n", 2, "\"authority\" is only allowed with cloud = custom"},
    {"[idp]\nauthority = https://x\ncloud = china\n", 2, "only allowed with cloud = custom"},
    {"[idp]\ncloud = custom\nauthority = http://x\n", 3, "invalid value \"http://x\" for \"authority\""},
    {"[idp]\ncloud = custom\nauthority = https://\n", 3, "for \"authority\""},
    {"[idp]\ncloud = custom\nauthority = https:///x\n", 3, "for \"authority\""},
    {"[idp]\ncloud = custom\nauthority = https://x/\n", 3, "without a trailing slash"},
    {"[idp]\ncloud = custom\nauthority = https://x?a=1\n", 3, "query or fragment"},
    {"[idp]\ncloud = custom\nauthority = https://x/a#f\n", 3, "query or fragment"},
    {"[idp]\ncloud = custom\nauthority = https://x y\n", 3, "for \"authority\""},
    {"[idp]\ncloud = custom\nauthority = https://\xc3\xa9.test\n", 3, "for \"authority\""},
    {"[idp]\nca_file = ca.pem\n", 2, "expected an absolute path"},
    // [idp] proxy: http(s)://[user:password@]host:port only; the value is never echoed
    {"[idp]\nproxy = socks5://p.example:1080\n", 2,
     "invalid value (not shown: it may hold a password) for \"proxy\" in [idp]: expected http://host:port "
     "or https://host:port"},
    {"[idp]\nproxy = ftp://p.example:21\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = HTTP://p.example:3128\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = p.example:3128\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://p.example\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://p.example:\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://:3128\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://p.example:0\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://p.example:65536\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://p.example:3128/path\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://p.example:3128?x=1\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://p.example:3128#f\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://u:p@w@p.example:3128\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://u:p w@p.example:3128\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://p_x.example:3128\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://[::1:3128\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://\xc3\xa9.example:3128\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://u:\xc3\xa9@p.example:3128\n", 2, "expected http://host:port"},
    {"[idp]\nproxy = http://p.example:3128\x01\n", 2, "control character in the value of \"proxy\""},
    {"[idp]\nproxy = http://p.\texample:3128\n", 2, "control character in the value of \"proxy\""},
    {"[idp]\nproxy = http://u:p\x7f@p.example:3128\n", 2, "control character in the value of \"proxy\""},
    {"[idp]\nproxy =\n", 2, "empty value for \"proxy\" in [idp]"},
    {"[idp]\nproxy = http://p.example:1\nproxy = http://q.example:1\n", 3, "duplicate key \"proxy\""},
    {"[global]\nproxy = http://p.example:3128\n", 2, "unknown key \"proxy\" in [global]"},
    {"[idp]\nno_proxy = localhost\n", 2, "\"no_proxy\" needs \"proxy\" in [idp]"},
    {"[idp]\nproxy = http://p.example:1\nno_proxy = a;b\n", 3,
     "invalid value \"a;b\" for \"no_proxy\" in [idp]: expected host names"},
    {"[idp]\nproxy = http://p.example:1\nno_proxy = a\xc3\xa9\n", 3, "expected host names"},
    {"[idp]\nproxy = http://p.example:1\nno_proxy =\n", 3, "empty value for \"no_proxy\""},
    // [listen]
    {"[listen a]\nmode = 0660\n", 1, "missing \"path\" in [listen a]"},
    {"[listen a]\npath = x.sock\n", 2, "expected an absolute path"},
    {"[listen a]\npath = /" + std::string(107, 'p') + "\n", 2, "longer than 107 bytes"},
    {"[listen a]\npath = /run/../x.sock\n", 2, "\"..\" is not allowed as a path component"},
    {"[listen a]\npath = /run/exoauth/..\n", 2, "\"..\" is not allowed"},
    {"[listen a]\npath = /x\nmode = 0778\n", 3, "expected an octal mode from 0000 to 0777"},
    {"[listen a]\npath = /x\nmode = 01777\n", 3, "expected an octal mode"},
    {"[listen a]\npath = /x\nmode = rw\n", 3, "expected an octal mode"},
    {"[listen a]\npath = /x\nowner = -bad\n", 3, "expected a user or group name"},
    {"[listen a]\npath = /x\ngroup = a:b\n", 3, "expected a user or group name"},
    {"[listen a]\npath = /x\n[listen b]\n\npath = /x\n", 5,
     "duplicate listen path \"/x\" (also in [listen a])"},
    // [account]
    {"[account a]\nclient_id = " GUID1 "\nsecret_file = /s\n", 1, "missing \"tenant\" in [account a]"},
    {"[account a]\ntenant = t\nsecret_file = /s\n", 1, "missing \"client_id\" in [account a]"},
    {"[account a]\ntenant = contoso_com\n", 2, "expected a tenant id (GUID) or domain name"},
    {"[account a]\ntenant = " + std::string(254, 't') + "\n", 2, "expected a tenant id"},
    {"[account a]\nclient_id = 1111111-2222-3333-4444-555555555555\n", 2, "expected a GUID"},
    {"[account a]\nclient_id = 11111111-2222-3333-4444-55555555555g\n", 2, "expected a GUID"},
    {"[account a]\nclient_id = 11111111+2222-3333-4444-555555555555\n", 2, "expected a GUID"},
    {ACC "grant = password\n", 4, "expected client_credentials or refresh_token"},
    {ACC "assertion_alg = ES256\n", 4, "expected PS256 or RS256"},
    {ACC "certificate = relay.crt\n", 4, "expected an absolute path"},
    {ACC "private_key = ./k\n", 4, "expected an absolute path"},
    {ACC "secret_file = secret\n", 4, "expected an absolute path"},
    {ACC "scope = a \"b\"\n", 4, "scope tokens are printable ASCII"},
    {ACC "scope = caf\xc3\xa9\n", 4, "scope tokens"},
    {ACC "certificate = /c\n", 1, "missing \"private_key\" in [account a] (\"certificate\" needs it)"},
    {ACC "private_key = /k\n", 1, "missing \"certificate\" in [account a]"},
    {ACC "certificate = /c\nprivate_key = /k\nsecret_file = /s\n", 1,
     "\"certificate\" and \"secret_file\" exclude each other in [account a]"},
    {ACC, 1, "missing credential in [account a]: client_credentials needs"},
    {ACC "grant = client_credentials\n[global]\n", 1, "missing credential in [account a]"},
    {ACC "secret_file = /s\nassertion_alg = PS256\n", 5,
     "\"assertion_alg\" needs \"certificate\" in [account a]"},
    {ACC "grant = refresh_token\nassertion_alg = RS256\n", 5, "\"assertion_alg\" needs"},
    {"[account a]\ntenant = common\nclient_id = " GUID1 "\nsecret_file = /s\n", 2,
     "tenant \"common\" cannot be used with grant client_credentials in [account a]"},
    {"[account a]\nclient_id = " GUID1 "\ntenant = Organizations\ncertificate = /c\n"
     "private_key = /k\n", 3, "tenant \"Organizations\" cannot be used"},
    {"[account a]\ntenant = consumers\nclient_id = " GUID1 "\nsecret_file = /s\n", 2,
     "tenant \"consumers\""},
    {ACC "secret_file = /s\n[account b]\ntenant = t\nclient_id = x\n", 7,
     "invalid value \"x\" for \"client_id\" in [account b]"},
    // [validate]
    {"[validate]\ntenant = t\n", 1, "missing \"audience\" in [validate]"},
    {"[validate]\naudience = api://x\n", 1, "missing \"tenant\""},
    {"[validate]\nmode = saml\n", 2, "invalid value \"saml\" for \"mode\""},
    {"[validate]\nuser_claim = name\n", 2, "for \"user_claim\""},
    {"[validate]\nskew = 301\n", 2, "for \"skew\""},
    {"[validate]\njwks_ttl = 5\n", 2, "for \"jwks_ttl\""},
    {"[validate]\nmode = introspection\nclient_id = c\n", 1, "missing \"introspection_url\""},
    {"[validate]\nmode = introspection\nintrospection_url = http://x\n", 3, "introspection_url"},
    {"[validate]\naudience = a\ntenant = t\n[validate]\n", 4, "duplicate section [validate]"},
    {"[validate x]\n", 1, "takes no name"},
    {"[validate]\ntenant = t\naudience = a\nuser_claim = email\n", 4,
     "user_claim email in [validate] can be set by the user or another tenant, so it cannot name a local user: "
     "use upn or oid, or add \"allow_mutable_user_claim = yes\" to [validate]"},
    {"[validate]\ntenant = t\naudience = a\nuser_claim = preferred_username\nallow_mutable_user_claim = no\n", 4,
     "allow_mutable_user_claim = yes"},
    {"[validate]\ntenant = t\naudience = a\ntenants = t2\n", 4, "lists tenant ids (GUIDs), which tokens carry in tid; \"t2\" is not one"},
    {"[validate]\naudience = a\ntenant = Organizations\n", 3,
     "tenant \"Organizations\" in [validate] pins no tenant: add \"tenants = <tenant id> ...\""},
    {"[validate]\naudience = a\ntenant = common\n", 3, "pins no tenant"},
    {"[validate]\ntenant = t\naudience = a\nkid_refetch_interval = 0\n", 4, "for \"kid_refetch_interval\""},
    // [alerts]
    {"[alerts]\ntimeout = 5\n", 1, "missing \"command\" in [alerts]"},
    {"[alerts x]\ncommand = /bin/true\n", 1, "section [alerts] takes no name"},
    {"[alerts]\ncommand = mail-alert\n", 2, "expected an absolute path"},
    {"[alerts]\ncommand = /usr/bin/notify 'two words'\n", 2, "quotes and backslashes are not allowed"},
    {"[alerts]\ncommand = /usr/bin/notify a\\ b\n", 2, "quotes and backslashes are not allowed"},
    {"[alerts]\ncommand = /usr/bin/notify \"x\"\n", 2, "quotes and backslashes are not allowed"},
    {"[alerts]\ncommand =\n", 2, "empty value for \"command\""},
    {"[alerts]\ncommand = /p a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6\n", 2, "more than 32 words"},
    {"[alerts]\ncommand = /p\ntimeout = 0\n", 3, "invalid value \"0\" for \"timeout\""},
    {"[alerts]\ncommand = /p\ntimeout = 301\n", 3, "for \"timeout\""},
    {"[alerts]\ncommand = /p\nreminder = 0\n", 3, "for \"reminder\""},
    {"[alerts]\ncommand = /p\nreminder = 2592001\n", 3, "for \"reminder\""},
    {"[alerts]\ncommand = /p\nwarn_days = 0\n", 3, "for \"warn_days\""},
    {"[alerts]\ncommand = /p\nwarn_days = 366\n", 3, "for \"warn_days\""},
    {"[alerts]\ncommand = /p\nidp_unreachable_after = 0\n", 3, "for \"idp_unreachable_after\""},
    {"[alerts]\ncommand = /p\nidp_unreachable_after = 1h\n", 3, "for \"idp_unreachable_after\""},
    {"[alerts]\ncommand = /p\nsubject = x\n", 3, "unknown key \"subject\" in [alerts]"},
    {"[alerts]\ncommand = /p\n[alerts]\ncommand = /q\n", 3, "duplicate section [alerts]"},
    // [metrics]: loopback or a socket path only
    {"[metrics]\nmode = 0660\n", 1, "missing \"listen\" in [metrics]"},
    {"[metrics]\nlisten = 0.0.0.0:9464\n", 2, "must be a loopback address"},
    {"[metrics]\nlisten = 192.0.2.1:9464\n", 2, "metrics are never served to the network"},
    {"[metrics]\nlisten = [::]:9464\n", 2, "must be a loopback address"},
    {"[metrics]\nlisten = ::1:9464\n", 2, "must be a loopback address"},
    {"[metrics]\nlisten = [::ffff:127.0.0.1]:9464\n", 2, "must be a loopback address"},
    {"[metrics]\nlisten = localhost:9464\n", 2, "must be a loopback address"},
    {"[metrics]\nlisten = 127.0.0.1\n", 2, "must be a loopback address"},
    {"[metrics]\nlisten = 9464\n", 2, "must be a loopback address"},
    {"[metrics]\nlisten = 127.0.0.1:0\n", 2, "for \"listen\""},
    {"[metrics]\nlisten = 127.0.0.1:65536\n", 2, "for \"listen\""},
    {"[metrics]\nlisten = 127.0.0.1:http\n", 2, "for \"listen\""},
    {"[metrics]\nlisten = relative.sock\n", 2, "must be a loopback address"},
    {"[metrics]\nlisten = 127.0.0.1:9464\nmode = 999\n", 3, "for \"mode\""},
    {"[metrics x]\nlisten = 127.0.0.1:9464\n", 1, "section [metrics] takes no name"},
};

// Each refusal: the exact "t.conf:LINE: " prefix and the reason.
void test_refused(void **)
{
    int n = 0;
    for (const auto &bc : kBad) {
        Config c;
        std::string error;
        if (exo::config_parse(bc.text, "t.conf", c, error))
            fail_msg("case %d accepted: %s", n, bc.text.c_str());
        std::string prefix = "t.conf:" + std::to_string(bc.line) + ": ";
        if (error.compare(0, prefix.size(), prefix) != 0 ||
            error.find(bc.fragment, prefix.size()) == std::string::npos)
            fail_msg("case %d: got \"%s\", want \"%s...%s\"", n, error.c_str(), prefix.c_str(),
                     bc.fragment);
        n++;
    }
}

// secret_expires: the start of that day in UTC.
void test_secret_expires(void **)
{
    Config c;
    std::string error;
    if (!exo::config_parse(ACC "secret_file = /s\nsecret_expires = 2027-03-01\n", "t.conf", c, error))
        fail_msg("%s", error.c_str());
    assert_int_equal(c.accounts[0].secret_expires, 1803859200);  // date -ud 2027-03-01 +%s
}

// [peer] sections: every key, defaults, and rights adding up.
void test_peer_sections(void **)
{
    Config c;
    std::string error;
    const char *text = ACC "secret_file = /s\n[peer mta]\nusers = postfix 1001\ncommands = TOKEN INVALIDATE\n"
                           "accounts = a\n[peer imap]\ngroups = mail\ncommands = VALIDATE TOKEN\n"
                           "token_by = user account\naccounts = *\n";
    if (!exo::config_parse(text, "t.conf", c, error))
        fail_msg("%s", error.c_str());
    assert_int_equal(c.peers.size(), 2);
    assert_list(c.peers[0].users, "postfix 1001");
    assert_list(c.peers[0].commands, "TOKEN INVALIDATE");
    assert_list(c.peers[0].accounts, "a");
    assert_true(c.peers[0].token_by_account);
    assert_false(c.peers[0].token_by_user);
    assert_list(c.peers[1].groups, "mail");
    assert_true(c.peers[1].token_by_user && c.peers[1].token_by_account);
    assert_list(c.peers[1].accounts, "*");
}

// A full [validate] section fills every field; its absence leaves it off.
void test_validate_section(void **)
{
    Config c;
    std::string error;
    assert_true(exo::config_parse("[global]\n", "t.conf", c, error));
    assert_false(c.validate.enabled);
    const char *text = "[validate]\ntenant = contoso.example\naudience = api://exoauth 1234\n"
                       "tenants = 11111111-2222-3333-4444-55555555555A 9188040d-6c67-4c5b-b112-36a304b66dad\n"
                       "scopes = IMAP.Login\nroles = R\nuser_claim = email\nallow_mutable_user_claim = yes\n"
                       "skew = 60\njwks_ttl = 600\nkid_refetch_interval = 30\n"
                       "issuer = https://sts.windows.net/{tenantid}/\n";
    assert_true(exo::config_parse(text, "t.conf", c, error));
    assert_true(c.validate.enabled);
    assert_string_equal(c.validate.mode.c_str(), "jwt");
    assert_list(c.validate.audiences, "api://exoauth 1234");
    assert_list(c.validate.tenants, "11111111-2222-3333-4444-55555555555a 9188040d-6c67-4c5b-b112-36a304b66dad");
    assert_true(c.validate.allow_mutable_user_claim);
    assert_int_equal(c.validate.kid_refetch, 30);
    assert_list(c.validate.issuers, "https://sts.windows.net/{tenantid}/");
    assert_string_equal(c.validate.user_claim.c_str(), "email");
    assert_int_equal(c.validate.skew, 60);
    assert_int_equal(c.validate.jwks_ttl, 600);
    assert_int_equal(c.validate.line, 1);
}

// [metrics]: off by default; an IPv4 or IPv6 loopback address and port,
// or a socket path with its group and mode.
void test_metrics_section(void **)
{
    exo::Config c;
    std::string error;
    assert_true(exo::config_parse("", "t.conf", c, error));
    assert_false(c.metrics.enabled);
    assert_true(exo::config_parse("[metrics]\nlisten = 127.0.0.1:9464\n", "t.conf", c, error));
    assert_true(c.metrics.enabled);
    assert_string_equal(c.metrics.host.c_str(), "127.0.0.1");
    assert_int_equal(c.metrics.port, 9464);
    assert_true(c.metrics.path.empty());
    assert_true(exo::config_parse("[metrics]\nlisten = [::1]:1\n", "t.conf", c, error));
    assert_string_equal(c.metrics.host.c_str(), "::1");
    assert_int_equal(c.metrics.port, 1);
    assert_true(exo::config_parse("[metrics]\nlisten = 127.1.2.3:65535\n", "t.conf", c, error));
    const char *text = "[metrics]\nlisten = /run/exoauth/metrics.sock\ngroup = prometheus\nmode = 0660\n";
    assert_true(exo::config_parse(text, "t.conf", c, error));
    assert_string_equal(c.metrics.path.c_str(), "/run/exoauth/metrics.sock");
    assert_string_equal(c.metrics.group.c_str(), "prometheus");
    assert_true(c.metrics.host.empty());
}

// [alerts]: defaults, every key, the command split at blanks; no section:
// no alerts.
void test_alerts_section(void **)
{
    Config c;
    std::string error;
    assert_true(exo::config_parse("[global]\n", "t.conf", c, error));
    assert_false(c.alerts.enabled);
    assert_true(exo::config_parse("[alerts]\ncommand = /usr/bin/notify\n", "t.conf", c, error));
    assert_true(c.alerts.enabled);
    assert_int_equal(c.alerts.timeout, 10);
    assert_int_equal(c.alerts.reminder, 86400);
    assert_int_equal(c.alerts.warn_days, 30);
    assert_int_equal(c.alerts.idp_unreachable_after, 900);
    const char *text = "[alerts]\ncommand = /etc/exoauth/alert-mail  root@example.org   ops\n"
                       "timeout = 300\nreminder = 1\nwarn_days = 365\nidp_unreachable_after = 86400\n";
    assert_true(exo::config_parse(text, "t.conf", c, error));
    assert_list(c.alerts.command, "/etc/exoauth/alert-mail root@example.org ops");
    assert_int_equal(c.alerts.timeout, 300);
    assert_int_equal(c.alerts.reminder, 1);
    assert_int_equal(c.alerts.warn_days, 365);
    assert_int_equal(c.alerts.idp_unreachable_after, 86400);
    assert_int_equal(c.alerts.line, 1);
}

// Two messages in full, as the man page shows them.
void test_exact_messages(void **)
{
    const std::string head = "[global]\n\n# ten lines of comments\n#\n#\n#\n#\n#\n#\n#\n"
                             "[account relay]\n";
    Config c;
    std::string error;
    assert_false(exo::config_parse(head + "tenat = x\n", "/etc/exoauth/exoauthd.conf", c, error));
    assert_string_equal(error.c_str(),
                        "/etc/exoauth/exoauthd.conf:12: unknown key \"tenat\" in [account relay]");
    assert_false(exo::config_parse("\n\n[account relay]\ntenant = t\n", "/etc/exoauth/exoauthd.conf",
                                   c, error));
    assert_string_equal(error.c_str(),
                        "/etc/exoauth/exoauthd.conf:3: missing \"client_id\" in [account relay]");
    assert_false(exo::config_parse("[global]\nuser = \x01" + std::string(100, 'u') + "\n", "p", c,
                                   error));
    assert_string_equal(error.c_str(), "p:2: control character in the value of \"user\"");
}

// [idp] proxy and no_proxy: kept as written (no_proxy joined by commas),
// and a refused proxy URL's password appears in no message.
void test_proxy(void **)
{
    Config c = parse_ok("[idp]\nproxy = http://relay:s3cret@proxy.example:3128/\n"
                        "no_proxy = a.example,  .b.example 10.0.0.0/8,,\n");
    assert_string_equal(c.proxy.c_str(), "http://relay:s3cret@proxy.example:3128/");
    assert_string_equal(c.no_proxy.c_str(), "a.example,.b.example,10.0.0.0/8");
    Config d = parse_ok("");
    assert_true(d.proxy.empty() && d.no_proxy.empty());
    const char *const bad[] = {"http://relay:s3cret@proxy.example\n", "http://relay:s3cret@p/x:1\n",
                               "gopher://relay:s3cret@p:1\n", "http://relay:s3cret@p:1\x02\n"};
    for (const char *b : bad) {
        std::string error;
        assert_false(exo::config_parse(std::string("[idp]\nproxy = ") + b, "t.conf", c, error));
        assert_null(strstr(error.c_str(), "s3cret"));
    }
}

// A refused file leaves the caller's Config as it was.
void test_out_untouched(void **)
{
    Config c;
    c.user = "keep";
    c.accounts.emplace_back();
    std::string error;
    assert_false(exo::config_parse("[global]\nuser = other\n[account a]\ntenant = t\n", "t.conf", c,
                                   error));
    assert_string_equal(c.user.c_str(), "keep");
    assert_int_equal(c.accounts.size(), 1);
    assert_true(c.listens.empty());
    assert_true(c.path.empty());
}

// More than 1 MiB of text is refused before any line is read.
void test_too_big_text(void **)
{
    std::string text = "[global]\n" + std::string(1024 * 1024, '\n');
    Config c;
    std::string error;
    assert_false(exo::config_parse(text, "t.conf", c, error));
    assert_string_equal(error.c_str(), "t.conf: larger than 1 MiB");
}

// Writes text to path with mode and returns path.
std::string write_file(const std::string &path, const std::string &text, mode_t mode)
{
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text.data(), text.size()), (ssize_t)text.size());
    assert_int_equal(close(fd), 0);
    assert_int_equal(chmod(path.c_str(), mode), 0);
    return path;
}

// config_load: permissions, file type, size, and a good file.
void test_load(void **)
{
    char dir[] = "/tmp/test_config.XXXXXX";
    assert_non_null(mkdtemp(dir));
    const std::string good = ACC "secret_file = /s\n";
    Config c;
    std::string error;
    for (mode_t mode : {0664, 0646, 0622}) {
        std::string p = write_file(std::string(dir) + "/w.conf", good, mode);
        assert_false(exo::config_load(p, c, error));
        assert_string_equal(error.c_str(), ("config " + p + ": writable by group or others; chmod go-w " + p).c_str());
    }
    assert_false(exo::config_load(dir, c, error));
    assert_string_equal(error.c_str(),
                        ("config " + std::string(dir) + ": not a regular file; point the setting at a plain file").c_str());
    std::string big = write_file(std::string(dir) + "/big.conf", std::string(1024 * 1024 + 1, '\n'), 0600);
    assert_false(exo::config_load(big, c, error));
    assert_string_equal(error.c_str(), ("config " + big + ": larger than 1048576 bytes; refusing to read it").c_str());
    assert_false(exo::config_load(std::string(dir) + "/none.conf", c, error));
    assert_non_null(strstr(error.c_str(), "does not exist"));
    std::string bad = write_file(std::string(dir) + "/bad.conf", "[global]\nlog = x\n", 0600);
    assert_false(exo::config_load(bad, c, error));
    assert_int_equal(error.rfind(bad + ":2: ", 0), 0);
    std::string ok = write_file(std::string(dir) + "/ok.conf", good, 0644);
    assert_true(exo::config_load(ok, c, error));
    assert_string_equal(c.path.c_str(), ok.c_str());
    assert_non_null(c.find_account("a"));
    for (const char *f : {"/w.conf", "/big.conf", "/bad.conf", "/ok.conf"})
        unlink((std::string(dir) + f).c_str());
    rmdir(dir);
}

// Reads a whole file into text; false when it cannot be opened.
bool read_text(const std::string &path, std::string &text)
{
    FILE *f = fopen(path.c_str(), "r");
    if (f == nullptr)
        return false;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        text.append(buf, n);
    fclose(f);
    return true;
}

// The shipped conf/exoauthd.conf parses as shipped (defaults, no account),
// and with every "#key = value" and "#[section]" line uncommented.
void test_shipped_example(void **)
{
    const char *srcdir = getenv("srcdir");
    std::string text;
    if (!read_text(std::string(srcdir ? srcdir : ".") + "/conf/exoauthd.conf", text))
        skip();
    Config c = parse_ok(text);
    assert_true(c.accounts.empty());
    assert_int_equal(c.listens.size(), 2);
    std::string on;
    for (size_t pos = 0; pos < text.size();) {
        size_t end = std::min(text.find('\n', pos), text.size());
        std::string line = text.substr(pos, end - pos);
        bool setting = line.size() > 1 && line[0] == '#' && (islower((unsigned char)line[1]) || line[1] == '[');
        on += (setting ? line.substr(1) : line) + "\n";
        pos = end + 1;
    }
    c = parse_ok(on);
    const AccountConfig *relay = c.find_account("relay");
    assert_non_null(relay);
    assert_true(relay->credential == Credential::Certificate);
    const AccountConfig *del = c.find_account("scanner@contoso.com");
    assert_non_null(del);
    assert_true(del->grant == Grant::RefreshToken && del->credential == Credential::None);
}

// config_load checks the alert program like the other files it trusts:
// no symlink, not writable by group or others, executable, a known owner.
void test_load_alert_command(void **)
{
    char dir[] = "/tmp/test_config.XXXXXX";
    assert_non_null(mkdtemp(dir));
    std::string d = dir, prog = d + "/alert", link = d + "/alert-link";
    struct Row {
        mode_t mode;
        const char *target;
        const char *fragment;  // "" when accepted
    } rows[] = {
        {0755, "/alert", ""},
        {0775, "/alert", "writable by group or others"},
        {0757, "/alert", "writable by group or others; chmod go-w "},
        {0644, "/alert", "not executable; chmod 755 "},
        {0755, "/alert-link", "is a symbolic link"},
        {0755, "/missing", "does not exist"},
    };
    assert_int_equal(symlink(prog.c_str(), link.c_str()), 0);
    for (const auto &r : rows) {
        write_file(prog, "#!/bin/sh\n", r.mode);
        chmod(prog.c_str(), r.mode);
        std::string conf = write_file(d + "/a.conf", "[alerts]\ncommand = " + d + r.target + " x\n", 0644);
        Config c;
        std::string error;
        bool ok = exo::config_load(conf, c, error);
        if (ok != (*r.fragment == 0) || (!ok && (error.rfind(conf + ":1: alerts command ", 0) != 0 ||
                                                  error.find(r.fragment) == std::string::npos)))
            fail_msg("%s %o: ok=%d error \"%s\", want \"%s\"", r.target, (unsigned)r.mode, ok, error.c_str(),
                     r.fragment);
    }
    for (const char *f : {"/alert", "/alert-link", "/a.conf"})
        unlink((d + f).c_str());
    rmdir(dir);
}

} // namespace

// Runs every table.
int main()
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_global),   cmocka_unit_test(test_full_listens),
        cmocka_unit_test(test_full_accounts), cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_account_defaults), cmocka_unit_test(test_clouds),
        cmocka_unit_test(test_accepted),      cmocka_unit_test(test_refused),
        cmocka_unit_test(test_exact_messages), cmocka_unit_test(test_out_untouched),
        cmocka_unit_test(test_too_big_text),  cmocka_unit_test(test_load),
        cmocka_unit_test(test_shipped_example), cmocka_unit_test(test_validate_section),
        cmocka_unit_test(test_peer_sections), cmocka_unit_test(test_secret_expires),
        cmocka_unit_test(test_proxy),         cmocka_unit_test(test_alerts_section), cmocka_unit_test(test_metrics_section),
        cmocka_unit_test(test_load_alert_command),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
