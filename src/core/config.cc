// config.cc: reads and checks exoauthd.conf, whose format is documented in
// exoauthd.conf(5), and the rest of config.hh's public API. Called by
// exoauthd (start, reload) and exoauthctl. The file is written by the
// administrator: trusted in intent, but every line is checked strictly; the
// first unknown or malformed thing is refused with "path:line: reason", and
// the caller's Config is replaced only on success. This file is the loader
// (reading, cutting lines, the end-of-file defaults); what each section and
// key may say is config_keys.cc, how each value is checked config_text.cc.

#include "config.hh"

#include "config_keys.hh"
#include "config_text.hh"
#include "credfile.hh"

#include <sys/types.h>

#include <algorithm>
#include <utility>

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

namespace exo::conf {
namespace {

// One line without its line ending: blank, comment, header or assignment.
bool parse_line(Parser &p, std::string_view raw)
{
    if (raw.size() > kMaxLine)
        return fail(p, "line longer than " + std::to_string(kMaxLine) + " bytes");
    if (!valid_utf8(raw))
        return fail(p, "invalid UTF-8");
    std::string_view s = trim(raw);
    if (s.empty() || s.front() == '#')
        return true;
    if (s.front() == '[')
        return open_section(p, s);
    return parse_assignment(p, s);
}

// The two sockets used when the file names none. Both are 0666: who may
// talk is decided by the peer allow-list (SO_PEERCRED) and, for the one in
// Postfix's chroot, by its directory (exoauth:postfix 0750, made by the
// package), so exoauthd needs no privilege to make them.
void add_default_listens(Config &cfg)
{
    ListenConfig main;
    main.name = "main";
    main.path = RUNSTATEDIR "/exoauth/exoauthd.sock";
    main.mode = 0666;
    cfg.listens.push_back(std::move(main));
    ListenConfig postfix;
    postfix.name = "postfix";
    postfix.path = "/var/spool/postfix/exoauth/exoauthd.sock";
    postfix.mode = 0666;
    postfix.optional = true;
    cfg.listens.push_back(std::move(postfix));
}

// The scope an account gets when it names none.
std::string default_scope(Cloud cloud, Grant grant)
{
    if (grant == Grant::ClientCredentials)
        return std::string("https://") + cloud_outlook_host(cloud) + "/.default";
    std::string host = cloud == Cloud::Worldwide || cloud == Cloud::Custom
                           ? "outlook.office.com"
                           : cloud_outlook_host(cloud);
    std::string base = "https://" + host + "/";
    return "offline_access " + base + "SMTP.Send " + base + "IMAP.AccessAsUser.All " + base +
           "POP.AccessAsUser.All";
}

// End of file: close the last section and fill in what depends on all of it.
bool finish(Parser &p)
{
    if (!close_section(p) || !check_peer_accounts(p))
        return false;
    if (p.cfg.listens.empty())
        add_default_listens(p.cfg);
    if (p.cfg.cloud != Cloud::Custom)
        p.cfg.authority = cloud_authority(p.cfg.cloud);
    for (auto &a : p.cfg.accounts)
        if (a.scope.empty())
            a.scope = default_scope(p.cfg.cloud, a.grant);
    return true;
}

// config_parse without the exception guard.
bool parse_text(std::string_view text, const std::string &path, Config &out, std::string &error)
{
    if (text.size() > kMaxFile) {
        error = path + ": larger than 1 MiB";
        return false;
    }
    if (text.substr(0, 3) == "\xef\xbb\xbf")
        text.remove_prefix(3);
    Parser p(path);
    p.cfg.path = path;
    for (size_t pos = 0; pos < text.size();) {
        size_t end = std::min(text.find('\n', pos), text.size());
        std::string_view line = text.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        p.line++;
        if (!parse_line(p, line)) {
            error = std::move(p.error);
            return false;
        }
        pos = end + 1;
    }
    if (!finish(p)) {
        error = std::move(p.error);
        return false;
    }
    out = std::move(p.cfg);
    return true;
}

// ca_file adds trust anchors for every HTTPS request: whoever could change
// it could stand in for Entra ID, so it follows the rule for policy files.
bool check_ca_file(const Config &cfg, std::string &error)
{
    static const CredRule rule{"ca_file", CredKind::Policy, kMaxFile};
    Secret pem;
    uid_t owner;
    if (cfg.ca_file.empty())
        return true;
    if (!cred_read_owned(cfg.ca_file, rule, pem, owner, error))
        return false;
    if (cred_owner_ok(cfg.ca_file, owner, cfg.user, error))
        return true;
    error = "ca_file " + error;
    return false;
}

// The alert command runs with exoauthd's rights: whoever could change the
// program could run code as exoauthd, so it follows the same owner rule.
bool check_alert_command(const Config &cfg, std::string &error)
{
    if (!cfg.alerts.enabled || cred_check_program(cfg.alerts.command.front(), cfg.user, error))
        return true;
    error = cfg.path + ":" + std::to_string(cfg.alerts.line) + ": " + error;
    return false;
}

// config_load without the exception guard: credfile.hh's rule for policy
// files; the owner may also be the "user =" the file itself names.
bool load_file(const std::string &path, Config &out, std::string &error)
{
    static const CredRule rule{"config", CredKind::Policy, kMaxFile};
    Secret text;
    uid_t owner;
    Config cfg;
    if (!cred_read_owned(path, rule, text, owner, error) || !parse_text(text.str(), path, cfg, error))
        return false;
    if (!cred_owner_ok(path, owner, cfg.user, error)) {
        error = "config " + error;
        return false;
    }
    if (!check_ca_file(cfg, error) || !check_alert_command(cfg, error))
        return false;
    out = std::move(cfg);
    return true;
}

// Reports an exception (in practice: out of memory) as an error string.
bool exception_error(const std::string &path, std::string &error)
{
    try {
        error = path + ": out of memory";
    } catch (...) {
        error.clear();
    }
    return false;
}

} // namespace
} // namespace exo::conf

namespace exo {

// True for a tenant id in GUID form.
bool is_guid(std::string_view s)
{
    return conf::valid_guid(s);
}

// True for the tenant names that stand for many tenants.
bool is_multi_tenant(std::string_view tenant)
{
    return conf::iequals(tenant, "common") || conf::iequals(tenant, "organizations") ||
           conf::iequals(tenant, "consumers");
}

// True for preferred_username and email.
bool is_mutable_user_claim(std::string_view claim)
{
    return claim == "preferred_username" || claim == "email";
}

// The account named name, or null.
const AccountConfig *Config::find_account(std::string_view name) const
{
    for (const auto &a : accounts)
        if (a.name == name)
            return &a;
    return nullptr;
}

// Authority base URL of a cloud; "" for Custom (the file gives it). From
// Microsoft's national-cloud page (sources in docs/CLOUDS.md); the token
// endpoint built on it is also the client assertion's aud.
const char *cloud_authority(Cloud c)
{
    switch (c) {
    case Cloud::Worldwide: return "https://login.microsoftonline.com";
    case Cloud::UsGov:
    case Cloud::UsGovDod: return "https://login.microsoftonline.us";
    case Cloud::China: return "https://login.partner.microsoftonline.cn";
    case Cloud::Custom: break;
    }
    return "";
}

// Exchange Online host of a cloud; Custom (tests) uses the worldwide one.
const char *cloud_outlook_host(Cloud c)
{
    switch (c) {
    case Cloud::UsGov: return "outlook.office365.us";
    case Cloud::UsGovDod: return "outlook-dod.office365.us";
    case Cloud::China: return "partner.outlook.cn";
    case Cloud::Worldwide:
    case Cloud::Custom: break;
    }
    return "outlook.office365.com";
}

// Parses text into out; on failure out is untouched and error says where.
bool config_parse(std::string_view text, const std::string &path, Config &out, std::string &error)
{
    try {
        return conf::parse_text(text, path, out, error);
    } catch (...) {
        return conf::exception_error(path, error);
    }
}

// Reads path (credfile.hh's rule for policy files, at most 1 MiB) and parses it.
bool config_load(const std::string &path, Config &out, std::string &error)
{
    try {
        return conf::load_file(path, out, error);
    } catch (...) {
        return conf::exception_error(path, error);
    }
}

} // namespace exo
