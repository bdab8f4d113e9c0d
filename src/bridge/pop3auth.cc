// pop3auth.cc: split_auth() and is_continuation() (pop3auth.hh).
#include "pop3auth.hh"

namespace exo::bridge {
namespace {

// A SASL mechanism name: 1 to 20 of A-Z 0-9 - _ (RFC 4422 section 3.1).
bool mechanism_ok(std::string_view m)
{
    if (m.empty() || m.size() > 20)
        return false;
    for (char c : m) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_';
        if (!ok)
            return false;
    }
    return true;
}

// An initial response: base64 (RFC 4648 alphabet and padding) or "=".
bool response_ok(std::string_view r)
{
    if (r.empty())
        return false;
    for (char c : r) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                  c == '/' || c == '=';
        if (!ok)
            return false;
    }
    return true;
}

// Case-insensitive "AUTH " at the start of s.
bool starts_with_auth(std::string_view s)
{
    static constexpr std::string_view kAuth = "AUTH ";
    if (s.size() < kAuth.size())
        return false;
    for (size_t i = 0; i < kAuth.size(); i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != kAuth[i])
            return false;
    }
    return true;
}

} // namespace

// Split an over-long "AUTH mech ir\r\n" into the command and the response.
bool split_auth(std::string_view line, size_t limit, std::string &command, std::string &response)
{
    if (line.size() <= limit || line.size() < 2 || line.substr(line.size() - 2) != "\r\n")
        return false;
    std::string_view body = line.substr(0, line.size() - 2);
    if (!starts_with_auth(body))
        return false;
    std::string_view rest = body.substr(5);
    size_t sp = rest.find(' ');
    if (sp == std::string_view::npos)
        return false;
    std::string_view mech = rest.substr(0, sp), ir = rest.substr(sp + 1);
    if (!mechanism_ok(mech) || !response_ok(ir))
        return false;
    command.assign(body.substr(0, 5 + sp)).append("\r\n");
    // Sized first: the response is a token, and a reallocation would leave
    // a copy in freed memory.
    response.clear();
    response.reserve(ir.size() + 2);
    response.append(ir).append("\r\n");
    return true;
}

// "+" followed by a space or the line's end.
bool is_continuation(std::string_view line)
{
    return line.size() >= 1 && line[0] == '+' && (line.size() == 1 || line[1] == ' ' || line[1] == '\r');
}

} // namespace exo::bridge
