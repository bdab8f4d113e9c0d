// smtpanswers.cc: the table of Exchange Online's SMTP answers, their
// meaning and their fix (smtpanswers.hh); kept in step with
// conf/postfix/exchange_replies and README's "When Exchange says no".
#include "smtpanswers.hh"

#include <cctype>
#include <cstring>

namespace exo::ctl {

namespace {

const SmtpAnswer kAnswers[] = {
    {"5.7.139", "disabled for the Tenant", false,
     "SMTP AUTH is off for the whole tenant; Postfix defers the mail (smtp_sasl_auth_soft_bounce)",
     "an Exchange admin turns it on with: Set-TransportConfig -SmtpClientAuthenticationDisabled $false"},
    {"5.7.139", "disabled for the Mailbox", false,
     "SMTP AUTH is off for this mailbox; Postfix defers the mail (smtp_sasl_auth_soft_bounce)",
     "an Exchange admin turns it on with: Set-CASMailbox -Identity MAILBOX -SmtpClientAuthenticationDisabled $false"},
    {"5.7.139", "", false,
     "SMTP AUTH is not allowed for this mailbox or tenant (security defaults or an authentication policy)",
     "see https://aka.ms/smtp_auth_disabled"},
    {"5.7.3", "", false,
     "Exchange refused the token (it sends no reason); Postfix defers the mail",
     "check the app's SMTP.SendAsApp permission (admin consent), its service principal in Exchange "
     "(New-ServicePrincipal) and Add-MailboxPermission -Identity MAILBOX -User <service principal id> "
     "-AccessRights FullAccess; then systemctl restart exoauthd, so that a new token carries the grant"},
    {"4.3.2", "Concurrent connections", true,
     "Exchange allows 3 SMTP sessions per mailbox at once and MAILBOX has them",
     "keep the relay transport's destination concurrency at 3 or less, with main.cf-limits's rate delay "
     "it is 1 (other clients of MAILBOX count too); run doctor again later"},
    {"4.3.2", "", true, "Exchange is throttling this mailbox's submissions",
     "keep the relay transport's rate at 30 messages a minute (main.cf-limits: a 2 s rate delay); "
     "Postfix retries on its own"},
    {"5.7.57", "", false,
     "the session was not authenticated when it had to be: AUTH did not happen or was not accepted",
     "make Postfix authenticate to the relay (smtp_sasl_auth_enable = yes, smtp_tls_security_level = encrypt)"},
    {"5.7.8", "", false, "the server refused the credentials (a token for the wrong audience or mailbox)",
     "check the account's scope (https://outlook.office365.com/.default) and that MAILBOX is the mailbox "
     "the app was granted"},
    {"5.2.252", "", false,
     "the mailbox may not send as that From address; Postfix bounces the message (no retry can succeed)",
     "Add-RecipientPermission -Identity FROM-ADDRESS -Trustee MAILBOX -AccessRights SendAs"},
    {"connect", "", true, "no SMTP greeting from the relay (refused, unreachable or not resolved)",
     "check DNS and that this host may open TCP port 587 to the relay (firewall); SMTP never uses the [idp] proxy"},
    {"timeout", "", true, "the relay stopped answering",
     "check the firewall and the network path to the relay, then run doctor again"},
    {"certificate", "", false,
     "the relay's TLS certificate did not verify (or TLS failed): no token was sent",
     "is something intercepting TLS on port 587? check the clock, the relay's name and --ca-file"},
};

const SmtpAnswer kUnknownPerm = {"", "", false, "Exchange refused the session", "see the reply text"};
const SmtpAnswer kUnknownTemp = {"", "", true, "Exchange asks to try later; Postfix retries",
                                 "if it persists, see the reply text"};

} // namespace

// See smtpanswers.hh.
std::string smtp_enhanced_code(const std::string &line)
{
    if (line.size() < 9 || !isdigit((unsigned char)line[0]) || (line[3] != ' ' && line[3] != '-'))
        return "";
    size_t end = line.find(' ', 4);
    std::string code = line.substr(4, end == std::string::npos ? std::string::npos : end - 4);
    int dots = 0;
    for (char c : code) {
        if (c == '.')
            dots++;
        else if (!isdigit((unsigned char)c))
            return "";
    }
    bool ok = dots == 2 && code[0] == line[0] && code[1] == '.' && code[2] != '.' && code.back() != '.';
    return ok ? code : "";
}

// See smtpanswers.hh.
SmtpAnswer smtp_explain(const std::string &key, const std::string &reply)
{
    for (const auto &a : kAnswers)
        if (key == a.key && reply.find(a.contains) != std::string::npos)
            return a;
    return !reply.empty() && reply[0] == '4' ? kUnknownTemp : kUnknownPerm;
}

// See smtpanswers.hh.
std::string smtp_fix(const SmtpAnswer &a, const std::string &mailbox)
{
    std::string s = a.fix;
    for (size_t at = 0; (at = s.find("MAILBOX", at)) != std::string::npos; at += mailbox.size())
        s.replace(at, strlen("MAILBOX"), mailbox);
    return s;
}

} // namespace exo::ctl
