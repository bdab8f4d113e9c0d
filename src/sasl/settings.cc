// settings.cc: parsing of the exoauth_ lines of smtp.conf (settings.hh),
// through the plugins' shared key table helpers (plugconf.hh).
#include "settings.hh"

#include "plugconf.hh"

#include <sstream>

namespace exo::saslplug {

namespace {

// exoauth_timeout: whole seconds.
bool set_timeout(Settings &s, std::string_view v)
{
    unsigned long n = 0;
    if (!plugconf::number_in(v, 2, 1, 30, n))
        return false;
    s.timeout_ms = static_cast<int>(n) * 1000;
    return true;
}

const plugconf::Key<Settings> kKeys[] = {
    {"exoauth_socket", "a path of at most 107 bytes without a \"..\" component",
     [](Settings &s, std::string_view v) {
         std::string why; // relative: from Postfix's queue directory
         return store_socket_path(v, SocketBase::QueueDir, s.socket, why);
     }},
    {"exoauth_timeout", "1 to 30 (seconds)", set_timeout},
};

// One line of smtp.conf (its LF gone): true when it is not ours or is a
// good "exoauth_KEY: value"; false with why.
bool parse_line(std::string_view line, Settings &s, std::string &why)
{
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    std::string_view t = trim(line);
    if (t.empty() || t[0] == '#' || t.substr(0, 8) != "exoauth_")
        return true;
    size_t colon = t.find(':');
    if (colon == std::string_view::npos) {
        why = "expected \"key: value\"";
        return false;
    }
    return plugconf::apply(kKeys, trim(t.substr(0, colon)), trim(t.substr(colon + 1)), s, why);
}

} // namespace

// Parses smtp.conf's text line by line; out changes only when all is good.
bool parse_settings(const std::string &text, Settings &out, std::string &error)
{
    if (text.size() > 65536) {
        error = "file larger than 64 KiB";
        return false;
    }
    Settings s = out;
    std::istringstream in(text);
    std::string line, why;
    for (int n = 1; std::getline(in, line); n++) {
        if (!parse_line(line, s, why)) {
            error = "line " + std::to_string(n) + ": " + why;
            return false;
        }
    }
    out = s;
    return true;
}

} // namespace exo::saslplug
