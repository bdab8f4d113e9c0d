# test_metrics.py: exoauthd's metrics (issue 14, deliverable 1) through
# METRICS and `exoauthctl metrics`: a scripted scenario with the fake
# Entra ID (tokens served, validations, an outage with 503s, a recovery)
# whose figures are asserted exactly, the output checked by `promtool
# check metrics` (skipped without promtool), never a token or a token
# hash in it, the textfile
# written atomically, and the METRICS right: a monitoring peer reads
# figures and nothing else, a peer without the right is refused.
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import EXOAUTHCTL, TENANT, Daemon, cert_account, connect_as, delegated_account, parse

import idp as fakeidp

TID = "9188040d-6c67-4c5b-b112-36a304b66dad"
CID = "66666666-2222-3333-4444-000000000014"
VALIDATE = ("[validate]\ntenant = %s\naudience = api://exoauth\nscopes = Mail.Login\ntenants = %s\n"
            % (TENANT, TID))
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$')


def metrics_of(text):
    """The samples of an exposition: {'name{labels}': value}."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        out[m.group(1)] = float(m.group(2))
    return out


def scrape(conn):
    """METRICS on an open connection: the exposition text."""
    conn.send_raw(b"m\tMETRICS\n")
    lines = []
    for _ in range(100000):
        status, fields, rid = parse(conn.line())
        assert rid == "m"
        if status != "METRIC":
            assert status == "OK", (status, fields)
            return "".join(l + "\n" for l in lines)
        lines.append(fields["text"])
    raise AssertionError("METRICS answer did not end")


def promtool_check(text):
    """`promtool check metrics` on the text: (returncode, its complaints)."""
    if not shutil.which("promtool"):
        # Debian's prometheus package (promtool's only home) pulls in 316 MiB
        # with libjs-moment-timezone; install-deps leaves it out until that
        # is decided. apt-get install prometheus to run these checks.
        pytest.skip("promtool missing (Debian package prometheus)")
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def claims(idp, **over):
    """Claims of a good delegated token for the site's API."""
    now = int(time.time())
    c = {"aud": "api://exoauth", "iss": "%s/%s/v2.0" % (idp.authority, TID), "tid": TID, "iat": now,
         "nbf": now - 5, "exp": now + 3600, "scp": "Mail.Login", "upn": "alice@contoso.example", "ver": "2.0"}
    c.update(over)
    return c


def status_of(conn):
    """STATUS on conn: (the app account's fields, the daemon's fields)."""
    conn.send_raw(b"s\tSTATUS\n")
    account = None
    for _ in range(100):
        status, fields, _rid = parse(conn.line())
        if status == "ACCOUNT" and fields["name"] == "app":
            account = fields
        elif status == "OK":
            return account, fields
    raise AssertionError("STATUS did not end")


@pytest.fixture
def md(tmp_root, fresh_idp, daemons):
    """A daemon with a certificate account 'app' and [validate]."""
    d = tempfile.mkdtemp(prefix="certs-", dir=tmp_root)
    cert, key, pem = fakeidp.make_app_cert(d, "app")
    fresh_idp.register(tenant=TENANT, client_id=CID, certificate_pem=pem)
    dm = Daemon(tmp_root, fresh_idp, cert_account("app", CID, cert, key) + VALIDATE)
    daemons.append(dm)
    return dm.start()


def serve_and_validate(md, idp, conn):
    """Three tokens served, one good and two refused client tokens: the hash."""
    hashes = set()
    for i in range(3):
        s, f = conn.request("t%d" % i, "TOKEN", account="app")
        assert s == "OK", f
        hashes.add(f["hash"])
    assert len(hashes) == 1
    for tok, want in ((idp.mint(claims=claims(idp)), "OK"),
                      (idp.mint(claims=claims(idp, exp=int(time.time()) - 600)), "FAIL"),
                      (idp.mint(claims=claims(idp, aud="https://outlook.office365.com")), "FAIL")):
        assert conn.request("v", "VALIDATE", token=tok)[0] == want
    return hashes.pop()


def outage(md, idp, conn, old_hash):
    """Upstream rejects the token while the IdP answers 503: two TOKENs fail."""
    idp.fault(endpoint="token", mode="status", status=503, count=-1)
    s, f = conn.request("i", "INVALIDATE", account="app", hash=old_hash)
    assert f["dropped"] == "yes", f
    for i in range(2):
        s, f = conn.request("o%d" % i, "TOKEN", account="app")
        assert s == "FAIL" and f["code"] == "idp_unavailable", f
    m = metrics_of(scrape(conn))
    assert m['exoauth_account_state{account="app",state="valid"}'] == 0
    assert m['exoauth_account_state{account="app",state="backoff"}'] + \
        m['exoauth_account_state{account="app",state="refreshing"}'] == 1
    assert m['exoauth_token_expires_in_seconds{account="app"}'] == 0
    assert m['exoauth_idp_requests_total{account="app",outcome="temp"}'] >= 1


def recover(md, idp, conn):
    """The IdP answers again; wait (bounded) for the background retry."""
    idp.fault(endpoint="token", mode="none")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        account, _ = status_of(conn)
        if account["state"] == "valid":
            return
        time.sleep(0.1)
    raise AssertionError("no recovery within 60 s: %r" % account)


def test_metrics_follow_tokens_an_outage_and_a_recovery(md, fresh_idp):
    conn = md.connect()
    old_hash = serve_and_validate(md, fresh_idp, conn)
    outage(md, fresh_idp, conn, old_hash)
    recover(md, fresh_idp, conn)
    s, f = conn.request("n", "TOKEN", account="app")
    assert s == "OK" and f["hash"] != old_hash
    token, new_hash = f["token"], f["hash"]
    refused = connect_as(md, "nobody", greet=False)
    assert refused.line() == "*\tERROR\treason=not allowed"
    refused.close()
    account, daemon = status_of(conn)
    before = int(time.time())
    r = md.ctl("metrics")
    after = int(time.time())
    assert r.returncode == 0, r.stderr
    text = r.stdout
    for secret in (token, new_hash, old_hash, token[:40]):
        assert secret not in text
    m = metrics_of(text)
    stats = fresh_idp.stats()
    expected = {
        'exoauth_build_info{version="%s"}' % daemon["version"]: 1,
        'exoauth_account_state{account="app",state="valid"}': 1,
        'exoauth_account_state{account="app",state="backoff"}': 0,
        'exoauth_account_state{account="app",state="failed"}': 0,
        'exoauth_idp_requests_total{account="app",outcome="ok"}': 2,
        'exoauth_idp_requests_total{account="app",outcome="temp"}': stats["faults_served"],
        'exoauth_idp_requests_total{account="app",outcome="perm"}': 0,
        'exoauth_idp_requests_total{account="app",outcome="throttled"}': 0,
        'exoauth_idp_request_duration_seconds_count': 2 + stats["faults_served"],
        'exoauth_tokens_served_total{account="app"}': 4,
        'exoauth_tokens_rejected_total{account="app"}': 1,
        'exoauth_token_requests_total{result="ok"}': 4,
        'exoauth_token_requests_total{result="idp_unavailable"}': 2,
        'exoauth_token_requests_total{result="not_allowed"}': 0,
        'exoauth_token_request_duration_seconds_count': 6,
        'exoauth_token_request_duration_seconds_bucket{le="+Inf"}': 6,
        'exoauth_validate_requests_total{result="ok"}': 1,
        'exoauth_validate_requests_total{result="invalid_token"}': 2,
        'exoauth_validate_request_duration_seconds_count': 3,
        'exoauth_validation_refusals_total{reason="expired"}': 1,
        'exoauth_validation_refusals_total{reason="wrong_audience"}': 1,
        'exoauth_validation_refusals_total{reason="bad_signature"}': 0,
        'exoauth_jwks_fetches_total{result="ok"}': 1,
        'exoauth_jwks_fetches_total{result="failed"}': 0,
        'exoauth_jwks_keys': int(daemon["validation_keys"]),
        'exoauth_connections_total{uid="0"}': 2,   # conn and exoauthctl's
        'exoauth_refused_connections_total{reason="not_allowed"}': 1,
        'exoauth_refused_connections_total{reason="too_many_connections"}': 0,
    }
    for k, v in expected.items():
        assert m.get(k) == v, (k, m.get(k), v)
    assert stats["faults_served"] >= 1
    expires, cert_end = int(account["expires"]), int(account["credential_expires"])
    assert expires - after <= m['exoauth_token_expires_in_seconds{account="app"}'] <= expires - before
    cred = m['exoauth_credential_expires_in_seconds{account="app",credential="certificate"}']
    assert cert_end - after <= cred <= cert_end - before
    assert m['exoauth_idp_request_duration_seconds_sum'] > 0
    conn.close()


def test_promtool_accepts_the_exposition(md, fresh_idp):
    """promtool check metrics: names, types, units, help, histogram shape;
    with every family populated (a validation, a refusal, an IdP failure)."""
    conn = md.connect()
    old_hash = serve_and_validate(md, fresh_idp, conn)
    outage(md, fresh_idp, conn, old_hash)
    conn.close()
    r = md.ctl("metrics")
    assert r.returncode == 0, r.stderr
    rc, out = promtool_check(r.stdout)
    assert rc == 0, out


def test_histogram_buckets_are_cumulative(md, fresh_idp):
    conn = md.connect()
    for i in range(5):
        assert conn.request("t%d" % i, "TOKEN", account="app")[0] == "OK"
    m = metrics_of(scrape(conn))
    conn.close()
    buckets = [(k, v) for k, v in m.items() if k.startswith("exoauth_token_request_duration_seconds_bucket")]
    values = [v for _, v in buckets]
    assert values == sorted(values) and buckets[-1][0].endswith('le="+Inf"}') and values[-1] == 5
    assert m["exoauth_token_request_duration_seconds_count"] == 5


def test_textfile_is_replaced_atomically(md, tmp_root):
    out_dir = tempfile.mkdtemp(prefix="textfile-", dir=tmp_root)
    path = os.path.join(out_dir, "exoauth.prom")
    assert md.token("app")[0] == "OK"
    for _ in range(2):
        r = md.ctl("metrics", "--output", path)
        assert r.returncode == 0 and r.stdout == "", r.stderr
    assert os.listdir(out_dir) == ["exoauth.prom"]  # no temporary file left
    assert os.stat(path).st_mode & 0o777 == 0o644
    with open(path) as f:
        text = f.read()
    assert 'exoauth_account_state{account="app",state="valid"} 1' in text
    r = md.ctl("metrics", "--output", os.path.join(out_dir, "missing", "x.prom"))
    assert r.returncode == 1 and "cannot create" in r.stderr
    assert md.ctl("metrics", "--bogus").returncode == 2


PEERS = """
[peer monitoring]
users = nobody
commands = METRICS
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as other uids")
def test_metrics_right(tmp_root, fresh_idp, daemons):
    d = tempfile.mkdtemp(prefix="certs-", dir=tmp_root)
    cert, key, pem = fakeidp.make_app_cert(d, "app")
    fresh_idp.register(tenant=TENANT, client_id=CID, certificate_pem=pem)
    dm = Daemon(tmp_root, fresh_idp, cert_account("app", CID, cert, key) + PEERS,
                extra_global="allow_users = daemon bin\nadmin_users = bin\n")
    daemons.append(dm.start())
    s, f = dm.token()
    assert s == "OK"
    token, token_hash = f["token"], f["hash"]
    monitor = connect_as(dm, "nobody")
    text = scrape(monitor)
    assert 'exoauth_account_state{account="app",state="valid"} 1' in text
    assert token not in text and token_hash not in text
    for command, fields in (("STATUS", {}), ("TOKEN", {"account": "app"})):
        s, f = monitor.request("x", command, **fields)
        assert s == "FAIL" and f["code"] == "not_allowed", (command, f)
    monitor.close()
    plain = connect_as(dm, "daemon")
    s, f = plain.request("m", "METRICS")
    assert s == "FAIL" and f["code"] == "not_allowed" and "METRICS" in f["reason"], f
    plain.close()
    admin = connect_as(dm, "bin")
    assert "exoauth_build_info" in scrape(admin)
    admin.close()


DAYS_90 = 90 * 86400


def test_refresh_token_inactivity_deadline(tmp_root, fresh_idp, daemons):
    """A delegated account's refresh token is estimated to expire 90 days
    after its last use: at sign-in, and after a restart (the IdP down, so
    it is not used) from the stored file's time."""
    client = "33333333-2222-3333-4444-000000000014"
    fresh_idp.register(tenant=TENANT, client_id=client, public=True, user="alice@contoso.example")
    fresh_idp.settings(device_interval=1, device_expires_in=30)
    d = Daemon(tmp_root, fresh_idp, delegated_account("user", client))
    daemons.append(d.start())
    key = 'exoauth_credential_expires_in_seconds{account="user",credential="refresh_token"}'
    assert key not in metrics_of(d.ctl("metrics").stdout)  # not signed in: no estimate
    p = subprocess.Popen([EXOAUTHCTL, "-c", d.conf, "login", "user"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    p.stdout.readline()
    fresh_idp.device(action="approve")
    before = int(time.time())
    assert p.wait(timeout=30) == 0
    text = d.ctl("metrics").stdout
    after = int(time.time())
    assert before - 2 + DAYS_90 - after <= metrics_of(text)[key] <= DAYS_90
    path = os.path.join(d.state, "user.rt")
    with open(path) as f:
        refresh_token = f.read().split("\n")[1]
    assert refresh_token not in text and refresh_token[:40] not in text
    ten_days_ago = int(time.time()) - 10 * 86400
    os.utime(path, (ten_days_ago, ten_days_ago))
    d.stop()
    fresh_idp.fault(endpoint="token", mode="status", status=503, count=-1)  # no refresh at start
    d.start()
    before = int(time.time())
    value = metrics_of(d.ctl("metrics").stdout)[key]
    after = int(time.time())
    assert ten_days_ago + DAYS_90 - after <= value <= ten_days_ago + DAYS_90 - before
