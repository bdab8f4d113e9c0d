// fuzz_usermap.cc: libFuzzer target for the two map files: user_map of
// [validate] and mailbox_map (the first byte picks one). An accepted map
// must answer look-ups consistently and hold no control bytes; a route the
// mailbox map gives must be one it allows.
// fuzz-sources: src/core/usermap.cc src/core/credfile.cc src/plug/protocol.cc src/plug/secret.cc src/plug/crypto.cc src/plug/base64.cc
#include "protocol.hh"
#include "usermap.hh"

#include <cstdint>
#include <cstdlib>

using namespace exo;

static void check_usermap(const std::string &text)
{
    std::string error;
    UserMap m;
    if (usermap_parse(text, "fuzz", m, error))
        for (const auto &[from, to] : m)
            if (!proto::value_ok(to) || usermap_apply(m, from) != to)
                abort();
}

static void check_mailboxmap(const std::string &text)
{
    std::string error;
    MailboxMap m;
    if (!mailboxmap_parse(text, "fuzz", m, error))
        return;
    for (const auto &[user, route] : m.users) {
        MailboxRoute r;
        if (!mailboxmap_route(m, user, r) || !mailboxmap_allows(m, r.account, r.mailbox))
            abort();
    }
    for (const auto &[domain, route] : m.domains) {
        MailboxRoute r;
        if (mailboxmap_route(m, "x" + domain, r) && !mailboxmap_allows(m, r.account, r.mailbox))
            abort();
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    std::string text((const char *)data + 1, size - 1);
    if (data[0] & 1)
        check_mailboxmap(text);
    else
        check_usermap(text);
    return 0;
}
