// entra.cc: reading Entra ID v2.0 token and device-code answers (see
// entra.hh). Answers are untrusted: every field is type- and size-checked.
// A failure becomes one log line: the error, the AADSTS code, and a hint an
// administrator can act on; never a token, never the trace-id blob.
#include "entra.hh"

#include "json.hh"
#include "protocol.hh"

#include <algorithm>
#include <cstdlib>
#include <strings.h>

namespace exo {

namespace {
constexpr size_t MAX_TOKEN = 16384;

struct Hint { long code; const char *text; };
const Hint HINTS[] = {
    {7000215, "client secret is wrong: secret_file must hold the secret VALUE, not its ID"},
    {7000222, "client secret has expired: create a new one in the app registration"},
    {700027, "assertion signature not accepted: upload this certificate to the app registration"},
    {700024, "assertion is not within its valid time range: check the system clock"},
    {700016, "application not found in the tenant: check client_id and tenant"},
    {90002, "tenant not found: check tenant"},
    {65001, "consent missing: an administrator must grant admin consent for the app"},
    {700082, "refresh token expired after inactivity: run exoauthctl login ACCOUNT"},
    {70008, "refresh token expired or revoked: run exoauthctl login ACCOUNT"},
    {70011, "invalid scope: check scope (app-only needs <resource>/.default)"},
    {50126, "invalid credentials for the user"},
    {7000112, "the application is disabled in the tenant"},
    {53003, "blocked by a Conditional Access policy"},
    {70000, "the grant is invalid or was revoked: sign in again"},
    {500011, "resource principal not found: is Exchange Online licensed in this tenant?"},
    {50076, "multi-factor authentication required: sign in again with exoauthctl login"},
};

// A printable-ASCII token without spaces, bounded.
bool token_ok(const std::string &t)
{
    if (t.empty() || t.size() > MAX_TOKEN)
        return false;
    return std::all_of(t.begin(), t.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

// expires_in as an integer or a numeric string, 1..172800.
bool read_expires_in(const json_t *obj, int64_t &out)
{
    const json_t *v = json_object_get(obj, "expires_in");
    int64_t n = -1;
    if (json_is_integer(v))
        n = json_integer_value(v);
    else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = nullptr;
        long long x = strtoll(s, &end, 10);
        n = (*s && end && !*end && json_string_length(v) < 10) ? x : -1;
    }
    if (n < 1 || n > 172800)
        return false;
    out = n;
    return true;
}

// First AADSTS code: error_codes[0], else "AADSTSnnnn" in the description.
long read_aadsts(const json_t *obj, const std::string &description)
{
    const json_t *codes = json_object_get(obj, "error_codes");
    if (json_is_array(codes) && json_is_integer(json_array_get(codes, 0)))
        return (long)json_integer_value(json_array_get(codes, 0));
    size_t p = description.find("AADSTS");
    if (p == std::string::npos)
        return 0;
    return strtol(description.c_str() + p + 6, nullptr, 10);
}

// First sentence (or line) of an Entra description, without the AADSTS prefix.
std::string first_sentence(const std::string &d)
{
    std::string s = d.substr(0, d.find_first_of("\r\n"));
    if (s.compare(0, 6, "AADSTS") == 0 && s.find(": ") != std::string::npos)
        s = s.substr(s.find(": ") + 2);
    size_t dot = s.find(". ");
    if (dot != std::string::npos)
        s = s.substr(0, dot + 1);
    return proto::sanitize(s, 200);
}

// A failure with a message.
TokenResult failure(Outcome o, std::string message)
{
    TokenResult r;
    r.outcome = o;
    r.message = proto::sanitize(message, 400);
    return r;
}

// Classify an error body of the token endpoint.
TokenResult read_error_body(const HttpResponse &resp, const json_t *obj)
{
    TokenResult r;
    std::string description;
    json_get_string(obj, "error", r.error);
    json_get_string(obj, "error_description", description);
    r.error = proto::sanitize(r.error, 64);
    r.aadsts = read_aadsts(obj, description);
    if (r.error == "authorization_pending" || r.error == "slow_down") {
        r.outcome = Outcome::Pending;
        r.retry_after = r.error == "slow_down" ? 5 : -1;
    } else if (r.error == "temporarily_unavailable" || resp.status >= 500) {
        r.outcome = Outcome::Temporary;
    } else {
        r.outcome = Outcome::Permanent;
    }
    std::string msg = "token endpoint answered " + std::to_string(resp.status) + ": " +
                      (r.error.empty() ? "no error code" : r.error);
    if (r.aadsts)
        msg += " AADSTS" + std::to_string(r.aadsts);
    const char *hint = aadsts_hint(r.aadsts);
    msg += *hint ? std::string(" (") + hint + ")" : description.empty() ? "" : " (" + first_sentence(description) + ")";
    r.message = proto::sanitize(msg, 400);
    return r;
}

// Read a successful token answer.
TokenResult read_success(const json_t *obj)
{
    std::string type, access, refresh;
    int64_t expires_in = 0;
    if (!json_get_string(obj, "token_type", type) || strcasecmp(type.c_str(), "Bearer") != 0)
        return failure(Outcome::Temporary, "token endpoint answer has no Bearer token_type");
    if (!json_get_string(obj, "access_token", access) || !token_ok(access))
        return failure(Outcome::Temporary, "token endpoint answer has no usable access_token");
    if (!read_expires_in(obj, expires_in))
        return failure(Outcome::Temporary, "token endpoint answer has no usable expires_in");
    bool has_refresh = json_get_string(obj, "refresh_token", refresh);
    if (has_refresh && !token_ok(refresh))
        return failure(Outcome::Temporary, "token endpoint answer has a malformed refresh_token");
    TokenResult r;
    r.outcome = Outcome::Ok;
    r.access_token = Secret(std::move(access));
    r.refresh_token = Secret(std::move(refresh));
    r.expires_in = expires_in;
    return r;
}
} // namespace

// <authority>/<tenant>/oauth2/v2.0/token
std::string token_endpoint(const std::string &authority, const std::string &tenant)
{
    return authority + "/" + tenant + "/oauth2/v2.0/token";
}

// <authority>/<tenant>/oauth2/v2.0/devicecode
std::string devicecode_endpoint(const std::string &authority, const std::string &tenant)
{
    return authority + "/" + tenant + "/oauth2/v2.0/devicecode";
}

// The hint for a known AADSTS code, or "".
const char *aadsts_hint(long code)
{
    for (const Hint &h : HINTS)
        if (h.code == code)
            return h.text;
    return "";
}

// Classify any token-endpoint answer.
TokenResult read_token_response(const HttpResponse &resp)
{
    if (resp.status == 0)
        return failure(Outcome::Temporary, "token endpoint unreachable: " + resp.error);
    if (resp.status == 429) {
        TokenResult r = failure(Outcome::RateLimited, "token endpoint answered 429 (throttled)");
        r.retry_after = resp.retry_after >= 0 ? resp.retry_after : 60;
        return r;
    }
    JsonPtr obj;
    std::string error;
    bool parsed = json_parse_object(resp.body.str(), obj, error);
    if (resp.status == 200)
        return parsed ? read_success(obj.get()) : failure(Outcome::Temporary, "token endpoint answer: " + error);
    if (resp.status >= 500 && !parsed)
        return failure(Outcome::Temporary, "token endpoint answered " + std::to_string(resp.status));
    if (!parsed)
        return failure(resp.status >= 500 ? Outcome::Temporary : Outcome::Permanent,
                       "token endpoint answered " + std::to_string(resp.status) + " without an error body");
    return read_error_body(resp, obj.get());
}

// Read the devicecode endpoint's answer.
Outcome read_devicecode_response(const HttpResponse &resp, DeviceCode &dc, std::string &message)
{
    TokenResult bad = read_token_response(resp);
    if (resp.status != 200) {
        message = bad.message;
        return bad.outcome == Outcome::Ok ? Outcome::Permanent : bad.outcome;
    }
    JsonPtr obj;
    std::string error, device;
    int64_t expires = 0, interval = 5;
    if (!json_parse_object(resp.body.str(), obj, error)) {
        message = "devicecode answer: " + error;
        return Outcome::Temporary;
    }
    const json_t *o = obj.get();
    bool ok = json_get_string(o, "device_code", device) && token_ok(device) &&
              json_get_string(o, "user_code", dc.user_code) && proto::value_ok(dc.user_code) &&
              dc.user_code.size() < 64 && json_get_string(o, "verification_uri", dc.verification_uri) &&
              dc.verification_uri.compare(0, 8, "https://") == 0 && proto::value_ok(dc.verification_uri) &&
              json_get_int(o, "expires_in", expires) && expires > 0 && expires <= 3600;
    if (!ok) {
        message = "devicecode answer lacks a usable device_code, user_code, https verification_uri or expires_in";
        return Outcome::Temporary;
    }
    json_get_int(o, "interval", interval);
    json_get_string(o, "message", dc.message);
    dc.message = proto::sanitize(dc.message, 400);
    dc.device_code = Secret(std::move(device));
    dc.expires_in = (int)expires;
    dc.interval = (int)std::clamp<int64_t>(interval, 1, 60);
    return Outcome::Ok;
}

} // namespace exo
