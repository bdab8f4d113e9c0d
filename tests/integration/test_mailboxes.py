# test_mailboxes.py: mailbox_map, the policy of which local user reaches
# which Exchange mailbox through which account (issue 5): routes for exact
# users and domain rewrites, default deny, an account kept to the
# mailboxes the map gives it, and a map naming an unknown account refused
# at start.
import os
import uuid

import pytest

from conftest import Daemon, secret_account

MAP = """# local user           mailbox                  account
alice                  alice@contoso.example    imap
@example.local         @contoso.example         relay
"""


def secret_file(tmp_root, value):
    path = os.path.join(tmp_root, "secret-" + uuid.uuid4().hex[:8])
    with open(path, "w") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def accounts(tmp_root, fresh_idp):
    """Two app-only accounts, imap and relay, with client secrets."""
    text = ""
    for name in ("imap", "relay"):
        cid = str(uuid.uuid4())
        fresh_idp.register(tenant="contoso.example", client_id=cid, secret="s-" + name,
                           roles=["IMAP.AccessAsApp", "SMTP.SendAsApp"])
        text += secret_account(name, cid, secret_file(tmp_root, "s-" + name))
    return text


def mapped_daemon(tmp_root, idp, daemons, accounts, text=MAP, start=True):
    path = os.path.join(tmp_root, "mailboxes-" + uuid.uuid4().hex[:8])
    with open(path, "w") as f:
        f.write(text)
    d = Daemon(tmp_root, idp, accounts, extra_global="mailbox_map = %s" % path)
    daemons.append(d)
    return d.start(check=start)


def ask(d, **fields):
    c = d.connect()
    try:
        return c.request("1", "TOKEN", **fields)
    finally:
        c.close()


def test_users_are_routed_to_their_own_mailbox(tmp_root, fresh_idp, daemons, accounts):
    d = mapped_daemon(tmp_root, fresh_idp, daemons, accounts)
    s, f = ask(d, user="Alice")
    assert s == "OK" and f["mailbox"] == "alice@contoso.example" and f["account"] == "imap", f
    s, f = ask(d, user="carol@example.local")
    assert s == "OK" and f["mailbox"] == "carol@contoso.example" and f["account"] == "relay", f


def test_unmapped_users_get_nothing(tmp_root, fresh_idp, daemons, accounts):
    d = mapped_daemon(tmp_root, fresh_idp, daemons, accounts)
    # exoauthd warms both accounts' tokens at start; asking for them joins
    # those fetches, so the IdP's counters are still from here on.
    assert ask(d, account="relay", mailbox="anyone@contoso.example")[0] == "OK"
    assert ask(d, account="imap", mailbox="alice@contoso.example")[0] == "OK"
    before = fresh_idp.stats()
    for user in ("mallory", "mallory@evil.example", "@example.local", "alice@contoso.example"):
        s, f = ask(d, user=user)
        assert s == "FAIL" and f["kind"] == "perm" and f["code"] == "not_mapped", (user, f)
    assert fresh_idp.stats() == before  # refused before any token was asked for
    assert "mailbox_map has no mailbox for user mallory" in d.read_log()


def test_an_account_acts_only_as_its_mailboxes(tmp_root, fresh_idp, daemons, accounts):
    d = mapped_daemon(tmp_root, fresh_idp, daemons, accounts)
    assert ask(d, account="relay", mailbox="anyone@contoso.example")[0] == "OK"
    assert ask(d, account="imap", mailbox="alice@contoso.example")[0] == "OK"
    for account, mailbox in (("imap", "bob@contoso.example"), ("relay", "x@fabrikam.example"),
                             ("relay", "not-an-address")):
        s, f = ask(d, account=account, mailbox=mailbox)
        assert s == "FAIL" and f["code"] == "not_mapped", (account, mailbox, f)
        assert "token" not in f


def test_without_a_map_accounts_serve_and_users_are_refused(tmp_root, fresh_idp, daemons, accounts):
    d = Daemon(tmp_root, fresh_idp, accounts).start()
    daemons.append(d)
    assert ask(d, account="relay", mailbox="anyone@fabrikam.example")[0] == "OK"
    s, f = ask(d, user="alice")
    assert s == "FAIL" and f["code"] == "not_mapped", f
    s, f = ask(d)
    assert s == "ERROR" and f["reason"] == "missing account or user", f


def test_a_map_naming_an_unknown_account_stops_the_start(tmp_root, fresh_idp, daemons, accounts):
    d = mapped_daemon(tmp_root, fresh_idp, daemons, accounts, MAP + "bob bob@contoso.example ghost\n",
                      start=False)
    d.proc.wait(timeout=10)
    assert d.proc.returncode != 0
    assert "bob names unknown account ghost" in d.read_log()
