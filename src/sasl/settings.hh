// settings.hh: the SASL client plugin's settings, read once in
// sasl_client_plug_init (as root, before Postfix's smtp enters its chroot)
// from smtp.conf in the Cyrus configuration path, e.g.
// /etc/postfix/sasl/smtp.conf with cyrus_sasl_config_path = /etc/postfix/sasl.
// Lines are Cyrus's "key: value"; keys without the exoauth_ prefix belong to
// others and are skipped.
#pragma once

#include <string>

namespace exo::saslplug {

struct Settings {
    // The socket. A relative path is relative to Postfix's queue directory
    // (every Postfix daemon runs there, chrooted or not, like
    // smtpd_sasl_path = private/auth); the default is the socket exoauthd
    // makes in Postfix's spool when it has no [listen] section.
    std::string socket = "exoauth/exoauthd.sock";
    int timeout_ms = 5000;  // per exchange with exoauthd
};

// Parse the text of smtp.conf; false with "line N: reason" and out unchanged.
bool parse_settings(const std::string &text, Settings &out, std::string &error);

} // namespace exo::saslplug
