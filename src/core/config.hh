// config.hh: exoauthd.conf, the administrator's file (format in
// exoauthd.conf(5)): global settings, the identity provider (cloud or
// explicit authority), listen sockets, the peer allow-list and accounts.
// The file is trusted in intent but checked strictly: any unknown key, bad
// value or missing setting is refused with "file:line: reason".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace exo {

enum class Cloud { Worldwide, UsGov, UsGovDod, China, Custom };
enum class Grant { ClientCredentials, RefreshToken };
enum class Credential { None, Certificate, Secret };

struct ListenConfig {
    std::string name;    // section label, for messages
    std::string path;    // absolute socket path
    std::string owner;   // user name or empty (keep)
    std::string group;   // group name or empty (keep)
    mode_t mode = 0660;
    bool optional = false; // a built-in default: skipped when its directory is missing
};

struct AccountConfig {
    std::string name;       // [account NAME]; [A-Za-z0-9._@-]{1,64}
    std::string tenant;     // GUID or domain
    std::string client_id;  // app (client) id
    Grant grant = Grant::ClientCredentials;
    Credential credential = Credential::None;
    std::string certificate; // PEM path (Credential::Certificate)
    std::string private_key; // PEM path (Credential::Certificate)
    std::string assertion_alg = "PS256"; // PS256 (x5t#S256) or RS256 (x5t)
    std::string secret_file; // path (Credential::Secret)
    int64_t secret_expires = 0; // secret_expires (UTC midnight, unix seconds); 0: not known
    std::string scope;       // space separated; default depends on grant
    int line = 0;            // where the section starts, for messages
};

// [peer NAME]: what the processes of some users or groups may ask of
// exoauthd. Several sections may name one peer: their rights add up.
struct PeerConfig {
    std::string name;
    std::vector<std::string> users;     // names or numeric uids
    std::vector<std::string> groups;    // names or numeric gids (primary or supplementary)
    std::vector<std::string> commands;  // of PING STATUS VALIDATE TOKEN INVALIDATE LOGIN
    std::vector<std::string> accounts;  // TOKEN and INVALIDATE may use these; "*": any
    bool token_by_account = true;       // token_by: TOKEN account=NAME [mailbox=M]
    bool token_by_user = false;         // token_by: TOKEN user=LOCAL, routed by mailbox_map
    int line = 0;
};

// [validate]: how client tokens (XOAUTH2/OAUTHBEARER logins) are checked.
struct ValidateConfig {
    bool enabled = false;                 // a [validate] section exists
    std::string mode = "jwt";             // jwt | introspection
    std::string tenant;                   // jwt: the home tenant (GUID or domain), its keys and tid
    std::vector<std::string> audiences;   // accepted aud values (required)
    std::vector<std::string> issuers;     // empty: v1 and v2 forms with {tenantid}
    std::vector<std::string> tenants;     // jwt: other tids trusted too (GUIDs); introspection: tid allow-list
    std::vector<std::string> scopes;      // required in scp
    std::vector<std::string> roles;       // required in roles
    std::string user_claim = "upn";       // upn | preferred_username | email | oid
    bool allow_mutable_user_claim = false; // preferred_username, email accepted anyway
    std::string user_map;                 // optional file: "<claim value> <user>" lines
    int skew = 120;                       // seconds, 0..300
    int jwks_ttl = 3600;                  // seconds a fetched key set is trusted, 60..86400
    int kid_refetch = 300;                // seconds between unknown-kid refetches, 1..3600
    std::string introspection_url;        // introspection: RFC 7662 endpoint (https)
    std::string client_id;                // introspection: our client id there
    std::string secret_file;              // introspection: our secret
    int line = 0;
};

// [alerts]: a program exoauthd runs for events a human must act on
// (src/daemon/alerts.cc, exoauthd.conf(5)). No section: no alerts.
struct AlertsConfig {
    bool enabled = false;              // an [alerts] section exists
    std::vector<std::string> command;  // argv: an absolute program path, then its arguments
    int timeout = 10;                  // seconds before the command's process group is killed, 1..300
    int reminder = 86400;              // seconds before a persisting event is sent again, 1..2592000
    int warn_days = 30;                // credential expiry warning, days, 1..365
    int idp_unreachable_after = 900;   // seconds of IdP failures before an alert, 1..86400
    int line = 0;
};

// [metrics]: the optional HTTP listener serving GET /metrics
// (src/daemon/httpmetrics.cc, exoauthd.conf(5)). No section: none.
struct MetricsConfig {
    bool enabled = false;              // a [metrics] section exists
    std::string host;                  // a loopback address (127.0.0.0/8 or ::1), or "" for a socket
    int port = 0;                      // with host
    std::string path;                  // a UNIX socket path, or "" for host:port
    std::string group;                 // the socket's group, or empty (keep)
    mode_t mode = 0660;                // the socket's mode
    int line = 0;
};

struct Config {
    std::string path;                 // the file that was read
    // [global]
    std::string user;                 // drop to this user after binding ("" = stay)
    std::string state_dir = "/var/lib/exoauth";
    std::string log = "stderr";       // stderr | syslog
    bool debug = false;
    std::vector<std::string> allow_users;   // names or numeric uids
    std::vector<std::string> allow_groups;  // names or numeric gids
    std::vector<std::string> admin_users;   // may LOGIN/RELOAD; root always may
    int refresh_ahead = 300;          // seconds before expiry to refresh
    int http_timeout = 10;            // seconds for one IdP request
    int max_clients = 256;            // connections at once
    int max_clients_per_uid = 0;      // connections of one uid but root; 0: max_clients / 2
    int idle_timeout = 300;           // seconds a connection may go without a complete request
    std::string mailbox_map;          // optional: local user -> mailbox, account (usermap.hh)
    // [idp]
    Cloud cloud = Cloud::Worldwide;
    std::string authority;            // derived from cloud unless Custom
    std::string ca_file;              // extra trust anchors (tests, proxies)
    std::string proxy;                // http(s)://[user:password@]host:port, or "": direct,
                                      // never the environment's proxy; a secret (password)
    std::string no_proxy;             // hosts reached directly despite proxy, comma separated
    // sections
    std::vector<ListenConfig> listens;
    std::vector<AccountConfig> accounts;
    std::vector<PeerConfig> peers;
    ValidateConfig validate;
    AlertsConfig alerts;
    MetricsConfig metrics;

    const AccountConfig *find_account(std::string_view name) const;
};

// Authority base URL of a cloud, e.g. "https://login.microsoftonline.com".
const char *cloud_authority(Cloud c);
// Resource host of a cloud's Exchange Online, e.g. "outlook.office365.com".
const char *cloud_outlook_host(Cloud c);

// True for a tenant id in GUID form (8-4-4-4-12 hex digits).
bool is_guid(std::string_view s);
// True for common, organizations and consumers: names that pin no tenant.
bool is_multi_tenant(std::string_view tenant);
// True for a user claim that the user or another tenant can set
// (preferred_username, email): no identity without allow_mutable_user_claim.
bool is_mutable_user_claim(std::string_view claim);

// Parse text (as read from path) into out. False with "path:line: reason".
bool config_parse(std::string_view text, const std::string &path, Config &out,
                  std::string &error);
// Read path and parse it; the file must not be writable by others.
bool config_load(const std::string &path, Config &out, std::string &error);

} // namespace exo
