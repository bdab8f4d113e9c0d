// args.hh: the passdb exoauth's settings (Dovecot 2.3: the `args` line;
// Dovecot 2.4: one exoauth_KEY setting per key) and the checks a token must
// pass before it is sent to exoauthd. Pure functions, no Dovecot headers, so the
// unit tests and a fuzz target exercise them directly.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace exo::dovecot {

struct PluginArgs {
    std::string socket = "/run/exoauth/exoauthd.sock";
    unsigned timeout_ms = 5000;   // well under clients' and Postfix's 10 s
    size_t max_token = 12288;     // larger than any Entra token, under the line limit
    unsigned cache_ttl = 60;      // seconds an acceptance is reused in the auth process; 0: never
    // mode=validate: the password is a client's bearer token (issue 4).
    // mode=proxy: a previous passdb checked the local password; this one
    // sends the session to Exchange with an app-only token (issue 5).
    bool proxy = false;
    std::string proxy_host = "outlook.office365.com";
    unsigned imap_port = 993;
    unsigned pop3_port = 995;
    std::string proxy_ssl = "yes";  // yes (implicit TLS) or starttls
};

// Parse "key=value key=value": socket=PATH timeout=N[ms|s] max_token=BYTES
// cache_ttl=SECONDS mode=validate|proxy proxy_host=HOST imap_port=N pop3_port=N
// proxy_ssl=yes|starttls.
// False with a reason naming the bad word; out is only changed on success.
bool parse_args(const std::string &args, PluginArgs &out, std::string &error);

// Apply one key (as in args, without the exoauth_ prefix of a Dovecot 2.4
// setting) to out; false with a reason naming the key when the value is bad.
bool apply_setting(std::string_view key, std::string_view value, PluginArgs &out, std::string &error);

// Why a token cannot be sent as it is ("" when it can): empty, longer than
// max bytes, or holding bytes the protocol does not carry.
std::string token_problem(const std::string &token, size_t max);

} // namespace exo::dovecot
