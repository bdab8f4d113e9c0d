// args.hh: the passdb exoauth's `args` line and the checks a token must pass
// before it is sent to exoauthd. Pure functions, no Dovecot headers, so the
// unit tests and a fuzz target exercise them directly.
#pragma once

#include <cstddef>
#include <string>

namespace exo::dovecot {

struct PluginArgs {
    std::string socket = "/run/exoauth/exoauthd.sock";
    unsigned timeout_ms = 5000;   // well under clients' and Postfix's 10 s
    size_t max_token = 12288;     // larger than any Entra token, under the line limit
};

// Parse "key=value key=value": socket=PATH timeout=N[ms|s] max_token=BYTES.
// False with a reason naming the bad word; out is only changed on success.
bool parse_args(const std::string &args, PluginArgs &out, std::string &error);

// Why a token cannot be sent as it is ("" when it can): empty, longer than
// max bytes, or holding bytes the protocol does not carry.
std::string token_problem(const std::string &token, size_t max);

} // namespace exo::dovecot
