# test_senders.py: issue 5, sender-dependent relay. One app registration
# (SMTP.SendAsApp) and one exoauthd account ("relay"); the site's Postfix,
# configured with conf/postfix/main.cf-relay + main.cf-senders and
# sasl_passwd-senders, with exoauthd's mailbox_map from
# conf/mailboxes-senders, relays each sender's mail to the Exchange stand-in
# authenticated as that sender's own mailbox. A sender whose mailbox the
# map does not allow is deferred with a clear line and holds nobody else
# up; a sender without an entry goes out as the relayhost entry's mailbox.
#
# The stand-in accepts any mailbox name with an app-only token (like
# Exchange's SendAsApp), so "authenticated as itself" is shown by what the
# stand-in recorded for each message: its smtpd's sasl_username and the
# "(Authenticated sender: ...)" of its Received header.
import os
import re
import smtplib
import uuid

import pytest

import mta
from test_relay import Site, env  # noqa: F401 (env is a fixture)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="private Postfix instances need root")

ALICE, BOB = "alice@contoso.example", "bob@contoso.example"
MALLORY = "mallory@contoso.example"   # in sasl_passwd, not in mailbox_map
CAROL = "carol@contoso.example"       # in neither: the relayhost entry applies
RCPT = "team@fabrikam.example"


class SenderSite(Site):
    """Site with the shipped sender-dependent snippets: main.cf-senders
    after main.cf-relay, sasl_passwd-senders as the password table and
    mailboxes-senders as exoauthd's mailbox_map, each verbatim but for
    paths and the next hop. sasl_extra: test-only table lines."""

    def __init__(self, root, idp, upstream, sasl_extra="", main_extra="", services=""):
        mailboxes = os.path.join(root, "mailboxes-" + uuid.uuid4().hex[:6])
        with open(mailboxes, "w") as f:
            f.write(mta.snippet("mailboxes-senders"))
        super().__init__(root, idp, upstream, extra_global="mailbox_map = %s\n" % mailboxes,
                         main_extra=mta.snippet("postfix/main.cf-senders") + main_extra)
        table = os.path.join(self.postfix.etc, "sasl_passwd")
        with open(table, "w") as f:
            f.write(mta.snippet("postfix/sasl_passwd-senders", [
                ("[smtp.office365.com]:587", "[127.0.0.1]:%d" % upstream.port)]) + sasl_extra)
        self.postfix.postmap(table)
        if services:
            with open(os.path.join(self.postfix.etc, "master.cf"), "a") as f:
                f.write(services)

    def submit_as(self, senders, tag):
        """One smtpd connection; message i from senders[i]. Returns the Message-IDs."""
        ids = []
        c = smtplib.SMTP("127.0.0.1", self.postfix.port, timeout=30)
        try:
            for i, sender in enumerate(senders):
                mid = "<%s-%d@site.example>" % (tag, i)
                c.sendmail(sender, [RCPT], sender_message(sender, mid, i))
                ids.append(mid)
        finally:
            c.quit()
        return ids


def sender_message(sender, mid, i):
    return ("From: %s\r\nTo: %s\r\nSubject: sender test %d\r\nMessage-ID: %s\r\nX-Test-Sender: %s\r\n\r\n"
            "from %s\r\n" % (sender, RCPT, i, mid, sender, sender)).encode()


def upstream_identities(up):
    """Message-ID -> sasl_username, from the stand-in's Postfix log (its
    smtpd's client= line and its cleanup's message-id= line per queue id)."""
    log = up.postfix.log_text()
    user = dict(re.findall(r" ([0-9A-F]{6,}): client=\S+, sasl_method=XOAUTH2, sasl_username=(\S+)", log))
    return {mid: user.get(qid) for qid, mid in re.findall(r" ([0-9A-F]{6,}): message-id=(<[^>]*>)", log)}


def arrived(up, ids, expect):
    """Wait until the messages ids arrived; check each was authenticated as
    expect(sender) in both the Received header and the stand-in's log."""
    mta.wait_until(lambda: set(ids) <= {str(m["Message-ID"]) for m in up.messages()}, 60,
                   "%d messages upstream" % len(ids), lambda: up.postfix.log_text())
    got = {}
    for m in up.messages():
        got.setdefault(str(m["Message-ID"]), []).append(m)
    # the log line of a delivery can trail the Maildir file by a moment
    mta.wait_until(lambda: all(upstream_identities(up).get(i) for i in ids), 30,
                   "sasl_username of every message in the stand-in's log", up.postfix.log_text)
    users = upstream_identities(up)
    for mid in ids:
        assert len(got[mid]) == 1, "%s arrived %d times" % (mid, len(got[mid]))
        m = got[mid][0]
        want = expect(str(m["X-Test-Sender"]))
        assert "(Authenticated sender: %s)" % want in str(m["Received"]), (mid, str(m["Received"]))
        assert users[mid] == want, (mid, users[mid], want)


def test_each_sender_arrives_authenticated_as_its_own_mailbox(tmp_root, fresh_idp, env):  # noqa: F811
    up = env(mta.ExchangeStandIn(tmp_root, fresh_idp, name="ex-%s" % uuid.uuid4().hex[:6]))
    # Cache every connection to the relayhost, one delivery at a time, so
    # that sessions are reused: a cached session must still never carry
    # another sender's mail.
    site = env(SenderSite(tmp_root, fresh_idp, up, main_extra=(
        "smtp_connection_cache_destinations = [127.0.0.1]:%d\n"
        "smtp_destination_concurrency_limit = 1\n"
        "smtp_tls_connection_reuse = yes\n" % up.port),
        services="tlsproxy  unix  -       -       y       -       0       tlsproxy\n"))
    tag = uuid.uuid4().hex[:8]
    senders = [ALICE, BOB] * 6 + [CAROL, ALICE, ALICE, BOB, BOB]
    ids = site.submit_as(senders, tag)
    arrived(up, ids, lambda s: "relay@contoso.example" if s == CAROL else s)
    assert site.token_requests() == 1      # one app-only token serves every mailbox
    log = site.postfix.log_text()
    assert "status=deferred" not in log and "status=bounced" not in log
    assert "conn_use=" in log, "no cached connection was reused:\n" + log[-3000:]
    # Upstream, each connection (one smtpd process each: max_use = 1) saw
    # a single identity, and some carried several messages.
    per_conn = {}
    for pid, user in re.findall(r"/smtpd\[(\d+)\]: [0-9A-F]+: client=\S+, sasl_method=XOAUTH2, sasl_username=(\S+)",
                                up.postfix.log_text()):
        per_conn.setdefault(pid, []).append(user)
    assert all(len(set(users)) == 1 for users in per_conn.values()), per_conn
    assert max(len(users) for users in per_conn.values()) > 1, per_conn


def test_a_mailbox_the_map_does_not_allow_is_deferred_alone(tmp_root, fresh_idp, env):  # noqa: F811
    up = env(mta.ExchangeStandIn(tmp_root, fresh_idp, name="ex-%s" % uuid.uuid4().hex[:6]))
    # A site that listed a sender in sasl_passwd but not in mailbox_map.
    site = env(SenderSite(tmp_root, fresh_idp, up, sasl_extra="%s %s:relay\n" % (MALLORY, MALLORY)))
    tag = uuid.uuid4().hex[:8]
    # A burst from mallory alone first: without main.cf-senders' failed
    # cohort limit Postfix would now suspend the relayhost for everybody.
    site.submit_as([MALLORY] * 8, tag + "m")
    site.postfix.wait_log(r"to=<%s>.*status=deferred" % re.escape(RCPT), timeout=60, count=8)
    senders = [ALICE, MALLORY, BOB, MALLORY, ALICE, BOB]
    ids = site.submit_as(senders, tag)
    arrived(up, [mid for mid, s in zip(ids, senders) if s != MALLORY], lambda s: s)
    site.postfix.wait_log(r"to=<%s>.*status=deferred" % re.escape(RCPT), timeout=60, count=10)
    log = site.postfix.log_text()
    line = ("warning: SASL authentication failure: exoauth: no token for account relay (mailbox %s): "
            "not_mapped: mailbox_map does not let account relay act as %s" % (MALLORY, MALLORY))
    assert log.count(line) >= 10, log[-3000:]
    assert "status=bounced" not in log and "delivery temporarily suspended" not in log, log[-3000:]
    assert "dsn=4.7.0, status=deferred (SASL authentication failed" in log
    queued = site.postfix.queue()
    assert [q["sender"] for q in queued] == [MALLORY] * 10, queued
    for q in queued:
        # Postfix's own text for the plugin's SASL_TRYAGAIN; the reason is the line above
        assert "SASL authentication failed" in q["recipients"][0]["delay_reason"], q
    assert all(str(m["X-Test-Sender"]) != MALLORY for m in up.messages())
    assert "sasl_username=" + MALLORY not in up.postfix.log_text()
    assert "TOKEN refused: mailbox_map does not let account relay act as " + MALLORY in site.daemon.read_log()
    assert site.token_requests() == 1
