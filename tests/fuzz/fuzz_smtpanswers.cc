// fuzz_smtpanswers.cc: libFuzzer target for doctor --smtp's reading of a
// relay's reply line (untrusted): the enhanced code found is empty or
// well formed and of the reply's class, every reply gets an explanation,
// and a fix is filled in with any mailbox text in bounded time.
// fuzz-sources: src/ctl/smtpanswers.cc
#include "src/ctl/smtpanswers.hh"

#include <cstdint>
#include <cstdlib>
#include <string>

// True for digits '.' digits '.' digits, the first digit being cls.
static bool well_formed(const std::string &code, char cls)
{
    size_t a = code.find('.'), b = code.find('.', a + 1);
    return a == 1 && code[0] == cls && b != std::string::npos && b > a + 1 && b + 1 < code.size() &&
           code.find_first_not_of("0123456789.") == std::string::npos && code.find('.', b + 1) == std::string::npos;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string line((const char *)data, size);
    std::string code = exo::ctl::smtp_enhanced_code(line);
    if (!code.empty() && !well_formed(code, line[0]))
        abort();
    const exo::ctl::SmtpAnswer a = exo::ctl::smtp_explain(code, line);
    if (!a.meaning || !a.fix)
        abort();
    std::string fix = exo::ctl::smtp_fix(a, line);
    if (fix.size() > 64 * 1024 + 16 * line.size())
        abort();
    return 0;
}
