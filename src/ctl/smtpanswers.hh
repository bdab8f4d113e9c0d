// smtpanswers.hh: what Exchange Online's answers to an SMTP session mean
// and what fixes them, as `exoauthctl doctor --smtp` explains them: one
// table keyed by the enhanced status code (5.7.139 split by tenant or
// mailbox), plus the failures that come before any answer (connect,
// timeout, certificate). The meanings and PowerShell commands are those of
// conf/postfix/exchange_replies, which puts them in Postfix's log.
#pragma once

#include <string>

namespace exo::ctl {

struct SmtpAnswer {
    const char *key;       // enhanced status code, or "connect", "timeout", "certificate"
    const char *contains;  // text the reply must hold as well; "" matches any
    bool temporary;        // Postfix defers (and retries) rather than bounces
    const char *meaning;
    const char *fix;       // "MAILBOX" stands for the mailbox checked
};

// The enhanced status code of a reply line ("535 5.7.3 x" -> "5.7.3"), or "".
std::string smtp_enhanced_code(const std::string &line);

// A copy of the table's entry for key and the reply's text: an unknown
// answer gets a generic entry, temporary for a 4xx reply.
SmtpAnswer smtp_explain(const std::string &key, const std::string &reply);

// fix with MAILBOX replaced by mailbox.
std::string smtp_fix(const SmtpAnswer &a, const std::string &mailbox);

} // namespace exo::ctl
