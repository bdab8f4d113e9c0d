// mech-exoauth.hh: exoauth's XOAUTH2 and OAUTHBEARER mechanisms for Dovecot
// 2.4, whose own ones check the token themselves (oauth2_* settings) and
// never ask a passdb. Ours parse the client's message (saslmsg.hh) and hand
// the token to the passdb chain as the password, as Dovecot 2.3's did, so
// the passdb exoauth (exoauthd's rules) decides. Built only for 2.4.
#pragma once

namespace exo::dovecot {

// Put exoauth's mechanisms in the place of Dovecot's, in the list of known
// mechanisms and in the register the auth process already built from
// auth_mechanisms. Idempotent; called once the passdbs are made.
void install_mechanisms();

} // namespace exo::dovecot
