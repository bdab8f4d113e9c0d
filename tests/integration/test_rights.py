# test_rights.py: per-peer rights (issue 11, item 4). A peer may connect
# when it is allowed, and then use only the commands and accounts its
# [peer] sections give it; without [peer] sections postfix gets TOKEN by
# account and INVALIDATE, dovecot VALIDATE and TOKEN by user, anyone else
# only PING, and the start log says what to add. Under mailbox_map a
# TOKEN must say for which mailbox. Peers are real uids (SO_PEERCRED).
import grp
import os
import signal
import uuid

import pytest

from conftest import Daemon, connect_as, parse
from test_mailboxes import accounts  # noqa: F401  (fixture: app-only accounts imap and relay)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as other uids")

MAP = "alice alice@contoso.example imap\n"


def start(tmp_root, idp, daemons, accounts, extra, mailbox_map=False):
    """A daemon with both accounts and the given [global] lines / sections."""
    if mailbox_map:
        path = os.path.join(tmp_root, "map-" + uuid.uuid4().hex[:8])
        with open(path, "w") as f:
            f.write(MAP)
        extra += "mailbox_map = %s\n" % path
    d = Daemon(tmp_root, idp, accounts, extra_global=extra)
    daemons.append(d)
    return d.start()


def ask(d, who, command, groups=(), **fields):
    """One request from user who: (status, fields)."""
    c = connect_as(d, who, groups=groups)
    try:
        return c.request("1", command, **fields)
    finally:
        c.close()


def refused(answer):
    """True for FAIL code=not_allowed."""
    s, f = answer
    return s == "FAIL" and f["kind"] == "perm" and f["code"] == "not_allowed"


BUILTIN = "allow_users = postfix dovecot daemon\n"


def test_dovecot_cannot_fetch_the_relay_token(tmp_root, fresh_idp, daemons, accounts):
    d = start(tmp_root, fresh_idp, daemons, accounts, BUILTIN)
    s, f = ask(d, "dovecot", "TOKEN", account="relay", mailbox="ceo@contoso.example")
    assert refused((s, f)) and "token_by" in f["reason"], f
    assert ask(d, "postfix", "TOKEN", account="relay", mailbox="ceo@contoso.example")[0] == "OK"


def test_builtin_rights_of_postfix_and_dovecot(tmp_root, fresh_idp, daemons, accounts):
    d = start(tmp_root, fresh_idp, daemons, accounts, BUILTIN, mailbox_map=True)
    assert refused(ask(d, "postfix", "VALIDATE", token="x.y.z"))
    assert refused(ask(d, "postfix", "TOKEN", user="alice"))
    assert refused(ask(d, "postfix", "STATUS"))
    assert not refused(ask(d, "dovecot", "VALIDATE", token="x.y.z"))  # not configured, but allowed
    s, f = ask(d, "dovecot", "TOKEN", user="alice")
    assert s == "OK" and f["account"] == "imap", f
    assert refused(ask(d, "dovecot", "INVALIDATE", account="imap", hash="00"))
    assert ask(d, "postfix", "PING")[0] == "OK"


def test_other_allowed_users_get_ping_and_a_message_saying_what_to_add(tmp_root, fresh_idp, daemons,
                                                                        accounts):
    d = start(tmp_root, fresh_idp, daemons, accounts, BUILTIN)
    assert ask(d, "daemon", "PING")[0] == "OK"
    s, f = ask(d, "daemon", "TOKEN", account="relay")
    assert refused((s, f)) and "[peer]" in f["reason"] and "commands" in f["reason"], f
    log = d.read_log()
    assert "no [peer] section" in log and "Add [peer NAME] sections" in log
    assert "built-in rule for postfix: PING TOKEN INVALIDATE" in log


PEERS = """
[peer scanner-app]
users = daemon
commands = TOKEN
accounts = relay

[peer proxy]
groups = %s
commands = VALIDATE TOKEN
token_by = user
accounts = imap
"""


def extra_group():
    """A group daemon is not in by default, for the groups= rule."""
    return grp.getgrnam("mail")


def test_peer_sections_grant_exactly_what_they_say(tmp_root, fresh_idp, daemons, accounts):
    g = extra_group()
    d = start(tmp_root, fresh_idp, daemons, accounts + PEERS % g.gr_name, "")
    assert ask(d, "daemon", "TOKEN", account="relay")[0] == "OK"
    s, f = ask(d, "daemon", "TOKEN", account="imap")
    assert refused((s, f)) and "account imap" in f["reason"], f
    assert refused(ask(d, "daemon", "INVALIDATE", account="relay", hash="00"))
    assert refused(ask(d, "daemon", "VALIDATE", token="x.y.z"))
    # [peer] sections replace the built-in rules: postfix is not named any more
    c = connect_as(d, "postfix", greet=False)
    assert parse(c.line())[1]["reason"] == "not allowed"
    c.close()
    # a supplementary group adds the proxy's rights to daemon's own
    assert not refused(ask(d, "daemon", "VALIDATE", token="x.y.z", groups=[g.gr_gid]))
    assert ask(d, "daemon", "TOKEN", account="relay", groups=[g.gr_gid])[0] == "OK"


def test_peer_naming_an_unknown_account_is_refused_at_start(tmp_root, fresh_idp, daemons, accounts):
    text = "[peer x]\nusers = daemon\ncommands = TOKEN\naccounts = nosuch\n"
    d = Daemon(tmp_root, fresh_idp, accounts + text)
    daemons.append(d)
    d.start(check=False)
    assert d.proc.wait(timeout=15) != 0
    assert "[peer x] names unknown account \"nosuch\"" in d.read_log()


def test_under_mailbox_map_a_token_names_its_mailbox(tmp_root, fresh_idp, daemons, accounts):
    d = start(tmp_root, fresh_idp, daemons, accounts, BUILTIN, mailbox_map=True)
    s, f = ask(d, "postfix", "TOKEN", account="imap")
    assert s == "FAIL" and f["code"] == "not_mapped" and "needs mailbox=" in f["reason"], f
    assert ask(d, "postfix", "TOKEN", account="imap", mailbox="alice@contoso.example")[0] == "OK"
    assert ask(d, "root", "TOKEN", account="imap")[0] == "OK"  # the administrator's exoauthctl token


def test_reload_takes_rights_away_from_open_connections(tmp_root, fresh_idp, daemons, accounts):
    d = start(tmp_root, fresh_idp, daemons, accounts + PEERS % extra_group().gr_name, "")
    c = connect_as(d, "daemon")
    assert c.request("1", "TOKEN", account="relay")[0] == "OK"
    with open(d.conf) as f:
        text = f.read()
    with open(d.conf, "w") as f:
        f.write(text.replace("commands = TOKEN\naccounts = relay", "commands = STATUS"))
    d.proc.send_signal(signal.SIGHUP)
    for i in range(200):  # the reload is seen once an answer says so
        s, f = c.request("r%d" % i, "TOKEN", account="relay")
        if s == "FAIL":
            break
    assert refused((s, f)), f
    assert c.request("s", "STATUS")[0] == "OK"


def test_login_through_a_peer_section_is_kept_to_its_accounts(tmp_root, fresh_idp, daemons, accounts):
    text = "[peer helpdesk]\nusers = daemon\ncommands = LOGIN\naccounts = imap\n"
    d = start(tmp_root, fresh_idp, daemons, accounts + text, "")
    s, f = ask(d, "daemon", "LOGIN", account="relay")
    assert refused((s, f)) and "account relay" in f["reason"], f
    # imap is allowed: the request gets past the rights (and fails later:
    # it is an app-only account, not a delegated one)
    s, f = ask(d, "daemon", "LOGIN", account="imap")
    assert f.get("code") != "not_allowed", f
