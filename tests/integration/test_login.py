# test_login.py: issue 4 end to end. Clients the project did not write
# (curl, imaplib, smtplib, msmtp) log in with Entra ID tokens from the fake
# IdP to a private Dovecot (IMAP, POP3, submission) configured with
# conf/dovecot/95-exoauth.conf and to a private Postfix smtpd configured
# with conf/postfix/main.cf-submission (Dovecot SASL), both through the
# built passdb plugin and exoauthd. Hostile tokens are refused with their
# reason; an unreachable exoauthd is a temporary failure. As a second
# opinion the same tokens go to a Dovecot using its built-in oauth2 passdb.
import base64
import hashlib
import json
import os
import re
import smtplib
import socket
import ssl
import subprocess
import time
import uuid

import pytest

import mta
from conftest import Daemon
from test_validate import TID, VALIDATE, claims

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="private Dovecot and Postfix need root")

USER = "alice@contoso.example"
CURL = ["curl", "-sS", "--max-time", "20"]


def short_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()[:12]


xoauth2 = mta.xoauth2

# The lines of 95-exoauth.conf that add the two mechanisms (2.3, 2.4).
OAUTH_MECHANISMS_23 = "auth_mechanisms = $auth_mechanisms xoauth2 oauthbearer"
OAUTH_MECHANISMS_24 = "auth_mechanisms {\n  xoauth2 = yes\n  oauthbearer = yes\n}"


def listeners(ports):
    """Dovecot login listeners on loopback, plaintext (loopback counts as
    secured for Dovecot) plus STARTTLS; implicit TLS ports (Dovecot 2.4
    also listens on 465 for submissions) are off. Dovecot's auth penalty is off
    (its anvil socket unusable), or every login after the tests'
    deliberate failures from 127.0.0.1 would wait up to 15 s."""
    return "\n".join([
        "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}",
        "service imap-login {\n  inet_listener imap {\n    port = %d\n  }\n"
        "  inet_listener imaps {\n    port = 0\n  }\n}" % ports["imap"],
        "service pop3-login {\n  inet_listener pop3 {\n    port = %d\n  }\n"
        "  inet_listener pop3s {\n    port = 0\n  }\n}" % ports.get("pop3", 0),
        "service submission-login {\n  inet_listener submission {\n    port = %d\n  }\n"
        "  inet_listener submissions {\n    port = 0\n  }\n}" % ports.get("submission", 0),
    ])


class LoginSite:
    """exoauthd validating tokens for api://exoauth, the site's Dovecot with
    the shipped snippet and the plugin, and the site's Postfix smtpd asking
    that Dovecot, with the shipped submission snippet."""

    def __init__(self, root, idp, mechanisms=None, daemon=None):
        self.root = os.path.join(root, "login-" + uuid.uuid4().hex[:6])
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)
        self.idp = idp
        # An exoauthd of its own, or one already running with [validate].
        self.own_daemon = daemon is None
        self.daemon = daemon or Daemon(self.root, idp, VALIDATE, extra_global="allow_users = dovecot postfix root\n")
        name = os.path.basename(self.root)
        tls = idp.dir
        self.postfix = mta.Postfix(self.root, name + "-smtpd", main_extra="\n".join([
            mta.snippet("postfix/main.cf-submission"),
            "smtpd_tls_security_level = may",
            "smtpd_tls_cert_file = %s/server.pem" % tls,
            "smtpd_tls_key_file = %s/server.key" % tls,
            "smtpd_relay_restrictions = permit_sasl_authenticated, reject",
            "smtpd_recipient_restrictions = permit_sasl_authenticated, reject",
            "default_transport = discard:accepted by the login test",
        ]))
        self.ports = {"imap": mta.free_port(), "pop3": mta.free_port(), "submission": mta.free_port()}
        snippet = mta.snippet("dovecot/95-exoauth.conf", [
            ("/run/exoauth/exoauthd.sock", self.daemon.socket),
            ("/var/spool/postfix/private/auth", os.path.join(self.postfix.spool, "private", "auth"))]
            + ([(OAUTH_MECHANISMS_24 if mta.dovecot_24() else OAUTH_MECHANISMS_23,
                 "auth_mechanisms = " + mechanisms)] if mechanisms else []))
        self.dovecot = mta.Dovecot(self.root, name + "-dovecot", "\n".join([
            "protocols = imap pop3 submission",
            "auth_verbose = yes",
            snippet,
            "userdb {\n  driver = static\n  args = uid=nobody gid=nogroup home=%s/home/%%u\n}" % self.root,
            listeners(self.ports),
            "submission_relay_host = 127.0.0.1",
            "submission_relay_port = %d" % self.postfix.port,
            "hostname = site.test",
        ]), ssl_dir=tls)

    def start(self):
        if self.own_daemon:
            self.daemon.start()
        self.postfix.start()   # makes private/, where Dovecot puts the auth socket
        self.dovecot.start()
        return self

    def stop(self):
        self.dovecot.stop()
        self.postfix.stop()
        if self.own_daemon:
            self.daemon.stop()

    def log(self):
        return self.dovecot.log_text()


class BuiltinOAuth2:
    """A second opinion: Dovecot's built-in oauth2 passdb, local validation
    against the fake IdP's current keys, on its own IMAP port."""

    def __init__(self, root, idp):
        self.root = os.path.join(root, "builtin-" + uuid.uuid4().hex[:6])
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)
        self.idp = idp
        self.keys = os.path.join(self.root, "keys")
        self.port = mta.free_port()
        self.dovecot = mta.Dovecot(self.root, "builtin", "\n".join([
            "protocols = imap",
            "auth_mechanisms = xoauth2 oauthbearer",
            "auth_verbose = yes",
            self.oauth2_24() if mta.dovecot_24() else self.oauth2_23(),
            "userdb {\n  driver = static\n  args = uid=nobody gid=nogroup home=%s/home/%%u\n}" % self.root,
            listeners({"imap": self.port}),
        ]), plugin=False)

    def oauth2_23(self):
        """2.3: the oauth2 passdb, its settings in a file."""
        conf = os.path.join(self.root, "oauth2.conf.ext")
        with open(conf, "w") as f:
            f.write("introspection_mode = local\nlocal_validation_key_dict = fs:posix:prefix=%s/\n"
                    "username_attribute = upn\n" % self.keys)
        return "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = %s\n}" % conf

    def oauth2_24(self):
        """2.4: the mechanisms validate through the global oauth2 settings,
        then look the user up in the passdbs (none knows it: accepted)."""
        return ("oauth2 {\n  introspection_mode = local\n  username_attribute = upn\n"
                "  oauth2_local_validation {\n    dict fs {\n      fs posix {\n        prefix = %s/\n"
                "      }\n    }\n  }\n}\n"
                "passdb static {\n  fields {\n    nopassword = y\n  }\n}" % self.keys)

    def start(self):
        mta.publish_keys(self.idp, self.keys)
        self.dovecot.start()
        return self

    def stop(self):
        self.dovecot.stop()


@pytest.fixture(scope="module")
def site(tmp_root, idp):
    s = LoginSite(tmp_root, idp)
    try:
        yield s.start()
    finally:
        s.stop()


@pytest.fixture(scope="module")
def site_xoauth2(tmp_root, idp):
    """The same site offering XOAUTH2 alone: curl 7.88 always picks
    OAUTHBEARER when the server offers both, --login-options or not."""
    s = LoginSite(tmp_root, idp, mechanisms="xoauth2")
    try:
        yield s.start()
    finally:
        s.stop()


def site_for(request, mech):
    return request.getfixturevalue("site_xoauth2" if mech == "XOAUTH2" else "site")


def entra_claims(idp, **over):
    """A good token's claims; Entra puts sub in every token (and Dovecot's
    oauth2 passdb, the second opinion, insists on it)."""
    return claims(idp, **dict({"sub": "alice-pairwise-sub"}, **over))


def good(idp, **over):
    return idp.mint(claims=entra_claims(idp, **over))


def imap_login(port, user, token, mech="XOAUTH2"):
    """Log in with imaplib; 'ok', 'refused' or 'temporary' and the text."""
    first = True

    def respond(challenge):
        nonlocal first
        if not first:
            return b""   # an error challenge: acknowledge it (RFC 7628 3.2.3 / XOAUTH2's empty reply)
        first = False
        if mech == "XOAUTH2":
            return xoauth2(user, token).encode()
        return mta.oauthbearer(user, token).encode()

    def login(m):
        typ, data = m.authenticate(mech, respond)
        m.select("INBOX")
        return data[0].decode()
    return mta.imap_verdict(port, login)


def wait_reason(site, token, reason):
    """The plugin logged the refusal of this token (by hash) with reason."""
    h = short_hash(token)
    site.dovecot.wait_log(r"exoauth: token %s refused: [^\n]*%s" % (h, reason), timeout=20)


# -- valid tokens, every client and mechanism --------------------------------

@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
@pytest.mark.parametrize("sasl_ir", [True, False], ids=["sasl-ir", "no-sasl-ir"])
def test_curl_imap_login(request, idp, mech, sasl_ir):
    site = site_for(request, mech)
    tok = good(idp)
    args = CURL + ["--login-options", "AUTH=" + mech, "--oauth2-bearer", tok, "-u", USER + ":",
                   "imap://127.0.0.1:%d/" % site.ports["imap"]]
    r = subprocess.run(args + (["--sasl-ir"] if sasl_ir else []), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    assert "INBOX" in r.stdout
    site.dovecot.wait_log(r"imap-login: Info: (?:Login|Logged in): user=<%s>, method=%s" % (USER, mech), timeout=20)


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_curl_pop3_login(request, idp, mech):
    site = site_for(request, mech)
    r = subprocess.run(CURL + ["--login-options", "AUTH=" + mech, "--oauth2-bearer", good(idp), "-u", USER + ":",
                               "pop3://127.0.0.1:%d/" % site.ports["pop3"]], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r
    site.dovecot.wait_log(r"pop3-login: Info: (?:Login|Logged in): user=<%s>, method=%s" % (USER, mech), timeout=20)


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_imaplib_login(site, idp, mech):
    assert imap_login(site.ports["imap"], USER, good(idp), mech)[0] == "ok"


def smtp_auth(port, user, token, mech="XOAUTH2", ir=True, send=False):
    """AUTH with smtplib after STARTTLS (verified against the test CA),
    with the initial response on the AUTH line (ir) or after a 334; then
    optionally one message. 'ok', 'refused' or 'temporary', and the reply."""
    c = smtplib.SMTP("127.0.0.1", port, timeout=20)
    try:
        c.ehlo("client.test")
        ctx = ssl.create_default_context(cafile=CA["file"])
        ctx.check_hostname = False   # the test server certificate names localhost, we dial 127.0.0.1
        c.starttls(context=ctx)
        c.ehlo("client.test")
        first = True

        def respond(challenge=None):
            nonlocal first
            if not first:
                return ""
            first = False
            if mech == "XOAUTH2":
                return xoauth2(user, token)
            return mta.oauthbearer(user, token)
        try:
            code, text = c.auth(mech, respond, initial_response_ok=ir)
            if send:
                c.sendmail(user, ["bob@contoso.example"], "Subject: login test\r\n\r\nhello\r\n")
            return "ok", "%d %s" % (code, text.decode())
        except smtplib.SMTPAuthenticationError as e:
            return ("temporary" if 400 <= e.smtp_code < 500 else "refused"), "%d %s" % (e.smtp_code,
                                                                                      e.smtp_error.decode())
    finally:
        try:
            c.quit()
        except smtplib.SMTPException:
            pass


CA = {}


@pytest.fixture(autouse=True, scope="module")
def _ca(idp):
    CA["file"] = idp.ca_file


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_postfix_smtpd_through_dovecot(site, idp, mech):
    verdict, text = smtp_auth(site.postfix.port, USER, good(idp), mech, send=True)
    assert verdict == "ok", text
    site.postfix.wait_log(r"sasl_method=%s, sasl_username=%s" % (mech, USER), timeout=20)


def test_dovecot_submission(site, idp):
    verdict, text = smtp_auth(site.ports["submission"], USER, good(idp), ir=False)
    assert verdict == "ok", text
    # Dovecot 2.3's submission-login caps the AUTH line (initial response
    # included) at 1 KB, below any Entra token: a clear 500, not a hang.
    # Clients must answer the 334 instead, or use Postfix's smtpd.
    verdict, text = smtp_auth(site.ports["submission"], USER, good(idp), ir=True)
    assert verdict == "refused" and text.startswith("500"), text
    site.dovecot.wait_log(r"submission-login: Info: (?:Login|Logged in): user=<%s>, method=XOAUTH2" % USER, timeout=20)


@pytest.mark.parametrize("mech", ["xoauth2", "oauthbearer"])
def test_msmtp_sends_through_postfix(site, idp, tmp_root, mech):
    d = os.path.join(site.root, "msmtp-" + mech)
    os.makedirs(d, exist_ok=True)
    tokfile = os.path.join(d, "token")
    with open(tokfile, "w") as f:
        f.write(good(idp))
    rc = os.path.join(d, "msmtprc")
    with open(rc, "w") as f:
        f.write("account default\nhost 127.0.0.1\nport %d\ntls on\ntls_starttls on\ntls_trust_file %s\n"
                "auth %s\nuser %s\npasswordeval cat %s\nfrom %s\n"
                % (site.postfix.port, os.path.join(idp.dir, "ca.pem"), mech, USER, tokfile, USER))
    os.chmod(rc, 0o600)
    tag = uuid.uuid4().hex
    msg = "From: %s\nTo: bob@contoso.example\nSubject: msmtp %s\n\nhello\n" % (USER, tag)
    r = subprocess.run(["msmtp", "-C", rc, "bob@contoso.example"], input=msg, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r
    site.postfix.wait_log(r"sasl_method=%s, sasl_username=%s" % (mech.upper(), USER), timeout=20)


# -- refusals, each with its reason ------------------------------------------

NOW = int(time.time())
BAD = [
    ("expired", {"exp": NOW - 600}, {}, "expired"),
    ("not-yet-valid", {"nbf": NOW + 900}, {}, "not yet valid"),
    ("wrong-aud", {"aud": "https://outlook.office365.com"}, {}, "wrong audience"),
    ("wrong-iss", {"iss": "https://evil.example/%s/v2.0" % TID}, {}, "wrong issuer"),
    ("other-tenant", {"tid": "00000000-0000-0000-0000-000000000001",
                      "iss": "https://sts.windows.net/00000000-0000-0000-0000-000000000001/"}, {},
     "tenant not allowed"),
    ("missing-scope", {"scp": "Mail.Read"}, {}, "missing scope"),
    ("alg-none", {}, {"alg": "none"}, "alg none"),
    ("hs256-with-public-key", {}, {"alg": "HS256"}, "alg HS256"),
    ("unknown-kid", {}, {"key": "other"}, "unknown kid"),
]


def bad_token(idp, case):
    _, over, mint, _ = case
    return idp.mint(claims=entra_claims(idp, **over), **mint)


def flipped(token):
    h, p, s = token.split(".")
    return "%s.%s.%s%s" % (h, p, "A" if s[0] != "A" else "B", s[1:])


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_token_refused_with_reason(site, idp, case):
    tok = bad_token(idp, case)
    verdict, text = imap_login(site.ports["imap"], USER, tok)
    assert verdict == "refused", text
    assert "AUTHENTICATIONFAILED" in text
    wait_reason(site, tok, case[3])


def test_bitflipped_signature_refused(site, idp):
    tok = flipped(good(idp))
    assert imap_login(site.ports["imap"], USER, tok)[0] == "refused"
    wait_reason(site, tok, "bad signature")


def test_token_of_another_user_refused(site, idp):
    tok = good(idp, upn="mallory@contoso.example")
    assert imap_login(site.ports["imap"], USER, tok)[0] == "refused"
    wait_reason(site, tok, "token belongs to mallory@contoso.example")


def raw_imap_auth(port, b64, ir=True):
    """AUTHENTICATE XOAUTH2 by hand, the response on the command line (ir)
    or after the "+"; acknowledge an error challenge. Returns the tagged
    answer, or "closed" when the server hangs up."""
    c = socket.create_connection(("127.0.0.1", port), timeout=20)
    f = c.makefile("rb")
    try:
        f.readline()
        c.sendall(b"a AUTHENTICATE XOAUTH2" + ((b" " + b64) if ir else b"") + b"\r\n")
        sent = ir
        while True:
            line = f.readline()
            if not line:
                return "closed"
            if line.startswith(b"+"):
                c.sendall((b"" if sent else b64) + b"\r\n")
                sent = True
            elif line.startswith(b"a "):
                return line.decode().strip()
    except ConnectionResetError:
        return "closed"
    finally:
        c.close()


def test_garbage_base64_is_refused_cleanly(site):
    # Not base64 at all, and base64 of something that is not XOAUTH2.
    for junk in (b"!!!not base64!!!", base64.b64encode(b"user=x\x01nothing here")):
        for ir in (True, False):
            answer = raw_imap_auth(site.ports["imap"], junk, ir)
            assert answer.startswith("a NO") or answer.startswith("a BAD"), answer


def imap_error_challenge(port, mech, message):
    """AUTHENTICATE with one client message (no SASL-IR); the verdict and
    the server's error challenge (decoded), answered with the dummy
    response RFC 7628 3.2.3 asks for (^A; XOAUTH2: empty)."""
    challenges = []

    def respond(challenge):
        if not challenges and not challenge:
            challenges.append(b"")
            return message.encode()
        challenges.append(challenge)
        return b"\x01" if mech == "OAUTHBEARER" else b""

    def login(m):
        return m.authenticate(mech, respond)[1][0].decode()
    verdict = mta.imap_verdict(port, login)[0]
    return verdict, challenges[1:]


# Dovecot 2.3's own mechanisms and exoauth's on 2.4 answer a refusal alike:
# a JSON challenge, then NO once the client has acknowledged it.
@pytest.mark.parametrize("mech,status", [("XOAUTH2", "401"), ("OAUTHBEARER", "invalid_token")])
def test_refusal_is_an_rfc7628_json_challenge(request, idp, mech, status):
    site = site_for(request, mech)
    tok = flipped(good(idp))
    msg = xoauth2(USER, tok) if mech == "XOAUTH2" else mta.oauthbearer(USER, tok)
    verdict, challenges = imap_error_challenge(site.ports["imap"], mech, msg)
    assert verdict == "refused"
    assert len(challenges) == 1, challenges
    error = json.loads(challenges[0])
    assert error["status"] == status


# Messages the mechanism itself refuses: the token (TOKEN) never reaches
# the passdb, which would log its hash. Dovecot 2.3's own OAUTHBEARER
# lets a message without RFC 7628's final ^A through to the passdb
# (exoauthd then refuses the token); exoauth's on 2.4 does not.
MALFORMED = [
    ("no-authzid", "n,,\x01auth=Bearer TOKEN\x01\x01"),
    ("no-gs2-header", "auth=Bearer TOKEN\x01\x01"),
    ("no-final-separator", "n,a=%s,\x01auth=Bearer TOKEN\x01" % USER),
    ("not-bearer", "n,a=%s,\x01auth=Basic TOKEN\x01\x01" % USER),
    ("bad-saslname", "n,a=al=ZZice,\x01auth=Bearer TOKEN\x01\x01"),
]
LENIENT_23 = {"no-final-separator"}


@pytest.mark.parametrize("case", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_oauthbearer_is_refused_before_the_passdb(site, case):
    token = "t" + uuid.uuid4().hex
    verdict, challenges = imap_error_challenge(site.ports["imap"], "OAUTHBEARER", case[1].replace("TOKEN", token))
    assert verdict == "refused"
    assert len(challenges) <= 1
    if mta.dovecot_24() or case[0] not in LENIENT_23:
        assert short_hash(token) not in site.log()


@pytest.mark.parametrize("size", [12000, 40000])
def test_oversized_token_is_refused_without_hang(site, idp, size):
    tok = good(idp) + "A" * size
    b64 = base64.b64encode(xoauth2(USER, tok).encode())
    # Dovecot's login process takes at most 8 KB of SASL response: it logs
    # why and hangs up, with or without SASL-IR.
    too_large = r"(?:Disconnected|Login aborted): Authentication response too large"
    before = len(re.findall(too_large, site.log()))
    for ir in (True, False):
        assert raw_imap_auth(site.ports["imap"], b64, ir) == "closed"
    site.dovecot.wait_log(too_large, count=before + 2, timeout=20)
    # Postfix's smtpd (the shipped 12 KB line limit) refuses it with a
    # 5xx, on the AUTH line or as a 334 continuation: never a 454.
    for ir in (True, False):
        verdict, text = smtp_auth(site.postfix.port, USER, tok, ir=ir)
        assert verdict == "refused" and text.startswith("5"), (ir, text)


def test_key_rotation_accepted_after_one_refetch(site, idp):
    # A fresh exoauthd: the unknown-kid case above has spent the refetch
    # that the flood guard allows for the next few minutes.
    site.daemon.stop()
    site.daemon.start()
    assert imap_login(site.ports["imap"], USER, good(idp))[0] == "ok"
    before = idp.stats()["requests"]["keys"]
    idp.rotate_keys()
    verdict, text = imap_login(site.ports["imap"], USER, good(idp))
    assert verdict == "ok", text
    assert idp.stats()["requests"]["keys"] == before + 1


def test_token_never_in_dovecot_or_postfix_logs(site, idp):
    tok = good(idp)
    assert imap_login(site.ports["imap"], USER, tok)[0] == "ok"
    bad = bad_token(idp, BAD[0])
    imap_login(site.ports["imap"], USER, bad)
    smtp_auth(site.postfix.port, USER, bad)
    logs = site.log() + site.postfix.log_text() + site.daemon.read_log()
    for t in (tok, bad):
        assert t.split(".")[2][:40] not in logs and t.split(".")[1][:40] not in logs


def test_repeated_token_served_from_the_auth_process_cache(site, idp):
    # A client opening several connections with one token asks exoauthd
    # once (cache_ttl, 60 s by default): shown by logging in again while
    # exoauthd is stopped. The cache is keyed by login and token together.
    tok = good(idp)
    assert imap_login(site.ports["imap"], USER, tok)[0] == "ok"
    site.daemon.stop()
    try:
        verdict, text = imap_login(site.ports["imap"], USER, tok)
        assert verdict == "ok", text
        verdict, text = imap_login(site.ports["imap"], "mallory@contoso.example", tok)
        assert verdict == "temporary", text
    finally:
        site.daemon.start()


# -- exoauthd unreachable: temporary, never "wrong password" -----------------

def test_exoauthd_down_is_a_temporary_failure(site, idp):
    tok = good(idp)
    site.daemon.stop()
    try:
        verdict, text = imap_login(site.ports["imap"], USER, tok)
        assert verdict == "temporary" and "Temporary authentication failure" in text, text
        verdict, text = smtp_auth(site.ports["submission"], USER, tok, ir=False)
        assert verdict == "temporary" and text.startswith("454"), text
        r = subprocess.run(CURL + ["--login-options", "AUTH=OAUTHBEARER", "--oauth2-bearer", tok, "-u", USER + ":",
                                   "-v", "pop3://127.0.0.1:%d/" % site.ports["pop3"]], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode != 0 and "-ERR [SYS/TEMP]" in r.stderr, r.stderr[-800:]
        # Postfix's smtpd (xsasl_dovecot) ignores Dovecot's "temp" flag and
        # answers every FAIL with 535: a limitation of Postfix, documented
        # in exoauth-plugins(5). Dovecot itself still knows it is temporary.
        verdict, text = smtp_auth(site.postfix.port, USER, tok)
        assert verdict == "refused" and text.startswith("535"), text
        assert "exoauth: temporary failure: cannot connect to exoauthd" in site.log()
        assert "refused" not in site.log().split("cannot connect to exoauthd", 1)[1]
    finally:
        site.daemon.start()
    assert imap_login(site.ports["imap"], USER, good(idp))[0] == "ok"


# -- second opinion: Dovecot's built-in oauth2 passdb -------------------------

# Where Dovecot's local validation (2.3.19's passdb, 2.4.1's mechanisms,
# both as BuiltinOAuth2 configures them) and exoauthd disagree, and why.
# Every other case must get the same verdict from both.
DIFFERENCES = {
    # Local mode checks signature, alg, kid and times, but no audience
    # (unless active_attribute is abused for it), issuer or tenant, and no
    # scope: these tokens are good RS256 tokens for another resource,
    # issuer or tenant, which only exoauthd refuses.
    "wrong-aud": "Dovecot 2.3 local mode does not check aud",
    "wrong-iss": "Dovecot 2.3 local mode does not check iss",
    "other-tenant": "Dovecot 2.3 local mode has no tenant allow-list",
    "missing-scope": "Dovecot 2.3 local mode does not check scp/roles",
}


@pytest.fixture(scope="module")
def builtin(tmp_root, idp, site):
    b = BuiltinOAuth2(tmp_root, idp)
    try:
        yield b.start()
    finally:
        b.stop()


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_builtin_oauth2_second_opinion(site, builtin, idp, case):
    mta.publish_keys(idp, builtin.keys)
    tok = bad_token(idp, case)
    ours = imap_login(site.ports["imap"], USER, tok)[0]
    theirs = imap_login(builtin.port, USER, tok)[0]
    assert ours == "refused"
    if case[0] in DIFFERENCES:
        assert theirs == "ok", "Dovecot now checks %s: drop it from DIFFERENCES" % case[0]
    else:
        assert theirs == "refused", case[0]


def test_builtin_oauth2_agrees_on_good_and_flipped(site, builtin, idp):
    mta.publish_keys(idp, builtin.keys)
    tok = good(idp)
    assert imap_login(site.ports["imap"], USER, tok)[0] == imap_login(builtin.port, USER, tok)[0] == "ok"
    bad = flipped(good(idp))
    assert imap_login(site.ports["imap"], USER, bad)[0] == imap_login(builtin.port, USER, bad)[0] == "refused"
