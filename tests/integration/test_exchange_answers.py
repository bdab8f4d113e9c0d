# test_exchange_answers.py: issue 13's Exchange answers, end to end. The
# site's Postfix (shipped main.cf-relay with conf/postfix/exchange_replies)
# relays through the built SASL plugin to the SMTP stand-in with its
# Exchange front (exchangesmtp.SmtpFront), which answers as Exchange Online
# does: 535 5.7.3 for a refused token with no challenge, 535 5.7.139 when
# SMTP AUTH is off, 432 4.3.2 above 3 sessions of a mailbox, 554 5.2.252
# SendAsDenied. For each: deferred (kept, delivered once the cause is gone)
# or, for SendAsDenied only, bounced; and the log names cause and fix.
import base64
import os
import smtplib
import ssl
import uuid

import pytest

import mta
from test_relay import NO_CACHE, Site, check_delivered, deferred, message

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="private Postfix instances need root")
MAILBOX = "relay@contoso.example"


@pytest.fixture
def front_env(tmp_root, fresh_idp):
    """A stand-in with Exchange's front and a site relaying through it."""
    up = mta.ExchangeStandIn(tmp_root, fresh_idp, name="exf-%s" % uuid.uuid4().hex[:6], front=True).start()
    site = Site(tmp_root, fresh_idp, up, main_extra=NO_CACHE)
    # The site's test messages come from app@site.example: granted, as an
    # admin would (Add-RecipientPermission), except where a test revokes it.
    up.front.send_as[MAILBOX] = {"app@site.example"}
    try:
        yield up, site.start()
    finally:
        site.stop()
        up.stop()


def test_front_passes_good_sessions(front_env):
    up, site = front_env
    tag = uuid.uuid4().hex[:8]
    site.submit([message(i, tag) for i in range(3)])
    check_delivered(up, tag, 3)
    assert up.front.answers == []


@pytest.mark.parametrize("scope,fix", [
    ("Mailbox", "Set-CASMailbox -Identity MAILBOX -SmtpClientAuthenticationDisabled $false"),
    ("Tenant", "Set-TransportConfig -SmtpClientAuthenticationDisabled $false"),
])
def test_smtp_auth_disabled_defers_and_names_the_fix(front_env, scope, fix):
    up, site = front_env
    if scope == "Mailbox":
        up.front.auth_disabled.add(MAILBOX)
    else:
        up.front.tenant_auth_disabled = True
    tag = uuid.uuid4().hex[:8]
    site.submit([message(0, tag)])
    deferred(site, 1)
    log = site.postfix.log_text()
    assert "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the %s" % scope in log
    assert fix in log, log[-2000:]
    assert up.message_files() == []
    # The admin turns SMTP AUTH on: the kept message goes out, once.
    up.front.auth_disabled.clear()
    up.front.tenant_auth_disabled = False
    site.postfix.flush()
    check_delivered(up, tag, 1)
    assert "status=bounced" not in site.postfix.log_text()


def test_refused_token_is_535_5_7_3_without_a_challenge_and_deferred(front_env, fresh_idp):
    up, site = front_env
    tag = uuid.uuid4().hex[:8]
    site.submit([message(0, tag)])
    check_delivered(up, tag, 1)
    old_kid = up.publish_keys()[0]
    fresh_idp.rotate_keys()
    up.publish_keys()
    up.revoke_kid(old_kid)       # Exchange stops trusting the cached token
    site.submit([message(1, tag)])
    deferred(site, 1)
    log = site.postfix.log_text()
    assert "535 5.7.3 Authentication unsuccessful" in log and "Add-MailboxPermission" in log, log[-2000:]
    # Exchange sends no RFC 7628 challenge, so the plugin cannot know the
    # token was refused: nothing is invalidated (README: "When Exchange
    # says no"). The message stays queued; nothing bounced.
    assert "server refused token" not in log
    assert len(site.postfix.queue()) == 1


def smtp_login(up, token, mailbox=MAILBOX):
    """A session straight to the front, authenticated with XOAUTH2."""
    c = smtplib.SMTP("127.0.0.1", up.port, timeout=30)
    c.starttls(context=ssl.create_default_context(cafile=up.ca_file))
    c.ehlo()
    ir = base64.b64encode(mta.xoauth2(mailbox, token).encode()).decode()
    code, text = c.docmd("AUTH", "XOAUTH2 " + ir)
    return c, code, text.decode()


def test_fourth_concurrent_session_of_a_mailbox_is_432_and_temporary(front_env):
    up, site = front_env
    token = site.daemon.token("relay")[1]["token"]
    sessions = []
    try:
        for _ in range(3):
            c, code, text = smtp_login(up, token)
            sessions.append(c)
            assert code == 235, text
        c, code, text = smtp_login(up, token)
        sessions.append(c)
        assert code == 432 and text.startswith("4.3.2 Concurrent connections limit exceeded"), (code, text)
        # A session that ends frees its place.
        sessions.pop(0).quit()
        c, code, text = smtp_login(up, token)
        sessions.append(c)
        assert code == 235, text
    finally:
        for c in sessions:
            c.close()


def test_send_as_denied_bounces_with_the_fix(front_env):
    up, site = front_env
    tag = uuid.uuid4().hex[:8]
    # The envelope sender is app@site.example: the mailbox may not send as it.
    up.front.send_as.clear()
    site.submit([message(0, tag)])
    site.postfix.wait_log(r"status=bounced", timeout=60)
    log = site.postfix.log_text()
    assert "554 5.2.252 SendAsDenied; relay@contoso.example not allowed to send as app@site.example" in log
    assert "Add-RecipientPermission -Identity FROM-ADDRESS -Trustee MAILBOX -AccessRights SendAs" in log
    assert up.message_files() == []
    # Once the mailbox may send as that address, the next message goes out.
    up.front.send_as[MAILBOX] = {"app@site.example"}
    site.submit([message(1, tag)])
    msgs = up.wait_messages(1)
    assert len(msgs) == 1 and int(msgs[0]["X-Test-Seq"]) == 1
