// saslmsg.cc: XOAUTH2 and OAUTHBEARER message building and parsing
// (saslmsg.hh). The grammar is RFC 7628's; XOAUTH2 is Google's and
// Microsoft's key=value^A form.
#include "saslmsg.hh"

#include "json.hh"
#include "secret.hh"

#include <cctype>
#include <vector>

namespace exo::sasl {

namespace {

constexpr char SEP = '\x01';

// RFC 5801 saslname: ',' and '=' escaped.
std::string saslname_escape(std::string_view s)
{
    std::string out;
    for (char c : s) {
        if (c == ',')
            out += "=2C";
        else if (c == '=')
            out += "=3D";
        else
            out += c;
    }
    return out;
}

bool saslname_unescape(std::string_view s, std::string &out)
{
    out.clear();
    for (size_t i = 0; i < s.size(); i++) {
        if (s[i] != '=') {
            out += s[i];
            continue;
        }
        std::string_view esc = s.substr(i + 1, 2);
        if (esc == "2C")
            out += ',';
        else if (esc == "3D")
            out += '=';
        else
            return false;
        i += 2;
    }
    return true;
}

// Split "k=v^Ak=v^A^A" into pairs; the message must end with ^A^A and hold
// no empty pair in between.
bool split_kvpairs(std::string_view s, std::vector<std::pair<std::string, std::string>> &out,
                   std::string &error)
{
    if (s.size() < 2 || s.substr(s.size() - 2) != "\x01\x01") {
        error = "message does not end with two ^A";
        return false;
    }
    s.remove_suffix(1);  // keep one ^A as the last pair's terminator
    while (!s.empty()) {
        size_t end = s.find(SEP);
        std::string_view kv = s.substr(0, end);
        s.remove_prefix(end + 1);
        size_t eq = kv.find('=');
        if (kv.empty() || eq == std::string_view::npos || eq == 0) {
            error = "malformed key=value pair";
            return false;
        }
        for (auto &p : out)
            if (p.first == kv.substr(0, eq)) {
                error = "duplicate key";
                return false;
            }
        out.emplace_back(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    return true;
}

bool starts_with_nocase(const std::string &s, const char *prefix)
{
    for (size_t i = 0; prefix[i]; i++)
        if (i >= s.size() || tolower((unsigned char)s[i]) != tolower((unsigned char)prefix[i]))
            return false;
    return true;
}

// The parsers' copies of a client's values (its token among them), wiped
// when parsing ends, whichever way: a server parses real tokens.
struct Scrub {
    std::vector<std::pair<std::string, std::string>> &kv;
    std::string &auth;
    ClientMessage &m;
    ~Scrub()
    {
        for (auto &p : kv)
            wipe(p.second);
        wipe(auth);
        wipe(m.token);
    }
};

// "Bearer <token>" (scheme without case) -> token; no spaces in the token.
bool bearer_token(const std::string &auth, std::string &token, std::string &error)
{
    if (!starts_with_nocase(auth, "Bearer ")) {
        error = "auth is not a Bearer token";
        return false;
    }
    token = auth.substr(7);
    if (token.empty() || token.find_first_of(" \t") != std::string::npos) {
        error = "empty or malformed bearer token";
        return false;
    }
    return true;
}

} // namespace

std::string xoauth2_initial(std::string_view user, std::string_view token)
{
    std::string m = "user=";
    m += user;
    m += SEP;
    m += "auth=Bearer ";
    m += token;
    m += "\x01\x01";
    return m;
}

std::string oauthbearer_initial(std::string_view authzid, std::string_view host, std::string_view port,
                                std::string_view token)
{
    std::string m = "n,";
    if (!authzid.empty())
        m += "a=" + saslname_escape(authzid);
    m += ',';
    m += SEP;
    if (!host.empty())
        m += "host=" + std::string(host) + SEP;
    if (!port.empty())
        m += "port=" + std::string(port) + SEP;
    m += "auth=Bearer ";
    m += token;
    m += "\x01\x01";
    return m;
}

std::string error_reply(bool oauthbearer)
{
    return oauthbearer ? std::string(1, SEP) : std::string();
}

bool parse_server_error(std::string_view challenge, ServerError &out, std::string &error)
{
    if (challenge.size() > MAX_MESSAGE) {
        error = "challenge too long";
        return false;
    }
    JsonPtr j;
    if (!json_parse_object(challenge, j, error)) {
        error = "challenge is not a JSON object: " + error;
        return false;
    }
    ServerError e;
    if (!json_get_string(j.get(), "status", e.status) || e.status.empty() || e.status.size() > 64) {
        error = "challenge has no status";
        return false;
    }
    json_get_string(j.get(), "schemes", e.schemes);
    json_get_string(j.get(), "scope", e.scope);
    out = e;
    return true;
}

bool parse_xoauth2(std::string_view msg, ClientMessage &out, std::string &error)
{
    if (msg.size() > MAX_MESSAGE) {
        error = "message too long";
        return false;
    }
    std::vector<std::pair<std::string, std::string>> kv;
    ClientMessage m;
    std::string auth;
    Scrub scrub{kv, auth, m};
    if (!split_kvpairs(msg, kv, error))
        return false;
    for (auto &p : kv) {
        if (p.first == "user")
            m.user = p.second;
        else if (p.first == "auth")
            auth = p.second;
    }
    if (m.user.empty()) {
        error = "no user";
        return false;
    }
    if (!bearer_token(auth, m.token, error))
        return false;
    out = m;  // a copy: scrub wipes m's
    return true;
}

bool parse_oauthbearer(std::string_view msg, ClientMessage &out, std::string &error)
{
    if (msg.size() > MAX_MESSAGE) {
        error = "message too long";
        return false;
    }
    // gs2-header: "n," or "y," (no channel binding), then [a=saslname] ","
    if (msg.size() < 3 || (msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',') {
        error = "bad GS2 header";
        return false;
    }
    msg.remove_prefix(2);
    size_t comma = msg.find(',');
    if (comma == std::string_view::npos) {
        error = "bad GS2 header";
        return false;
    }
    std::vector<std::pair<std::string, std::string>> kv;
    ClientMessage m;
    std::string auth;
    Scrub scrub{kv, auth, m};
    std::string_view authz = msg.substr(0, comma);
    if (!authz.empty() && (authz.substr(0, 2) != "a=" || !saslname_unescape(authz.substr(2), m.user))) {
        error = "bad authzid";
        return false;
    }
    msg.remove_prefix(comma + 1);
    if (msg.empty() || msg[0] != SEP) {
        error = "no ^A after the GS2 header";
        return false;
    }
    msg.remove_prefix(1);
    if (!split_kvpairs(msg, kv, error))
        return false;
    for (auto &p : kv) {
        if (p.first == "host")
            m.host = p.second;
        else if (p.first == "port")
            m.port = p.second;
        else if (p.first == "auth")
            auth = p.second;
    }
    if (!bearer_token(auth, m.token, error))
        return false;
    out = m;  // a copy: scrub wipes m's
    return true;
}

std::string port_of(std::string_view ipport)
{
    size_t semi = ipport.rfind(';');
    if (semi == std::string_view::npos)
        return "";
    std::string_view p = ipport.substr(semi + 1);
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string_view::npos)
        return "";
    return std::string(p);
}

} // namespace exo::sasl
