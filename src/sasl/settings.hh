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
    // The socket as the smtp process sees it: inside the chroot
    // (queue_directory) when smtp is chrooted, a real path otherwise.
    std::string socket = "/run/exoauth/exoauthd.sock";
    int timeout_ms = 5000;  // per exchange with exoauthd
};

// Parse the text of smtp.conf; false with "line N: reason" and out unchanged.
bool parse_settings(const std::string &text, Settings &out, std::string &error);

} // namespace exo::saslplug
