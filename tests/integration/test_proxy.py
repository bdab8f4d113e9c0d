# test_proxy.py: issue 5 end to end. Old IMAP and POP3 clients the project
# did not write (imaplib, poplib, curl, openssl s_client) log in with a
# local user name and password to the site's Dovecot, configured with
# conf/dovecot/96-exoauth-proxy.conf verbatim but for paths and the
# upstream's address. Dovecot checks the password itself (passwd-file),
# then the built passdb plugin (mode=proxy) gets the user's mailbox and an
# app-only token from exoauthd (certificate credential, IMAP.AccessAsApp /
# POP.AccessAsApp, mailbox_map) and Dovecot's login proxy logs in upstream
# with XOAUTH2. Upstream is mta.ImapStandIn: a second Dovecot speaking only
# implicit TLS >= 1.2 and AUTH=XOAUTH2, checking tokens with its own oauth2
# passdb against the fake IdP's keys, over real Maildirs that the tests read
# on disk.
import base64
import os
import poplib
import re
import ssl
import subprocess
import time
import uuid

import imaplib
import pytest

import idp as fakeidp
import mta
from conftest import Daemon, TENANT, cert_account

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="private Dovecot instances need root")

PASSWORDS = {"alice": "alice-local-pw", "bob": "bob-local-pw", "carol@example.local": "carol-local-pw"}
# bob has a local password but no mailbox: the map must stop him.
MAILBOX_MAP = """# local user            mailbox                  account
alice                   alice@contoso.example    imap
@example.local          @contoso.example         imap
"""
ALICE = "alice@contoso.example"
CURL = ["curl", "-sS", "--max-time", "20"]
TOKENS = set()   # every upstream token a test saw, for the log checks


def hashed_password(password):
    """A {SHA512-CRYPT} line the way the snippet's comment says to make it."""
    r = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", password], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r
    return r.stdout.strip()


# Test only: the TLS version and cipher of each login (2.3 %k).
LOGIN_LOG_FORMAT_23 = "login_log_format_elements = user=<%u> method=%m rip=%r lip=%l mpid=%e %c %k session=<%{session}>"
LOGIN_LOG_FORMAT_24 = ("login_log_format_elements = user=<%{user}> method=%{mechanism} rip=%{remote_ip} "
                       "lip=%{local_ip} mpid=%{mail_pid} %{secured} %{ssl_security} session=<%{session}>")


# A login's log line: "Login:" on Dovecot 2.3, "Logged in:" on 2.4.
LOGGED_IN = r"(?:Login|Logged in): user="


def proxy_target(host, imap, pop3, tls):
    """The shipped snippet's upstream lines, pointed at the stand-in."""
    if mta.dovecot_24():
        return ("exoauth_proxy_host = outlook.office365.com\n  exoauth_imap_port = 993\n"
                "  exoauth_pop3_port = 995\n  exoauth_proxy_ssl = yes",
                "exoauth_proxy_host = %s\n  exoauth_imap_port = %d\n  exoauth_pop3_port = %d\n"
                "  exoauth_proxy_ssl = %s" % (host, imap, pop3, tls))
    return ("proxy_host=outlook.office365.com imap_port=993 pop3_port=995 proxy_ssl=yes",
            "proxy_host=%s imap_port=%d pop3_port=%d proxy_ssl=%s" % (host, imap, pop3, tls))


def trusted_ca(path):
    """The shipped snippet's trust for Exchange's certificate, as path."""
    if mta.dovecot_24():
        return ("ssl_client_ca_file = /etc/ssl/certs/ca-certificates.crt", "ssl_client_ca_file = " + path)
    return ("ssl_ca = </etc/ssl/certs/ca-certificates.crt", "ssl_ca = <" + path)


class ProxySite:
    """exoauthd with one app-only certificate account and a mailbox_map, and
    the site's Dovecot with the shipped 96 snippet proxying to upstream."""

    def __init__(self, root, idp, upstream, ca_file=None, extra="", starttls=False):
        self.root = os.path.join(root, "proxy-" + uuid.uuid4().hex[:6])
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)
        self.idp = idp
        self.upstream = upstream
        self.client_id = str(uuid.uuid4())
        cert, key, pem = fakeidp.make_app_cert(self.root, "imap")
        idp.register(tenant=TENANT, client_id=self.client_id, certificate_pem=pem,
                     roles=["IMAP.AccessAsApp", "POP.AccessAsApp"])
        mailboxes = os.path.join(self.root, "mailboxes")
        with open(mailboxes, "w") as f:
            f.write(MAILBOX_MAP)
        self.daemon = Daemon(self.root, idp, cert_account("imap", self.client_id, cert, key),
                             extra_global="allow_users = dovecot root\nmailbox_map = %s\n" % mailboxes)
        users = os.path.join(self.root, "users")
        with open(users, "w") as f:
            f.write("".join("%s:%s\n" % (u, hashed_password(p)) for u, p in PASSWORDS.items()))
        os.chmod(users, 0o644)
        self.ports = {"imap": mta.free_port(), "pop3": mta.free_port(), "imaps": mta.free_port()}
        if starttls:
            host, imap, pop3, tls = "127.0.0.1", upstream.imap_plain_port, upstream.pop3_plain_port, "starttls"
        else:
            host, imap, pop3, tls = "127.0.0.1", upstream.imap_port, upstream.pop3_port, "yes"
        snippet = mta.snippet("dovecot/96-exoauth-proxy.conf", [
            ("/run/exoauth/exoauthd.sock", self.daemon.socket),
            ("/etc/dovecot/users", users),
            proxy_target(host, imap, pop3, tls),
            trusted_ca(ca_file or idp.ca_file),
            # The documented block for old devices, for the loopback
            # network every test client comes from.
            ("#remote 192.168.10.0/24 {\n#  ssl_min_protocol = TLSv1\n#  ssl_cipher_list = DEFAULT:@SECLEVEL=0\n#}",
             "remote 127.0.0.0/8 {\n  ssl_min_protocol = TLSv1\n  ssl_cipher_list = DEFAULT:@SECLEVEL=0\n}"),
        ])
        name = os.path.basename(self.root)
        self.dovecot = mta.Dovecot(self.root, name + "-dovecot", "\n".join([
            "protocols = imap pop3",
            "auth_verbose = yes",
            LOGIN_LOG_FORMAT_24 if mta.dovecot_24() else LOGIN_LOG_FORMAT_23,
            snippet,
            "userdb {\n  driver = static\n  args = uid=nobody gid=nogroup home=%s/home/%%u\n}" % self.root,
            "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}",
            "service imap-login {\n  inet_listener imap {\n    port = %d\n  }\n"
            "  inet_listener imaps {\n    port = %d\n  }\n}" % (self.ports["imap"], self.ports["imaps"]),
            "service pop3-login {\n  inet_listener pop3 {\n    port = %d\n  }\n"
            "  inet_listener pop3s {\n    port = 0\n  }\n}" % self.ports["pop3"],
            extra,
        ]), ssl_dir=idp.dir)

    def start(self):
        self.daemon.start()
        self.dovecot.start()
        return self

    def stop(self):
        self.dovecot.stop()
        self.daemon.stop()

    def log(self):
        return self.dovecot.log_text()

    def exoauthd_requests(self):
        """exoauthd's request counter (STATUS counts itself)."""
        c = self.daemon.connect()
        try:
            status, fields = c.request("s", "STATUS")
            assert status == "OK", fields
            return int(fields["requests"])
        finally:
            c.close()

    def current_token(self, user="alice"):
        """What exoauthd hands the proxy for user now: (token, hash, expires)."""
        c = self.daemon.connect()
        try:
            status, f = c.request("t", "TOKEN", user=user)
            assert status == "OK", f
            TOKENS.add(f["token"])
            return f["token"], f["hash"], int(f["expires"])
        finally:
            c.close()

    def token_requests(self):
        return self.idp.stats()["by_client"].get(self.client_id, 0)


@pytest.fixture(scope="module")
def upstream(tmp_root, idp):
    up = mta.ImapStandIn(tmp_root, idp, name="exo-imap-" + uuid.uuid4().hex[:6])
    try:
        yield up.start()
    finally:
        up.stop()


@pytest.fixture(scope="module")
def site(tmp_root, idp, upstream):
    idp.settings(token_lifetime=3600)
    s = ProxySite(tmp_root, idp, upstream)
    try:
        yield s.start()
    finally:
        s.stop()


def upstream_activity(up):
    """Connections the stand-in's login processes logged (any outcome)."""
    return len(re.findall(r"(?:imap|pop3)-login: ", up.log_text()))


def message(tag, body="hello from upstream"):
    return ("From: bob@contoso.example\r\nTo: %s\r\nSubject: proxy test %s\r\n"
            "Message-ID: <%s@contoso.example>\r\n\r\n%s %s\r\n" % (ALICE, tag, tag, body, tag)).encode()


def files_with(up, tag, mailbox=ALICE):
    found = []
    for p in up.message_files(mailbox):
        with open(p, "rb") as f:
            if tag.encode() in f.read():
                found.append(p)
    return found


def imap(site):
    return imaplib.IMAP4("127.0.0.1", site.ports["imap"], timeout=20)


def imap_login(site, user, password):
    """LOGIN and LOGOUT: 'ok', 'refused' or 'temporary', with the text."""
    return mta.imap_verdict(site.ports["imap"], lambda m: m.login(user, password)[1][0].decode())


def pop3_login(site, user, password):
    p = poplib.POP3("127.0.0.1", site.ports["pop3"], timeout=20)
    try:
        p.user(user)
        p.pass_(password)
        p.quit()
        return "ok", ""
    except poplib.error_proto as e:
        text = str(e)
        return ("temporary" if "[SYS/TEMP]" in text else "refused"), text
    finally:
        p.close()


# -- IMAP ----------------------------------------------------------------

def test_imaplib_reads_appends_and_deletes_upstream(site, upstream):
    tag = uuid.uuid4().hex[:10]
    upstream.put_message(ALICE, message(tag))
    m = imap(site)
    try:
        typ, data = m.login("alice", PASSWORDS["alice"])
        assert typ == "OK", data
        assert m.select("INBOX")[0] == "OK"
        typ, data = m.uid("SEARCH", None, "SUBJECT", tag)
        uids = data[0].split()
        assert typ == "OK" and len(uids) == 1, data
        typ, data = m.uid("FETCH", uids[0], "(BODY[])")
        assert typ == "OK" and b"hello from upstream " + tag.encode() in data[0][1], data
        # APPEND: the message lands in the upstream Maildir.
        new_tag = uuid.uuid4().hex[:10]
        typ, data = m.append("INBOX", None, None, message(new_tag, "appended through the proxy"))
        assert typ == "OK", data
        assert len(files_with(upstream, new_tag)) == 1
        # Delete the first one: its file goes from the upstream Maildir.
        assert files_with(upstream, tag)
        assert m.uid("STORE", uids[0], "+FLAGS", r"(\Deleted)")[0] == "OK"
        assert m.expunge()[0] == "OK"
        assert files_with(upstream, tag) == []
        assert len(files_with(upstream, new_tag)) == 1
        m.logout()
        site.current_token()   # the token the proxy used, for the log checks
    finally:
        try:
            m.shutdown()
        except OSError:
            pass
    # 2.3 names the upstream address, 2.4 says "remote host".
    site.dovecot.wait_log(r"imap-login: Info: proxy\(alice,127\.0\.0\.1:%d\): Started proxying to "
                          r"(?:<127\.0\.0\.1>|remote host) as user alice@contoso\.example" % upstream.imap_port,
                          timeout=10)
    assert re.search(r"imap-login: Info: " + LOGGED_IN
                     + r"<alice@contoso\.example>, method=XOAUTH2, [^\n]*TLSv1\.[23] ", upstream.log_text())


def test_curl_imap_with_user_and_password(site, upstream):
    tag = uuid.uuid4().hex[:10]
    upstream.put_message(ALICE, message(tag))
    base = "imap://127.0.0.1:%d/INBOX" % site.ports["imap"]
    auth = ["-u", "alice:" + PASSWORDS["alice"]]
    r = subprocess.run(CURL + auth + ["-X", "UID SEARCH SUBJECT " + tag, base], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r
    uids = re.findall(r"^\* SEARCH (\d+)\s*$", r.stdout, re.M)
    assert len(uids) == 1, r.stdout
    r = subprocess.run(CURL + auth + [base + ";UID=" + uids[0]], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "hello from upstream " + tag in r.stdout, r
    # Upload (APPEND) with curl -T.
    new_tag = uuid.uuid4().hex[:10]
    path = os.path.join(site.root, "curl-" + new_tag)
    with open(path, "wb") as f:
        f.write(message(new_tag, "uploaded by curl"))
    r = subprocess.run(CURL + auth + ["-T", path, base], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    assert len(files_with(upstream, new_tag)) == 1
    # A wrong password: curl fails, and the login never left the site.
    r = subprocess.run(CURL + ["-u", "alice:wrong", base], capture_output=True, text=True, timeout=30)
    assert r.returncode == 67, r   # CURLE_LOGIN_DENIED


# -- POP3 ----------------------------------------------------------------

def test_poplib_lists_retrieves_and_deletes(site, upstream):
    tag = uuid.uuid4().hex[:10]
    upstream.put_message(ALICE, message(tag))
    p = poplib.POP3("127.0.0.1", site.ports["pop3"], timeout=20)
    try:
        p.user("alice")
        assert p.pass_(PASSWORDS["alice"]).startswith(b"+OK")
        count, size = p.stat()
        listing = p.list()[1]
        assert count >= 1 and len(listing) == count, listing
        found = None
        for line in listing:
            n = int(line.split()[0])
            lines = p.retr(n)[1]
            if ("hello from upstream " + tag).encode() in lines:
                found = n
        assert found is not None, "message %s not retrieved" % tag
        p.dele(found)
        assert p.quit().startswith(b"+OK")
        site.current_token()
    finally:
        p.close()
    assert files_with(upstream, tag) == []
    assert re.search(r"pop3-login: Info: " + LOGGED_IN + r"<alice@contoso\.example>, method=XOAUTH2, ",
                     upstream.log_text())
    site.dovecot.wait_log(r"pop3-login: Info: proxy\(alice,127\.0\.0\.1:%d\): Started proxying" % upstream.pop3_port,
                          timeout=10)


def test_curl_pop3_lists_and_retrieves(site, upstream):
    tag = uuid.uuid4().hex[:10]
    upstream.put_message(ALICE, message(tag))
    base = "pop3://127.0.0.1:%d/" % site.ports["pop3"]
    auth = ["-u", "alice:" + PASSWORDS["alice"]]
    r = subprocess.run(CURL + auth + [base], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    numbers = [line.split()[0] for line in r.stdout.splitlines() if line.strip()]
    assert numbers, r.stdout
    bodies = []
    for n in numbers:
        r = subprocess.run(CURL + auth + [base + n], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r
        bodies.append(r.stdout)
    assert any("hello from upstream " + tag in b for b in bodies)


# -- refusals and failures ----------------------------------------------

def test_wrong_local_password_is_refused_locally(site, upstream):
    # 2.3: passwd-file(alice,...): ...; 2.4: auth(alice,...)<session>: Info: passwd-file: ...
    mismatch = (r"(?:passwd-file\(alice,127\.0\.0\.1,[^)]*\)"
                r"|auth\(alice,127\.0\.0\.1,[^)]*\)<[^>]*>: Info: passwd-file): Password mismatch")
    before_mismatches = len(re.findall(mismatch, site.log()))
    before_requests = site.exoauthd_requests()
    before_upstream = upstream_activity(upstream)
    verdict, text = imap_login(site, "alice", "not-the-password")
    assert verdict == "refused" and "AUTHENTICATIONFAILED" in text, text
    verdict, text = pop3_login(site, "alice", "not-the-password")
    assert verdict == "refused" and "[AUTH]" in text, text
    verdict, text = imap_login(site, "mallory", "anything")   # no such local user
    assert verdict == "refused", text
    site.dovecot.wait_log(mismatch, count=before_mismatches + 2, timeout=10)
    # Only the STATUS itself reached exoauthd, nothing reached upstream.
    assert site.exoauthd_requests() == before_requests + 1
    assert upstream_activity(upstream) == before_upstream


def test_unmapped_user_is_refused(site, upstream):
    before_upstream = upstream_activity(upstream)
    verdict, text = imap_login(site, "bob", PASSWORDS["bob"])
    assert verdict == "refused" and "AUTHENTICATIONFAILED" in text, text
    verdict, text = pop3_login(site, "bob", PASSWORDS["bob"])
    assert verdict == "refused", text
    site.dovecot.wait_log(r"(?:auth: Info: exoauth\(bob,[^)]*\)|auth\(bob,[^)]*\)<[^>]*>: Info: exoauth-proxy)"
                          r": exoauth: no Exchange mailbox for this user: "
                          r"mailbox_map has no mailbox for user bob", count=2, timeout=10)
    assert "mailbox_map has no mailbox for user bob" in site.daemon.read_log()
    assert upstream_activity(upstream) == before_upstream
    # ...and was not logged in to the site itself either.
    assert not re.search(r"imap\(bob\)|pop3\(bob\)|" + LOGGED_IN + "<bob>", site.log())
    # The domain rewrite of the map works through the proxy as well.
    assert imap_login(site, "carol@example.local", PASSWORDS["carol@example.local"])[0] == "ok"
    assert re.search(LOGGED_IN + r"<carol@contoso\.example>, method=XOAUTH2", upstream.log_text())


def test_exoauthd_down_is_a_temporary_failure(site, upstream):
    before_upstream = upstream_activity(upstream)
    site.daemon.stop()
    try:
        verdict, text = imap_login(site, "alice", PASSWORDS["alice"])
        assert verdict == "temporary" and "Temporary" in text, text
        verdict, text = pop3_login(site, "alice", PASSWORDS["alice"])
        assert verdict == "temporary", text
        assert "exoauth: temporary failure: cannot connect to exoauthd" in site.log()
        assert upstream_activity(upstream) == before_upstream
        # A wrong password is still "wrong", not "temporary".
        assert imap_login(site, "alice", "nope")[0] == "refused"
    finally:
        site.daemon.start()
    assert imap_login(site, "alice", PASSWORDS["alice"])[0] == "ok"


def test_untrusted_upstream_certificate_is_a_temporary_failure(tmp_root, idp, upstream):
    # A site whose ssl_ca does not lead to the stand-in's certificate: the
    # proxy must refuse the TLS handshake before anything is sent upstream.
    d = os.path.join(tmp_root, "other-ca-" + uuid.uuid4().hex[:6])
    os.makedirs(d)
    other_ca = fakeidp.make_app_cert(d, "unrelated")[0]
    s = ProxySite(tmp_root, idp, upstream, ca_file=other_ca, extra="login_proxy_max_reconnects = 0")
    s.start()
    try:
        logins = len(upstream.logins())
        verdict, text = imap_login(s, "alice", PASSWORDS["alice"])
        assert verdict == "temporary", text
        s.dovecot.wait_log(r"imap-login: Error: proxy\(alice,[^)]*\): [^\n]*Received invalid SSL certificate: "
                           r"unable to get local issuer certificate", timeout=10)
        assert len(upstream.logins()) == logins
        TOKENS.add(s.current_token()[0])
        assert TOKENS and all(t.split(".")[2][:40] not in s.log() for t in TOKENS)
    finally:
        s.stop()


def test_starttls_upstream(tmp_root, idp):
    # proxy_ssl=starttls: plain connection to Exchange's 143/110, then
    # STARTTLS/STLS, verified like implicit TLS, before the token is sent.
    up = mta.ImapStandIn(tmp_root, idp, name="exo-imap-stls-" + uuid.uuid4().hex[:6], starttls=True).start()
    try:
        s = ProxySite(tmp_root, idp, up, starttls=True).start()
        try:
            assert imap_login(s, "alice", PASSWORDS["alice"])[0] == "ok"
            assert pop3_login(s, "alice", PASSWORDS["alice"])[0] == "ok"
            logins = up.logins("imap") + up.logins("pop3")
            assert len(logins) == 2, up.log_text()[-2000:]
            for line in logins:
                assert "lip=127.0.0.1, mpid=" in line and re.search(r", TLS, TLSv1\.[23] with cipher", line), line
            for service, port in (("imap", up.imap_plain_port), ("pop3", up.pop3_plain_port)):
                s.dovecot.wait_log(r"%s-login: Info: proxy\(alice,127\.0\.0\.1:%d\): Started proxying"
                                   % (service, port), timeout=10)
            TOKENS.add(s.current_token()[0])
        finally:
            s.stop()
    finally:
        up.stop()


def upstream_xoauth2(up, user, token):
    """Log in straight to the stand-in (TLS verified with the test CA)."""
    ctx = ssl.create_default_context(cafile=up.ca_file)
    m = imaplib.IMAP4_SSL("127.0.0.1", up.imap_port, ssl_context=ctx, timeout=20)
    try:
        m.authenticate("XOAUTH2", lambda _: mta.xoauth2(user, token).encode())
        m.logout()
        return "ok"
    except imaplib.IMAP4.error as e:
        return "refused: %s" % e
    finally:
        try:
            m.shutdown()
        except OSError:
            pass


def test_expired_upstream_token_next_login_gets_a_fresh_one(site, upstream, idp):
    lifetime = 6
    before = site.token_requests()
    idp.settings(token_lifetime=lifetime)
    site.daemon.stop()   # forget the hour-long token: the next one lives 6 s
    site.daemon.start()
    try:
        m = imap(site)
        try:
            assert m.login("alice", PASSWORDS["alice"])[0] == "OK"
            assert m.select("INBOX")[0] == "OK"
            first, first_hash, expires = site.current_token()
            assert expires - time.time() <= lifetime
            # The session stays open while its token expires (the clock is
            # the condition here: a token's life is wall-clock time).
            mta.wait_until(lambda: time.time() > expires + 1, lifetime + 5, "the first token to expire")
            assert upstream_xoauth2(upstream, ALICE, first).startswith("refused"), "stand-in took an expired token"
            # IMAP authenticates once: the open session goes on.
            assert m.noop()[0] == "OK" and m.select("INBOX")[0] == "OK"
            m.logout()
        finally:
            try:
                m.shutdown()
            except OSError:
                pass
        logins = len(upstream.logins())
        verdict, text = imap_login(site, "alice", PASSWORDS["alice"])
        assert verdict == "ok", text
        assert len(upstream.logins()) == logins + 1
        # One request for the first token, at least one more for a fresh
        # one (exoauthd refreshes ahead: at half-life for short tokens).
        assert site.token_requests() >= before + 2, "exoauthd did not ask the IdP for a new token"
        fresh, fresh_hash, fresh_expires = site.current_token()
        assert fresh_hash != first_hash and fresh_expires > expires
    finally:
        idp.settings(token_lifetime=3600)
        site.daemon.stop()
        site.daemon.start()


# -- TLS 1.0 on the local side, TLS >= 1.2 upstream ------------------------

def s_client(port, version, ca, commands):
    return subprocess.run(["openssl", "s_client", version, "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile", ca,
                           "-verify_return_error", "-connect", "127.0.0.1:%d" % port, "-brief", "-ign_eof"],
                          input=commands, capture_output=True, text=True, timeout=30)


def test_tls10_device_reaches_upstream_over_tls12_or_later(site, upstream, idp):
    logins = len(upstream.logins())
    r = s_client(site.ports["imaps"], "-tls1", idp.ca_file,
                 "a LOGIN alice %s\r\nb SELECT INBOX\r\nc LOGOUT\r\n" % PASSWORDS["alice"])
    assert "Protocol version: TLSv1\n" in r.stderr, r.stderr
    assert re.search(r"^a OK ", r.stdout, re.M) and re.search(r"^b OK \[READ-WRITE\]", r.stdout, re.M), r.stdout
    assert re.search(r"^c OK ", r.stdout, re.M), r.stdout
    # Locally TLS 1.0...
    site.dovecot.wait_log(r"imap-login: Info: proxy\(alice,[^)]*\): Started proxying [^\n]*TLS, TLSv1 with cipher",
                          timeout=10)
    # ...upstream TLS 1.2 or 1.3, the only versions the stand-in speaks.
    new = upstream.logins()[logins:]
    assert len(new) == 1 and re.search(r"method=XOAUTH2, [^\n]*TLS, TLSv1\.[23] with cipher", new[0]), new
    # The snippet's remote block lowers the floor for its network only.
    for remote, floor in (("127.0.0.1", "TLSv1"), ("10.0.0.1", "TLSv1.2")):
        # 2.3 resolves the login service's view; 2.4 has no service filter.
        service = [] if mta.dovecot_24() else ["-f", "service=imap-login"]
        r = site.dovecot.doveconf("-f", "remote=" + remote, *service, "-h", "ssl_min_protocol")
        assert r.stdout.strip() == floor, (remote, r)
    for version in ("-tls1", "-tls1_1"):
        r = s_client(upstream.imap_port, version, idp.ca_file, "a LOGOUT\r\n")
        assert r.returncode != 0 and "Protocol version" not in r.stderr, (version, r.stderr)


# -- no token in any log -----------------------------------------------------

def test_token_never_in_any_log(site, upstream):
    assert imap_login(site, "alice", PASSWORDS["alice"])[0] == "ok"
    assert pop3_login(site, "alice", PASSWORDS["alice"])[0] == "ok"
    site.current_token()
    logs = {"site dovecot": site.log(), "stand-in": upstream.log_text(), "exoauthd": site.daemon.read_log()}
    assert TOKENS
    for token in TOKENS:
        header, payload, signature = token.split(".")
        sasl = base64.b64encode(mta.xoauth2(ALICE, token).encode()).decode()
        for name, text in logs.items():
            for piece in (payload[:40], signature[:40], sasl[-60:]):
                assert piece not in text, "token material in the %s log" % name
