// entra.hh: the Entra ID (Microsoft identity platform) v2.0 endpoints as
// exoauth uses them: token requests for client credentials (certificate
// assertion or secret), refresh tokens and the device-code grant, and the
// reading of their answers. Answers are untrusted; every field is checked.
// Error bodies become one clear log line with the AADSTS code and a hint.
#pragma once

#include "http.hh"
#include "secret.hh"

#include <cstdint>
#include <string>

namespace exo {

// What a token answer or a failure means for the broker.
enum class Outcome {
    Ok,         // a token
    Temporary,  // 5xx, timeout, transport error, bad JSON: retry with backoff
    RateLimited,// 429: retry after retry_after seconds
    Pending,    // device code: authorization_pending / slow_down
    Permanent,  // the IdP refused (bad secret, consent, expired grant...)
};

struct TokenResult {
    Outcome outcome = Outcome::Temporary;
    Secret access_token;
    Secret refresh_token;     // set when the IdP rotated it
    int64_t expires_in = 0;   // seconds
    int retry_after = -1;     // seconds, for RateLimited (and slow_down)
    std::string error;        // e.g. "invalid_client"
    long aadsts = 0;          // first AADSTS code, 0 if none
    std::string message;      // one log line: what happened, code, hint
};

// URL of the v2.0 token endpoint: <authority>/<tenant>/oauth2/v2.0/token
std::string token_endpoint(const std::string &authority, const std::string &tenant);
std::string devicecode_endpoint(const std::string &authority, const std::string &tenant);

// Classify an HTTP answer of the token endpoint (any grant).
TokenResult read_token_response(const HttpResponse &resp);

// A hint an administrator can act on for a known AADSTS code, or "".
const char *aadsts_hint(long code);

struct DeviceCode {
    Secret device_code;
    std::string user_code;
    std::string verification_uri;
    std::string message;
    int expires_in = 0;
    int interval = 5;
};

// Read the devicecode endpoint's answer. Outcome::Ok with dc filled, or a
// failure with message set.
Outcome read_devicecode_response(const HttpResponse &resp, DeviceCode &dc, std::string &message);

} // namespace exo
