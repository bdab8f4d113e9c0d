# test_ctl.py: exoauthctl against a running exoauthd and the fake IdP:
# status (table, --json, --nagios and its exit status), token (hash only
# unless --show), doctor's verdicts, and exoauthd's refusal of a bad
# configuration with file, line and reason.
import json
import os
import pwd
import re
import subprocess
import tempfile
import time

import pytest

import idp as fakeidp
from conftest import EXOAUTHD, Daemon, cert_account, cert_daemon, secret_account

CID = "44444444-2222-3333-4444-000000000001"


@pytest.fixture
def daemon(tmp_root, fresh_idp, daemons):
    """A daemon with one certificate account."""
    dm = cert_daemon(tmp_root, fresh_idp, CID)
    daemons.append(dm)
    return dm


def test_token_shows_hash_not_token(daemon):
    out = daemon.ctl("token", "app")
    assert out.returncode == 0, out.stderr
    s, f = daemon.token()
    assert f["hash"] in out.stdout and f["token"] not in out.stdout
    shown = daemon.ctl("token", "app", "--show")
    assert f["token"] in shown.stdout


def test_status_lists_accounts(daemon):
    daemon.token()
    out = daemon.ctl("status")
    assert out.returncode == 0, out.stderr
    assert "app" in out.stdout and "valid" in out.stdout and "client_credentials" in out.stdout
    assert "all well" in out.stdout


def test_status_json_and_nagios_when_all_is_well(daemon):
    s, f = daemon.token()
    out = daemon.ctl("status", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["health"] == "ok" and doc["problems"] == []
    (acct,) = doc["accounts"]
    assert acct["name"] == "app" and acct["state"] == "valid" and acct["hash"] == f["hash"]
    assert isinstance(acct["expires"], int) and f["token"] not in out.stdout
    out = daemon.ctl("status", "--nagios")
    assert out.returncode == 0
    assert out.stdout.startswith("EXOAUTH OK - 1 accounts, all well | accounts=1 valid=1 problems=0"), out.stdout


def test_status_warns_of_a_certificate_near_its_end(tmp_root, fresh_idp, daemons):
    from cryptography.hazmat.primitives import serialization
    d = tempfile.mkdtemp(prefix="near-", dir=tmp_root)
    key = fakeidp.fake_idp.new_key()
    pem = fakeidp.fake_idp.make_cert("exoauth test app near its end", key, days=10).public_bytes(
        serialization.Encoding.PEM)
    cert, keyfile = os.path.join(d, "app.crt"), os.path.join(d, "app.key")
    fakeidp.fake_idp.write(cert, pem)
    fakeidp.fake_idp.write(keyfile, fakeidp.fake_idp.pem_key(key), 0o600)
    cid = "44444444-2222-3333-4444-000000000003"
    fresh_idp.register(tenant="contoso.example", client_id=cid, certificate_pem=pem.decode())
    dm = Daemon(tmp_root, fresh_idp, cert_account("app", cid, cert, keyfile)).start()
    daemons.append(dm)
    assert dm.token()[0] == "OK"  # the token is fine; the certificate will not be for long
    out = dm.ctl("status", "--nagios")
    assert out.returncode == 1 and out.stdout.startswith("EXOAUTH WARNING - app certificate expires in"), out.stdout
    assert re.search(r"expires in (9|10) days: make a new one", out.stdout), out.stdout
    doc = json.loads(dm.ctl("status", "--json").stdout)
    assert doc["health"] == "warning" and doc["accounts"][0]["credential_expires"] > time.time()


def test_status_judges_a_client_secret_by_its_secret_expires(tmp_root, fresh_idp, daemons):
    secret = os.path.join(tempfile.mkdtemp(prefix="sec-", dir=tmp_root), "app.secret")
    with open(secret, "w") as f:
        f.write("s-app\n")
    os.chmod(secret, 0o600)
    cid = "44444444-2222-3333-4444-000000000004"
    fresh_idp.register(tenant="contoso.example", client_id=cid, secret="s-app")
    for days, code, word in ((5, 1, "WARNING"), (-2, 2, "CRITICAL")):
        end = time.strftime("%Y-%m-%d", time.gmtime(time.time() + days * 86400))
        acct = secret_account("app", cid, secret) + "secret_expires = %s\n" % end
        dm = Daemon(tmp_root, fresh_idp, acct).start()
        daemons.append(dm)
        assert dm.token()[0] == "OK"  # the IdP does not know: the administrator wrote the date down
        out = dm.ctl("status", "--nagios")
        assert out.returncode == code and out.stdout.startswith("EXOAUTH %s - app client secret " % word), out.stdout
        assert "add a new secret to the app registration" in out.stdout
        dm.stop()


def test_status_says_broken_when_exoauthd_is_down(daemon):
    daemon.stop()
    for how, want in (("--nagios", "EXOAUTH CRITICAL - exoauthd does not answer"), ("--json", '"critical"')):
        out = daemon.ctl("status", how)
        assert out.returncode == 2 and want in out.stdout, (how, out.stdout)
    assert daemon.ctl("status").returncode == 2
    assert daemon.ctl("status", "--bogus").returncode == 3


def test_status_says_broken_when_an_account_has_no_token(tmp_root, fresh_idp, daemons):
    fresh_idp.fault(endpoint="token", mode="entra_error", aadsts=700027, status=401)
    dm = cert_daemon(tmp_root, fresh_idp, "44444444-2222-3333-4444-000000000002")
    daemons.append(dm)
    deadline = time.monotonic() + 20
    while True:  # the first token request fails at start; wait until status shows it
        out = dm.ctl("status", "--nagios")
        if out.returncode != 0:
            break
        assert time.monotonic() < deadline, out.stdout
        time.sleep(0.2)  # polls exoauthd's state, bounded by the deadline
    # a permanent IdP error is backed off too: no token, so broken now
    assert out.returncode == 2 and out.stdout.startswith("EXOAUTH CRITICAL - app "), out.stdout
    assert "AADSTS700027" in out.stdout and "upload this certificate" in out.stdout
    table = dm.ctl("status")
    assert table.returncode == 2 and "broken now:" in table.stdout and "  app " in table.stdout


def test_doctor_all_ok(daemon):
    out = daemon.ctl("doctor")
    assert out.returncode == 0, out.stdout + out.stderr
    for what in ("config", "state_dir", "credential app", "socket", "idp", "token app"):
        assert any(l.startswith("OK") and what in l for l in out.stdout.splitlines()), (what, out.stdout)


def test_doctor_reports_daemon_down_with_fix(daemon):
    daemon.stop()
    out = daemon.ctl("doctor")
    assert out.returncode == 1
    assert any(l.startswith("FAIL") and "socket" in l for l in out.stdout.splitlines())
    assert "fix: systemctl start exoauthd" in out.stdout


def test_unknown_token_account_exit_status(daemon):
    out = daemon.ctl("token", "nosuch")
    assert out.returncode == 1 and "unknown_account" in out.stderr


@pytest.mark.parametrize("text,line,reason", [
    ("[global]\nstate_dir = /tmp\nbogus = 1\n", 3, "unknown key"),
    ("[account a]\ntenant = t\n", 1, "client_id"),
    ("[idp]\ncloud = mars\n", 2, "cloud"),
])
def test_bad_config_refused_with_file_line_reason(tmp_root, text, line, reason):
    path = os.path.join(tmp_root, "bad.conf")
    with open(path, "w") as f:
        f.write(text)
    out = subprocess.run([EXOAUTHD, "-c", path], capture_output=True, text=True, timeout=10)
    assert out.returncode != 0
    assert "%s:%d:" % (path, line) in out.stderr and reason in out.stderr, out.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to test the privilege drop")
def test_root_start_drops_to_configured_user(tmp_root, fresh_idp, daemons):
    cid = "44444444-2222-3333-4444-000000000002"
    dm = cert_daemon(tmp_root, fresh_idp, cid, "user = nobody\n", start=False)
    nobody = pwd.getpwnam("nobody")
    os.chown(dm.state, nobody.pw_uid, nobody.pw_gid)
    dm.start()
    daemons.append(dm)
    with open("/proc/%d/status" % dm.proc.pid) as f:
        ids = {l.split(":")[0]: l.split()[1:] for l in f if l.startswith(("Uid", "Gid"))}
    assert ids["Uid"] == [str(nobody.pw_uid)] * 4, ids
    assert ids["Gid"] == [str(nobody.pw_gid)] * 4, ids
    assert dm.token()[0] == "OK"
    assert os.stat(dm.socket).st_uid == 0  # bound as root before the drop
