# test_reload.py: a SIGHUP reload is all or nothing. A refused reload (a
# credential that breaks the file rule, an unknown admin user) leaves
# exoauthd running on the previous configuration, whole: the accounts it
# served, their cached tokens and the rights of its peers; nothing of the
# refused file takes effect, and the daemon does not crash later.
import os
import signal
import time
import uuid

import pytest

from conftest import Daemon, connect_as, secret_account
from test_mailboxes import secret_file


def accounts(tmp_root, idp, names):
    """[account] sections with client secrets: (text, {name: secret path})."""
    text, files = "", {}
    for name in names:
        cid = str(uuid.uuid4())
        idp.register(tenant="contoso.example", client_id=cid, secret="s-" + name,
                     roles=["SMTP.SendAsApp"])
        files[name] = secret_file(tmp_root, "s-" + name)
        text += secret_account(name, cid, files[name])
    return text, files


def reload_and_wait(d, needle):
    """SIGHUP d and wait (bounded) for needle in its log, after what it had."""
    before = len(d.read_log())
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while needle not in d.read_log()[before:]:
        assert d.proc.poll() is None, d.read_log()[-1500:]
        assert time.monotonic() < deadline, d.read_log()[-1500:]
        time.sleep(0.05)  # polls the log file, bounded by the deadline


def test_refused_reload_keeps_every_account_running(tmp_root, fresh_idp, daemons):
    text, files = accounts(tmp_root, fresh_idp, ["a", "b"])
    d = Daemon(tmp_root, fresh_idp, text).start()
    daemons.append(d)
    s, first = d.token("a")
    assert s == "OK"
    os.chmod(files["b"], 0o640)  # a careless administrator
    reload_and_wait(d, "reload refused")
    c = d.connect()
    assert c.request("1", "STATUS")[0] == "OK"  # walks every account
    s, again = d.token("a")
    assert s == "OK" and again["hash"] == first["hash"]  # its cache survived
    assert d.token("b")[0] == "OK"
    assert d.proc.poll() is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as postfix")
def test_refused_reload_applies_nothing_of_the_new_file(tmp_root, fresh_idp, daemons):
    text, _ = accounts(tmp_root, fresh_idp, ["relay", "ceo"])
    relay, ceo = text.split("[account ceo]")
    d = Daemon(tmp_root, fresh_idp, relay, extra_global="allow_users = postfix\n").start()
    daemons.append(d)
    with open(d.conf, "a") as f:  # a new account, a [peer], and a typo
        f.write("\n[account ceo]" + ceo + "\n[peer pf]\nusers = postfix\ncommands = TOKEN\naccounts = relay\n")
    with open(d.conf) as f:
        conf = f.read()
    with open(d.conf, "w") as f:
        f.write(conf.replace("allow_users = postfix\n", "allow_users = postfix\nadmin_users = nosuchuser-x\n"))
    reload_and_wait(d, "reload refused")
    c = connect_as(d, "postfix")
    s, f = c.request("1", "TOKEN", account="ceo", mailbox="ceo@contoso.example")
    assert s == "FAIL" and f["code"] == "unknown_account", f
    assert c.request("2", "TOKEN", account="relay", mailbox="x@contoso.example")[0] == "OK"
