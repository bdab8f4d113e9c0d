# test_doctor_smtp.py: `exoauthctl doctor --smtp MAILBOX` (issue 13): one
# real EHLO/STARTTLS/AUTH session as the mailbox against the SMTP stand-in
# with Exchange's front (exchangesmtp.SmtpFront), with a token from
# exoauthd, and each answer explained: success, SMTP AUTH off for the
# mailbox or the tenant, a refused token (5.7.3), a certificate that does
# not verify (nothing sent) and a relay that is down (temporary). The
# token never appears in the output.
import os
import socket
import tempfile
import uuid

import pytest

import idp as fakeidp
import mta
from conftest import TENANT, Daemon, cert_account
from test_exchange_answers import smtp_login
from test_idp_proxy import ENV_PROXIES, ConnectProxy, with_idp_lines

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="private Postfix instances need root")
MAILBOX = "relay@contoso.example"


class Env:
    """The stand-in with Exchange's front and an exoauthd with one app-only
    certificate account, as test_relay.Site makes it."""

    def __init__(self, tmp_root, idp, daemons, accounts=("relay",), extra_global="", idp_lines=""):
        self.up = mta.ExchangeStandIn(tmp_root, idp, name="exd-%s" % uuid.uuid4().hex[:6], front=True)
        self.dir = tempfile.mkdtemp(prefix="doc-", dir=tmp_root)
        sections = ""
        for name in accounts:
            cert, key, pem = fakeidp.make_app_cert(self.dir, name)
            cid = str(uuid.uuid4())
            idp.register(tenant=TENANT, client_id=cid, certificate_pem=pem, roles=["SMTP.SendAsApp"])
            sections += cert_account(name, cid, cert, key)
        self.daemon = Daemon(tmp_root, idp, sections, extra_global=extra_global)
        self.daemon = with_idp_lines(self.daemon, idp_lines).start()
        daemons.append(self.daemon)
        self.up.start()
        self.relay = "localhost:%d" % self.up.port   # the stand-in's certificate names localhost

    def doctor(self, *extra, relay=None, ca_file=None, mailbox=MAILBOX):
        """doctor --smtp mailbox against the front; (exit status, output)."""
        args = ["doctor", "--smtp", mailbox, "--relay", relay or self.relay,
                "--ca-file", ca_file or self.up.ca_file] + list(extra)
        out = self.daemon.ctl(*args, timeout=60)
        text = out.stdout + out.stderr
        for name in self.accounts():
            status, fields = self.daemon.token(name)
            assert status != "OK" or fields["token"] not in text
        return out.returncode, text

    def accounts(self):
        with open(self.daemon.conf) as f:
            return [l.split()[1].rstrip("]") for l in f if l.startswith("[account ")]


@pytest.fixture
def env(tmp_root, fresh_idp, daemons):
    e = Env(tmp_root, fresh_idp, daemons)
    try:
        yield e
    finally:
        e.up.stop()


def verdict(text, what):
    """The verdict line of a step, e.g. "smtp auth"."""
    lines = [l for l in text.splitlines() if l[6:].startswith(what + " ")]
    assert len(lines) == 1, (what, text)
    return lines[0]


def test_success_authenticates_and_sends_nothing(env):
    rc, text = env.doctor()
    assert rc == 0, text
    for step in ("smtp relay", "smtp token relay", "smtp connect", "smtp starttls", "smtp auth"):
        assert verdict(text, step).startswith("OK "), (step, text)
    assert "235" in verdict(text, "smtp auth")
    assert "direct" in verdict(text, "smtp relay")
    assert env.up.front.answers == [] and env.up.message_files() == []


@pytest.mark.parametrize("scope,fix", [
    ("Mailbox", "Set-CASMailbox -Identity %s -SmtpClientAuthenticationDisabled $false" % MAILBOX),
    ("Tenant", "Set-TransportConfig -SmtpClientAuthenticationDisabled $false"),
])
def test_smtp_auth_disabled_is_explained(env, scope, fix):
    if scope == "Mailbox":
        env.up.front.auth_disabled.add(MAILBOX)
    else:
        env.up.front.tenant_auth_disabled = True
    rc, text = env.doctor()
    assert rc == 1, text
    assert verdict(text, "smtp starttls").startswith("OK ")
    line = verdict(text, "smtp auth")
    assert line.startswith("FAIL") and "535 5.7.139" in line and "disabled for the " + scope in line, text
    assert "fix: an Exchange admin turns it on with: " + fix in text, text


def test_refused_token_is_explained(env, fresh_idp):
    old_kid = env.up.publish_keys()[0]
    fresh_idp.rotate_keys()
    env.up.publish_keys()
    env.up.revoke_kid(old_kid)     # the token exoauthd holds no longer verifies
    rc, text = env.doctor()
    assert rc == 1, text
    line = verdict(text, "smtp auth")
    assert line.startswith("FAIL") and "535 5.7.3 Authentication unsuccessful" in line, text
    assert "Exchange refused the token" in text and "Add-MailboxPermission -Identity " + MAILBOX in text


def test_wrong_ca_fails_the_certificate_and_sends_no_token(env, tmp_root):
    other = tempfile.mkdtemp(prefix="ca-", dir=tmp_root)
    wrong_ca = fakeidp.make_app_cert(other, "not-the-ca")[0]
    rc, text = env.doctor(ca_file=wrong_ca)
    assert rc == 1, text
    assert verdict(text, "smtp connect").startswith("OK ")
    line = verdict(text, "smtp starttls")
    assert line.startswith("FAIL") and "certificate" in line.lower(), text
    assert verdict(text, "smtp auth").startswith("SKIP") and "no token was sent" in text
    assert "did not verify" in text
    # The front never saw an AUTH: nothing went past the TLS handshake.
    assert env.up.front.answers == []


@pytest.mark.parametrize("listening,says", [
    (False, "no SMTP greeting from the relay"),   # bound, not listening: refused
    (True, "the relay stopped answering"),        # the kernel accepts; nobody ever speaks
])
def test_relay_down_or_silent_is_a_temporary_connect_failure(env, listening, says):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    if listening:
        s.listen(1)
    try:
        rc, text = env.doctor(relay="127.0.0.1:%d" % s.getsockname()[1])
    finally:
        s.close()
    assert rc == 1, text
    assert verdict(text, "smtp connect").startswith("FAIL"), text
    assert "means: temporary" in text and says in text
    assert verdict(text, "smtp starttls").startswith("SKIP") and verdict(text, "smtp auth").startswith("SKIP")


def test_bad_arguments_are_refused(env):
    out = env.daemon.ctl("doctor", "--relay", env.relay)
    assert out.returncode == 2 and "go with --smtp MAILBOX" in out.stderr
    out = env.daemon.ctl("doctor", "--smtp")
    assert out.returncode == 2 and "--smtp needs a value" in out.stderr
    rc, text = env.doctor(relay="host:notaport")
    assert rc == 1 and "give HOST:PORT" in text


def test_fourth_session_of_the_mailbox_is_explained_as_temporary(env):
    token = env.daemon.token("relay")[1]["token"]
    held = []
    try:
        for _ in range(3):
            c, code, text = smtp_login(env.up, token)
            held.append(c)
            assert code == 235, text
        rc, text = env.doctor()
    finally:
        for c in held:
            c.close()
    assert rc == 1, text
    line = verdict(text, "smtp auth")
    assert line.startswith("FAIL") and "432 4.3.2 Concurrent connections limit exceeded" in line, text
    assert "means: temporary" in text and "3 SMTP sessions per mailbox" in text
    assert "destination concurrency" in text


def test_account_comes_from_mailbox_map(tmp_root, fresh_idp, daemons):
    mapfile = os.path.join(tmp_root, "mailboxes-%s" % uuid.uuid4().hex[:6])
    with open(mapfile, "w") as f:
        f.write("app %s relay\nother other@fabrikam.example other\n" % MAILBOX)
    e = Env(tmp_root, fresh_idp, daemons, accounts=("other", "relay"), extra_global="mailbox_map = %s\n" % mapfile)
    try:
        rc, text = e.doctor()
        assert rc == 0, text
        assert "account by mailbox_map" in verdict(text, "smtp token relay")
        assert verdict(text, "smtp auth").startswith("OK ")
        # A mailbox the map gives no account: doctor says so and asks for one.
        rc, text = e.doctor(mailbox="nobody@contoso.example")
        assert rc == 1 and verdict(text, "smtp account").startswith("FAIL"), text
        assert "mailbox_map leads no account to nobody@contoso.example" in text and "--account" in text
        assert "smtp connect" not in text
    finally:
        e.up.stop()


def test_smtp_goes_direct_despite_idp_and_environment_proxies(tmp_root, fresh_idp, daemons, monkeypatch):
    proxy = ConnectProxy()
    e = Env(tmp_root, fresh_idp, daemons, idp_lines="proxy = %s\n" % proxy.url())
    try:
        for name in ENV_PROXIES:
            monkeypatch.setenv(name, proxy.url())
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        rc, text = e.doctor()
        assert rc == 0, text
        assert "[idp] proxy is for the IdP only" in verdict(text, "smtp relay")
        assert verdict(text, "smtp auth").startswith("OK ")
        assert not [t for t in proxy.tunnels if t.endswith(":%d" % e.up.port)], proxy.tunnels
    finally:
        proxy.stop()
        e.up.stop()

