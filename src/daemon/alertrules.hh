// alertrules.hh: which alerts exoauthd sends ([alerts], exoauthd.conf(5)):
// the event kinds with their severity and fixed message id, the conditions
// an account's facts make under the [alerts] settings, and the JSON event
// the command reads. Pure functions of their arguments (unit tested in
// tests/unit/test_alerts.cc); alerts.cc runs the command.
#pragma once

#include "config.hh"

#include <cstdint>
#include <string>
#include <vector>

namespace exo {

// What the alerts need to know of one account (Broker::alert_facts()):
// never a token.
struct AlertFacts {
    std::string account;
    bool delegated = false;
    bool signed_in = true;          // delegated: a refresh token is stored
    bool permanent = false;         // the last request failed with a permanent IdP error
    double failing_since = 0;       // temporary failures since then (unix s), 0: none
    std::string error;              // the last failure's log line (code and hint)
    std::string error_code;         // its OAuth error, e.g. invalid_grant
    long aadsts = 0;                // its AADSTS code, 0: none
    const char *credential = "none";  // certificate, secret, or "refresh token" (delegated)
    int64_t credential_expires = 0; // the earliest known end (a refresh token's: last use + 90 days); 0: none
    bool fresh_rejected = false;    // upstream rejected a fresh token; no later one has lasted yet
};

// One event as the command gets it (and as it is logged).
struct AlertEvent {
    std::string kind;        // account_failed, login_required, ... or resolved
    std::string resolves;    // for resolved: the kind that cleared
    std::string severity;    // critical, warning, info
    std::string account;
    std::string message_id;  // 32 hex digits, stable per kind
    std::string text;
    std::string hint;
    int64_t first_seen = 0;  // unix s: when the state began
    int64_t time = 0;        // unix s: now
    bool reminder = false;   // a repeat of a state already sent
};

// An active condition: a kind of event for one account, right now.
struct AlertCondition {
    std::string kind;
    std::string account;
    std::string text;
    std::string hint;
};

// The conditions facts show under settings at time now (unix s).
std::vector<AlertCondition> alert_conditions(const std::vector<AlertFacts> &facts, const AlertsConfig &cfg,
                                             int64_t now);
// The event as the JSON line the command reads on stdin (never a token or
// a secret: only the fields of e).
std::string alert_json(const AlertEvent &e);
// The message id of a kind ("resolved" included); "" for an unknown kind.
const char *alert_message_id(const std::string &kind);
// The severity of a kind; "" for an unknown kind.
const char *alert_severity(const std::string &kind);

} // namespace exo
