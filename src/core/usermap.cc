// usermap.cc: the user_map file of [validate] (see usermap.hh).
#include "usermap.hh"

#include "protocol.hh"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

namespace exo {

namespace {
constexpr size_t MAX_ENTRIES = 100000;
constexpr size_t MAX_FILE = 1024 * 1024;
constexpr size_t MAX_WORD = 256;

// Lower-case ASCII copy.
std::string lower(std::string_view s)
{
    std::string r(s);
    for (char &c : r)
        c = (char)tolower((unsigned char)c);
    return r;
}

// Split a line into blank-separated words.
std::vector<std::string_view> words(std::string_view line)
{
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
            i++;
        size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t')
            i++;
        if (i > start)
            out.push_back(line.substr(start, i - start));
    }
    return out;
}

// One line into map; false with a reason.
bool parse_line(std::string_view line, UserMap &map, std::string &why)
{
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    auto w = words(line);
    if (w.empty() || w[0][0] == '#')
        return true;
    if (w.size() != 2) {
        why = "expected \"<claim value> <user>\"";
        return false;
    }
    if (!proto::value_ok(w[0]) || !proto::value_ok(w[1]) || w[0].size() > MAX_WORD || w[1].size() > MAX_WORD) {
        why = "control character or over-long value";
        return false;
    }
    if (map.size() >= MAX_ENTRIES) {
        why = "more than 100000 entries";
        return false;
    }
    map[lower(w[0])] = std::string(w[1]);
    return true;
}
} // namespace

// Every line, stopping at the first bad one.
bool usermap_parse(std::string_view text, const std::string &path, UserMap &out, std::string &error)
{
    UserMap map;
    size_t pos = 0;
    for (int n = 1; pos <= text.size(); n++) {
        size_t end = std::min(text.find('\n', pos), text.size());
        std::string why;
        if (!parse_line(text.substr(pos, end - pos), map, why)) {
            error = path + ":" + std::to_string(n) + ": " + why;
            return false;
        }
        pos = end + 1;
    }
    out = std::move(map);
    return true;
}

// Read and parse the file.
bool usermap_load(const std::string &path, UserMap &out, std::string &error)
{
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        error = "user_map " + path + ": " + strerror(errno);
        return false;
    }
    std::string text(MAX_FILE + 1, '\0');
    f.read(&text[0], (std::streamsize)text.size());
    text.resize((size_t)f.gcount());
    if (text.size() > MAX_FILE) {
        error = "user_map " + path + ": larger than 1 MiB";
        return false;
    }
    return usermap_parse(text, path, out, error);
}

// Mapped name, matched without regard to case.
std::string usermap_apply(const UserMap &map, const std::string &value)
{
    auto it = map.find(lower(value));
    return it == map.end() ? value : it->second;
}

} // namespace exo
