// usermap.hh: the [validate] user_map file: "<claim value> <user>" per
// line, blank-separated, '#' comments, at most 100,000 entries. Claim values
// are matched without regard to case. The file is the administrator's, but
// it is parsed strictly: a bad line refuses the whole file with path:line.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

namespace exo {

using UserMap = std::unordered_map<std::string, std::string>;

// Parse text (as read from path). False with "path:line: reason".
bool usermap_parse(std::string_view text, const std::string &path, UserMap &out, std::string &error);

// Read (at most 1 MiB) and parse path.
bool usermap_load(const std::string &path, UserMap &out, std::string &error);

// The mapped user of claim value, or the value itself when unmapped.
std::string usermap_apply(const UserMap &map, const std::string &value);

} // namespace exo
