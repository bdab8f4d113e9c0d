# test_delegated.py: delegated accounts: device-code sign-in through
# exoauthctl login (approved, declined, expired), the refresh-token grant
# with rotation, the 0600 store written before a rotated token is used,
# and a store that survives kill -9 at any moment of a rotation.
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import EXOAUTHCTL, Daemon, delegated_account

CID = "33333333-2222-3333-4444-%012d"


def store_token(d, account="user"):
    """The refresh token in the daemon's store (checks the file format)."""
    path = os.path.join(d.state, account + ".rt")
    st = os.stat(path)
    assert st.st_mode & 0o777 == 0o600
    with open(path) as f:
        magic, token, rest = f.read().split("\n")
    assert magic == "exoauth-refresh-token 1" and token and rest == ""
    return token


def start_login(d, account="user"):
    """Run exoauthctl login in the background; return it after PENDING."""
    p = subprocess.Popen([EXOAUTHCTL, "-c", d.conf, "login", account], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline()
    return p, first


@pytest.fixture
def delegated(tmp_root, fresh_idp, daemons, request):
    """A daemon with one delegated public-client account."""
    n = request.node.name.__hash__() % 10**9
    client = CID % abs(n)
    fresh_idp.register(tenant="contoso.example", client_id=client, public=True,
                       user="alice@contoso.example")
    fresh_idp.settings(device_interval=1, device_expires_in=30)
    d = Daemon(tmp_root, fresh_idp, delegated_account("user", client)).start()
    daemons.append(d)
    d.client = client
    return d


def test_not_signed_in_is_permanent_with_hint(delegated):
    s, f = delegated.token("user")
    assert s == "FAIL" and f["code"] == "no_refresh_token" and "exoauthctl login" in f["reason"]


def test_login_approved_stores_refresh_token(delegated, fresh_idp):
    p, first = start_login(delegated)
    assert "enter the code" in first.lower() or "code" in first.lower(), first
    fresh_idp.device(action="approve")
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "signed in" in out
    rt = store_token(delegated)
    assert fresh_idp.check_refresh_token(rt)
    s, f = delegated.token("user")
    assert s == "OK", f
    assert rt not in delegated.read_log()


def test_login_declined(delegated, fresh_idp):
    p, first = start_login(delegated)
    fresh_idp.device(action="decline")
    out, err = p.communicate(timeout=30)
    assert p.returncode != 0 and "declined" in err, err
    assert not os.path.exists(os.path.join(delegated.state, "user.rt"))


def test_login_expired(delegated, fresh_idp):
    p, first = start_login(delegated)
    fresh_idp.device(action="expire")
    out, err = p.communicate(timeout=30)
    assert p.returncode != 0 and "expired" in err, err


def test_login_needs_admin(delegated):
    if os.geteuid() != 0:
        pytest.skip("needs root to run exoauthctl as another uid")
    with open(delegated.conf) as f:
        conf = f.read()
    with open(delegated.conf, "w") as f:
        f.write(conf.replace("[global]\n", "[global]\nallow_users = nobody\n"))
    delegated.proc.send_signal(signal.SIGHUP)
    out = subprocess.run([EXOAUTHCTL, "-s", delegated.socket, "login", "user"], user="nobody",
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "not_allowed" in out.stderr, out


def sign_in(d, idp):
    """Complete a device-code sign-in."""
    p, _ = start_login(d)
    idp.device(action="approve")
    p.communicate(timeout=30)
    assert p.returncode == 0


def test_refresh_rotates_and_stores_before_use(delegated, fresh_idp):
    sign_in(delegated, fresh_idp)
    rt1 = store_token(delegated)
    c = delegated.connect()
    s, f = c.request("1", "TOKEN", account="user")
    s, g = c.request("2", "INVALIDATE", account="user", hash=f["hash"])
    assert g["dropped"] == "yes"
    s, h = c.request("3", "TOKEN", account="user")
    assert s == "OK"
    rt2 = store_token(delegated)
    assert rt2 != rt1 and fresh_idp.check_refresh_token(rt2)
    assert fresh_idp.stats()["grants"].get("refresh_token", 0) == 1


def test_store_survives_kill_9_during_rotation(tmp_root, delegated, fresh_idp):
    sign_in(delegated, fresh_idp)
    d = delegated
    rng = random.Random(7)
    d.stop()
    fresh_idp.settings(token_lifetime=2)
    for i in range(12):
        fresh_idp.fault(endpoint="token", mode="slow", delay=rng.uniform(0.0, 0.3), count=-1)
        d.start()
        # the start-up refresh is under way: kill at a random point of it
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(d.proc.pid, signal.SIGKILL)
        d.proc.wait(timeout=10)
        d.logf.close()
        rt = store_token(d)
        assert fresh_idp.check_refresh_token(rt), "iteration %d: stored token invalid" % i
    fresh_idp.fault(endpoint="token", mode="none")
    fresh_idp.settings(token_lifetime=3600)
    d.start()
    s, f = d.token("user")
    assert s == "OK", f
    leftovers = [n for n in os.listdir(d.state) if n.startswith(".tmp-")]
    assert leftovers == []


def test_abandoned_login_stops_polling(delegated, fresh_idp):
    p, first = start_login(delegated)
    assert "code" in first.lower()
    p.kill()
    p.wait(timeout=10)
    end = time.monotonic() + 10
    while "sign-in abandoned" not in delegated.read_log():
        assert time.monotonic() < end, "the daemon kept polling for a gone client"
        time.sleep(0.05)
    polls = fresh_idp.stats()["grants"].get("urn:ietf:params:oauth:grant-type:device_code", 0)
    fresh_idp.device(action="approve")
    s, f = delegated.token("user")
    assert s == "FAIL" and f["code"] == "no_refresh_token"
    assert fresh_idp.stats()["grants"].get("urn:ietf:params:oauth:grant-type:device_code", 0) == polls
