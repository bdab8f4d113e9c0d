// config_keys.hh: internal to the exoauthd.conf parser (config.cc,
// config_keys.cc); nothing outside src/core/config*.cc includes it. The
// parser's state while it walks a file, and what the loader calls for each
// header line, each "key = value" line and at the end of the file.
#pragma once

#include "config.hh"

#include <string>
#include <string_view>
#include <vector>

namespace exo::conf {

enum class Section { None, Global, Idp, Listen, Account, Peer, Validate, Alerts, Metrics };

struct KeyLine {
    const char *key; // from the key table, so it outlives the parser
    int line;
};

struct SeenSection {
    std::string label; // "[account relay]"
    int line;
};

// Everything the parser knows while it walks the file.
struct Parser {
    explicit Parser(const std::string &p) : path(p) {}
    const std::string &path;
    Config cfg;
    int line = 0;                        // current line, 1-based
    Section section = Section::None;     // the open section
    std::string label;                   // its label, for messages
    int section_line = 0;                // its header's line
    std::vector<KeyLine> keys;           // keys seen in it
    std::vector<SeenSection> sections;   // every header so far
    ListenConfig listen;                 // the open [listen], if any
    AccountConfig account;               // the open [account], if any
    PeerConfig peer;                     // the open [peer], if any
    std::string error;
};

// Records "path:line: why" for the current line and returns false.
bool fail(Parser &p, const std::string &why);
// A "[kind]" or "[kind NAME]" header line (already trimmed): closes the
// open section and opens this one.
bool open_section(Parser &p, std::string_view s);
// A "key = value" line (already trimmed) inside the open section.
bool parse_assignment(Parser &p, std::string_view s);
// Checks the open section as a whole and closes it.
bool close_section(Parser &p);
// Every account a [peer] names exists.
bool check_peer_accounts(Parser &p);

} // namespace exo::conf
