# test_relay.py: issue 3 end to end. A private Postfix (the site) relays
# through the built SASL plugin, configured with the conf/postfix snippets,
# to the Exchange Online stand-in (a second Postfix asking a Dovecot whose
# built-in oauth2 passdb checks the fake IdP's tokens). Mail must arrive
# once, intact, with one token request; every failure must defer, never
# bounce, and the mail must go out when the failure is gone.
import os
import shutil
import smtplib
import uuid

import pytest

import mta
from conftest import Daemon, cert_account, TENANT
import idp as fakeidp

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="private Postfix instances need root")


class Site:
    """exoauthd with one app-only account plus the site's Postfix relaying
    to the stand-in with the shipped snippets."""

    # The shipped snippets a Site uses: main.cf part, sasl_passwd, their
    # next hop and the sasl_passwd entry that mailbox/account replace.
    SNIPPETS = ("postfix/main.cf-relay", "postfix/sasl_passwd", "[smtp.office365.com]:587",
                "relay@contoso.example:relay")

    def __init__(self, root, idp, upstream, chroot=True, mailbox="relay@contoso.example", account="relay",
                 extra_accounts="", extra_global="", main_extra="", snippets=SNIPPETS,
                 roles=("SMTP.SendAsApp",), account_section=None, services=""):
        self.root = os.path.join(root, "site-" + uuid.uuid4().hex[:6])
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)
        self.idp = idp
        cid = str(uuid.uuid4())
        cert, key, pem = fakeidp.make_app_cert(self.root, "relay")
        idp.register(tenant=TENANT, client_id=cid, certificate_pem=pem, roles=list(roles))
        self.client_id = cid
        sasl = os.path.join(self.root, "sasl")
        plugins = os.path.join(self.root, "sasl-plugins")
        os.makedirs(sasl)
        os.makedirs(plugins)
        shutil.copy(mta.SASL_PLUGIN, plugins)
        shutil.copy(os.path.join(mta.CONF, "postfix", "smtp.conf"), sasl)
        relay_conf, passwd_conf, next_hop, entry = snippets
        hop = "[127.0.0.1]:%d" % upstream.port
        name = os.path.basename(self.root)
        etc = os.path.join(root, name + "-postfix", "etc")
        relay = mta.snippet(relay_conf, [
            (next_hop, hop),
            ("hash:/etc/postfix/sasl_passwd", "hash:%s/sasl_passwd" % etc),
            ("/etc/postfix/sasl", sasl),
            ("/etc/postfix/exchange_replies", os.path.join(mta.CONF, "postfix", "exchange_replies")),
            ("/etc/ssl/certs/ca-certificates.crt", idp.ca_file)])
        # Test-only lines: load the built plugin, and name the certificate
        # the stand-in presents (the fake IdP's, for localhost).
        test_lines = ("import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C SASL_PATH=%s\n"
                      "smtp_tls_secure_cert_match = localhost\n" % plugins)
        self.postfix = mta.Postfix(root, name + "-postfix", main_extra=relay + test_lines + main_extra,
                                   chroot=chroot, services=services)
        passwd = mta.snippet(passwd_conf, [(next_hop, hop), (entry, "%s:%s" % (mailbox, account))])
        with open(os.path.join(etc, "sasl_passwd"), "w") as f:
            f.write(passwd)
        self.postfix.postmap(os.path.join(etc, "sasl_passwd"))
        sockdir = os.path.join(self.postfix.spool, "exoauth")
        os.makedirs(sockdir)
        os.chmod(sockdir, 0o755)
        listen = "[listen postfix]\npath = %s/exoauthd.sock\nmode = 0666\n\n" % sockdir
        section = account_section(cid, cert, key) if account_section else cert_account("relay", cid, cert, key)
        self.daemon = Daemon(root, idp, section + extra_accounts + listen,
                             extra_global="allow_users = postfix\n" + extra_global)

    def start(self):
        self.daemon.start()
        self.postfix.start()
        return self

    def stop(self):
        self.postfix.stop()
        self.daemon.stop()

    def submit(self, messages, sender="app@site.example", rcpt="bob@contoso.example"):
        """Hand messages to the site's smtpd over one connection (as a scanner would)."""
        c = smtplib.SMTP("127.0.0.1", self.postfix.port, timeout=30)
        try:
            for m in messages:
                c.sendmail(sender, [rcpt], m)
        finally:
            c.quit()

    def token_requests(self):
        return self.idp.stats()["by_client"].get(self.client_id, 0)


def message(i, tag):
    return ("From: app@site.example\r\nTo: bob@contoso.example\r\nSubject: relay test %d\r\n"
            "Message-ID: <%s-%d@site.example>\r\nX-Test-Seq: %d\r\n\r\nline one of %d\r\n"
            "line two with trailing space \r\n.leading dot\r\n" % (i, tag, i, i, i)).encode()


@pytest.fixture
def env(tmp_root, fresh_idp):
    """Started stand-in(s) and sites, stopped afterwards."""
    started = []

    def make(obj):
        started.append(obj)
        return obj.start()
    yield make
    for obj in reversed(started):
        try:
            obj.stop()
        except Exception:  # keep stopping the rest
            pass


def check_delivered(upstream, tag, n):
    msgs = [m for m in upstream.wait_messages(n, timeout=120) if tag in str(m["Message-ID"])]
    seqs = sorted(int(m["X-Test-Seq"]) for m in msgs)
    assert seqs == list(range(n)), "missing or duplicated: %s" % seqs
    for m in msgs:
        i = int(m["X-Test-Seq"])
        assert m["Subject"] == "relay test %d" % i
        body = m.get_content()
        assert body == "line one of %d\nline two with trailing space \n.leading dot\n" % i, repr(body)
        assert "(Authenticated sender: relay@contoso.example)" in str(m["Received"])
    return msgs


@pytest.mark.parametrize("chroot", [True, False], ids=["chroot", "no-chroot"])
def test_200_messages_arrive_once_with_one_token(tmp_root, fresh_idp, env, chroot):
    up = env(mta.ExchangeStandIn(tmp_root, fresh_idp, name="ex-%s" % uuid.uuid4().hex[:6]))
    site = env(Site(tmp_root, fresh_idp, up, chroot=chroot))
    tag = uuid.uuid4().hex[:8]
    site.submit([message(i, tag) for i in range(200)])
    check_delivered(up, tag, 200)
    assert site.token_requests() == 1
    log = site.postfix.log_text()
    assert "status=bounced" not in log
    assert "relay=127.0.0.1" in log and "status=sent" in log
    assert "sasl_method=XOAUTH2, sasl_username=relay@contoso.example" in up.postfix.log_text()
    token = site.daemon.token("relay")[1]["token"]
    assert token not in log and token not in site.daemon.read_log()


NO_CACHE = "smtp_connection_cache_on_demand = no\n"  # every delivery authenticates afresh


def test_oauthbearer_when_the_server_offers_only_it(tmp_root, fresh_idp, env):
    up = env(mta.ExchangeStandIn(tmp_root, fresh_idp, mech="oauthbearer", name="ex-%s" % uuid.uuid4().hex[:6]))
    site = env(Site(tmp_root, fresh_idp, up))
    tag = uuid.uuid4().hex[:8]
    site.submit([message(i, tag) for i in range(5)])
    check_delivered(up, tag, 5)
    assert "sasl_method=OAUTHBEARER, sasl_username=relay@contoso.example" in up.postfix.log_text()


def deferred(site, n):
    """Wait until n deliveries were deferred; none may have bounced."""
    site.postfix.wait_log(r"status=deferred", timeout=60, count=n)
    assert "status=bounced" not in site.postfix.log_text()
    assert len(site.postfix.queue()) >= 1


def relaying(tmp_root, idp, env, first=1):
    """A stand-in and a site (no connection cache) that have already
    relayed `first` messages: (upstream, site, tag)."""
    up = env(mta.ExchangeStandIn(tmp_root, idp, name="ex-%s" % uuid.uuid4().hex[:6]))
    site = env(Site(tmp_root, idp, up, main_extra=NO_CACHE))
    tag = uuid.uuid4().hex[:8]
    site.submit([message(i, tag) for i in range(first)])
    check_delivered(up, tag, first)
    return up, site, tag


def test_exoauthd_down_defers_then_everything_goes_out_once(tmp_root, fresh_idp, env):
    up, site, tag = relaying(tmp_root, fresh_idp, env, first=5)
    site.daemon.stop()
    site.submit([message(i, tag) for i in range(5, 10)])
    deferred(site, 5)  # all five: a flush before the last deferral would not retry it
    assert "exoauthd unavailable" in site.postfix.log_text()
    assert len(up.message_files()) == 5
    site.daemon.start()
    site.postfix.flush()
    check_delivered(up, tag, 10)
    assert len(up.message_files()) == 10
    assert site.postfix.queue() == []


def test_refused_token_is_invalidated_and_the_retry_uses_a_new_one(tmp_root, fresh_idp, env):
    up, site, tag = relaying(tmp_root, fresh_idp, env)
    old_kid = up.publish_keys()[0]
    fresh_idp.rotate_keys()          # new tokens get a new key...
    up.publish_keys()
    up.revoke_kid(old_kid)           # ...and upstream stops trusting the old one
    site.submit([message(1, tag)])
    deferred(site, 1)
    log = site.postfix.log_text()
    assert "server refused token" in log and "token invalidated" in log, log[-2000:]
    assert "dropped" in site.daemon.read_log() or site.token_requests() == 1
    site.postfix.flush()
    check_delivered(up, tag, 2)
    assert site.token_requests() == 2
    assert "status=bounced" not in site.postfix.log_text()


def test_idp_failures_do_not_matter_while_the_token_is_valid(tmp_root, fresh_idp, env):
    up, site, tag = relaying(tmp_root, fresh_idp, env)
    fresh_idp.fault(endpoint="token", mode="status", status=503)
    site.submit([message(1, tag)])
    fresh_idp.fault(endpoint="token", mode="429", retry_after=60)
    site.submit([message(2, tag)])
    check_delivered(up, tag, 3)
    assert site.token_requests() == 1


def test_mailbox_without_account_is_deferred_with_a_clear_line(tmp_root, fresh_idp, env):
    up = env(mta.ExchangeStandIn(tmp_root, fresh_idp, name="ex-%s" % uuid.uuid4().hex[:6]))
    site = env(Site(tmp_root, fresh_idp, up, account="", main_extra=NO_CACHE))
    before = site.token_requests()   # exoauthd may warm its account's token at start
    site.submit([message(0, uuid.uuid4().hex[:8])])
    deferred(site, 1)
    assert ("mailbox relay@contoso.example has no exoauthd account: put it in the password field of "
            "smtp_sasl_password_maps") in site.postfix.log_text()
    assert site.token_requests() == before and up.message_files() == []
