// settings.cc: parsing of the exoauth_ lines of smtp.conf (settings.hh).
#include "settings.hh"

#include "protocol.hh"

#include <sstream>

namespace exo::saslplug {

namespace {

std::string trim(const std::string &s)
{
    size_t b = s.find_first_not_of(" \t\r");
    size_t e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// One exoauth_ key; false with a reason.
bool apply(const std::string &key, const std::string &value, Settings &s, std::string &why)
{
    if (key == "exoauth_socket") {
        if (value.empty() || value.size() > 107 || !proto::value_ok(value) || value.find("..") != std::string::npos) {
            why = "exoauth_socket must be a path of at most 107 bytes without \"..\"";
            return false;
        }
        s.socket = value;
        return true;
    }
    if (key == "exoauth_timeout") {
        if (value.empty() || value.size() > 2 || value.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(value) < 1 || std::stoi(value) > 30) {
            why = "exoauth_timeout must be 1 to 30 (seconds)";
            return false;
        }
        s.timeout_ms = std::stoi(value) * 1000;
        return true;
    }
    why = "unknown key " + proto::sanitize(key, 64) + " (known: exoauth_socket, exoauth_timeout)";
    return false;
}

} // namespace

bool parse_settings(const std::string &text, Settings &out, std::string &error)
{
    if (text.size() > 65536) {
        error = "file larger than 64 KiB";
        return false;
    }
    Settings s = out;
    std::istringstream in(text);
    std::string line;
    for (int n = 1; std::getline(in, line); n++) {
        std::string t = trim(line);
        if (t.empty() || t[0] == '#' || t.compare(0, 8, "exoauth_") != 0)
            continue;
        size_t colon = t.find(':');
        std::string why;
        if (colon == std::string::npos) {
            why = "expected \"key: value\"";
        } else if (apply(trim(t.substr(0, colon)), trim(t.substr(colon + 1)), s, why)) {
            continue;
        }
        error = "line " + std::to_string(n) + ": " + why;
        return false;
    }
    out = s;
    return true;
}

} // namespace exo::saslplug
