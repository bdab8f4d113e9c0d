// fuzz_config.cc: libFuzzer target for the exoauthd.conf parser
// (src/core/config*.cc). Feeds arbitrary bytes to config_parse and, when a
// file is accepted, checks the invariants the daemon relies on: sockets,
// an authority, and well-formed accounts. Seeds: tests/fuzz/corpus/config/.
// fuzz-sources: src/core/config.cc src/core/config_keys.cc src/core/config_text.cc src/plug/plugconf.cc src/plug/protocol.cc src/core/credfile.cc src/plug/secret.cc src/plug/crypto.cc src/plug/base64.cc

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config.hh"

// [alerts]: a command of 1 to 32 words, an absolute program, no word a
// shell would read differently; every number in its bounds.
static void check_alerts(const exo::AlertsConfig &a)
{
    if (!a.enabled)
        return;
    if (a.command.empty() || a.command.size() > 32 || a.command[0].empty() || a.command[0][0] != '/')
        abort();
    for (const auto &w : a.command)
        if (w.empty() || w.find_first_of(" \t\"'\\") != std::string::npos)
            abort();
    if (a.timeout < 1 || a.timeout > 300 || a.reminder < 1 || a.warn_days < 1 || a.idp_unreachable_after < 1)
        abort();
}

// Aborts (a crash the fuzzer reports) when an accepted Config breaks a rule.
static void check_invariants(const exo::Config &cfg)
{
    check_alerts(cfg.alerts);
    if (cfg.listens.empty() || cfg.authority.rfind("https://", 0) != 0)
        abort();
    for (const auto &l : cfg.listens)
        if (l.path.empty() || l.path[0] != '/' || l.path.size() > 107 || l.mode > 0777 ||
            (l.path + "/").find("/../") != std::string::npos)
            abort();
    for (const auto &a : cfg.accounts) {
        if (a.tenant.empty() || a.client_id.size() != 36 || a.scope.empty())
            abort();
        if (cfg.find_account(a.name) == nullptr)
            abort();
        bool cert = a.credential == exo::Credential::Certificate;
        if (cert != (!a.certificate.empty() && !a.private_key.empty()))
            abort();
        if (a.grant == exo::Grant::ClientCredentials && a.credential == exo::Credential::None)
            abort();
    }
}

// One input: parse it; an accepted file must satisfy the invariants.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string_view text(reinterpret_cast<const char *>(data), size);
    exo::Config cfg;
    std::string error;
    if (exo::config_parse(text, "fuzz.conf", cfg, error))
        check_invariants(cfg);
    else if (error.rfind("fuzz.conf:", 0) != 0)
        abort();
    return 0;
}
