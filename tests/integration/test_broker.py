# test_broker.py: exoauthd against the fake Entra ID: each token source,
# single flight under 64 concurrent callers, the cache while the IdP is down,
# backoff and Retry-After, Entra error bodies in the log, invalidation,
# reload, and that no token or secret ever reaches the log.
import os
import re
import subprocess
import threading
import time

import pytest

import idp as fakeidp
from conftest import (Daemon, cert_account, delegated_account, secret_account)

CLIENT = "11111111-2222-3333-4444-%012d"


def cid(n):
    """A distinct client id per test so IdP counters do not mix."""
    return CLIENT % n


@pytest.fixture
def app_cert(tmp_root):
    """A certificate credential registered for the tests' app."""
    d = os.path.join(tmp_root, "certs")
    os.makedirs(d, exist_ok=True)
    return fakeidp.make_app_cert(d, "app")


def start_cert_daemon(tmp_root, idp, daemons, n, app_cert, alg="PS256", extra=""):
    """Register a certificate app and start a daemon for it."""
    cert, key, pem = app_cert
    idp.register(tenant="contoso.example", client_id=cid(n), certificate_pem=pem,
                 roles=["SMTP.SendAsApp", "IMAP.AccessAsApp"])
    d = Daemon(tmp_root, idp, cert_account("app", cid(n), cert, key, alg), extra).start()
    daemons.append(d)
    return d


def token_requests(idp, n):
    """Token endpoint requests the IdP saw for client n."""
    return idp.stats()["by_client"].get(cid(n), 0)


def wait_for(pred, timeout, what):
    """Poll pred (a real state change, not a sleep) until true or timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


@pytest.mark.parametrize("alg", ["PS256", "RS256"])
def test_certificate_credential_gets_token(tmp_root, fresh_idp, daemons, app_cert, alg):
    n = 1 if alg == "PS256" else 2
    d = start_cert_daemon(tmp_root, fresh_idp, daemons, n, app_cert, alg)
    status, f = d.token()
    assert status == "OK", f
    assert f["token"].count(".") == 2 and int(f["expires"]) > time.time() + 3000
    assert re.fullmatch(r"[0-9a-f]{12}", f["hash"])
    assert token_requests(fresh_idp, n) == 1


def test_secret_credential_gets_token(tmp_root, fresh_idp, daemons):
    path = os.path.join(tmp_root, "secret-3")
    with open(path, "w") as f:
        f.write("s3cr3t-value-3\n")
    os.chmod(path, 0o600)
    fresh_idp.register(tenant="contoso.example", client_id=cid(3), secret="s3cr3t-value-3",
                       roles=["SMTP.SendAsApp"])
    d = Daemon(tmp_root, fresh_idp, secret_account("app", cid(3), path)).start()
    daemons.append(d)
    status, f = d.token()
    assert status == "OK", f
    assert "s3cr3t-value-3" not in d.read_log()


def test_wrong_secret_is_one_clear_log_line(tmp_root, fresh_idp, daemons):
    path = os.path.join(tmp_root, "secret-4")
    with open(path, "w") as f:
        f.write("wrong\n")
    os.chmod(path, 0o600)
    fresh_idp.register(tenant="contoso.example", client_id=cid(4), secret="right")
    d = Daemon(tmp_root, fresh_idp, secret_account("app", cid(4), path)).start()
    daemons.append(d)
    status, f = d.token()
    assert status == "FAIL" and f["kind"] == "perm" and f["code"] == "idp_refused", f
    lines = [l for l in d.read_log().splitlines() if "7000215" in l]
    assert lines and "secret" in lines[0].lower()
    assert "Trace ID" not in lines[0]


def test_64_concurrent_callers_cause_one_token_request(tmp_root, fresh_idp, daemons, app_cert):
    fresh_idp.fault(endpoint="token", mode="slow", delay=1.0, count=1)
    d = start_cert_daemon(tmp_root, fresh_idp, daemons, 5, app_cert)
    results = []
    barrier = threading.Barrier(64)

    def caller():
        c = d.connect()
        barrier.wait()
        results.append(c.request("7", "TOKEN", account="app"))
        c.close()

    threads = [threading.Thread(target=caller) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 64
    assert all(s == "OK" for s, _ in results)
    assert len({f["hash"] for _, f in results}) == 1
    assert token_requests(fresh_idp, 5) == 1


def test_cached_token_survives_idp_outage_then_temp_failure_then_recovery(
        tmp_root, fresh_idp, daemons, app_cert):
    fresh_idp.settings(token_lifetime=8)
    d = start_cert_daemon(tmp_root, fresh_idp, daemons, 6, app_cert)
    status, first = d.token()
    assert status == "OK"
    fresh_idp.fault(endpoint="token", mode="status", status=503, count=-1)
    # While it is still valid, the same token keeps being served.
    seen = []

    def until_failure():
        s, f = d.token()
        seen.append((s, f))
        return s == "FAIL"

    wait_for(until_failure, 20, "the cached token to expire")
    served = [f["hash"] for s, f in seen if s == "OK"]
    assert served and set(served) == {first["hash"]}
    s, f = seen[-1]
    assert f["kind"] == "temp" and f["code"] == "idp_unavailable"
    fresh_idp.fault(endpoint="token", mode="none")
    s, f = wait_for(lambda: (lambda r: r if r[0] == "OK" else None)(d.token()), 40, "recovery")
    assert f["hash"] != first["hash"]


def test_429_is_honoured_with_retry_after(tmp_root, fresh_idp, daemons, app_cert):
    fresh_idp.fault(endpoint="token", mode="429", retry_after=3, count=1)
    d = start_cert_daemon(tmp_root, fresh_idp, daemons, 7, app_cert)
    status, f = d.token()
    assert status == "FAIL" and f["code"] == "rate_limited" and f["kind"] == "temp", f
    assert 1 <= int(f["retry_after"]) <= 3
    s, f = wait_for(lambda: (lambda r: r if r[0] == "OK" else None)(d.token()), 15, "a token")
    times = fresh_idp.stats()["token_times"]
    assert len(times) == 2, times
    assert times[1] - times[0] >= 2.9


def test_5xx_is_retried_with_growing_backoff(tmp_root, fresh_idp, daemons, app_cert):
    fresh_idp.fault(endpoint="token", mode="status", status=503, count=3)
    d = start_cert_daemon(tmp_root, fresh_idp, daemons, 8, app_cert)
    wait_for(lambda: token_requests(fresh_idp, 8) >= 4, 30, "four attempts")
    s, f = d.token()
    assert s == "OK", f
    t = fresh_idp.stats()["token_times"][-4:]
    gaps = [b - a for a, b in zip(t, t[1:])]
    # base 1 s doubling, jitter takes at most half: >= 0.5, 1, 2 s
    assert gaps[0] >= 0.45 and gaps[1] >= 0.95 and gaps[2] >= 1.95, gaps
    assert token_requests(fresh_idp, 8) == 4


def test_bad_json_from_idp_is_temporary(tmp_root, fresh_idp, daemons, app_cert):
    fresh_idp.fault(endpoint="token", mode="badjson", count=-1)
    d = start_cert_daemon(tmp_root, fresh_idp, daemons, 9, app_cert)
    s, f = d.token()
    assert s == "FAIL" and f["kind"] == "temp", f


def test_invalidate_drops_only_the_current_token(tmp_root, fresh_idp, daemons, app_cert):
    d = start_cert_daemon(tmp_root, fresh_idp, daemons, 10, app_cert)
    c = d.connect()
    s, f = c.request("1", "TOKEN", account="app")
    assert s == "OK"
    s, g = c.request("2", "INVALIDATE", account="app", hash="000000000000")
    assert s == "OK" and g["dropped"] == "no"
    s, g = c.request("3", "INVALIDATE", account="app", hash=f["hash"])
    assert s == "OK" and g["dropped"] == "yes"
    s, h = c.request("4", "TOKEN", account="app")
    assert s == "OK" and h["hash"] != f["hash"]
    assert token_requests(fresh_idp, 10) == 2


def test_unknown_account_is_permanent(tmp_root, fresh_idp, daemons, app_cert):
    d = start_cert_daemon(tmp_root, fresh_idp, daemons, 11, app_cert)
    s, f = d.token("nosuch")
    assert s == "FAIL" and f["kind"] == "perm" and f["code"] == "unknown_account"


def test_reload_keeps_cached_tokens(tmp_root, fresh_idp, daemons, app_cert):
    d = start_cert_daemon(tmp_root, fresh_idp, daemons, 12, app_cert)
    s, f = d.token()
    d.proc.send_signal(1)  # SIGHUP
    c = d.connect()
    s, st = c.request("1", "STATUS")
    wait_for(lambda: "configuration reloaded" in d.read_log(), 10, "the reload")
    s, g = d.token()
    assert s == "OK" and g["hash"] == f["hash"]
    assert token_requests(fresh_idp, 12) == 1


def test_wrong_ca_fails_verification(tmp_root, fresh_idp, daemons, app_cert):
    other = os.path.join(tmp_root, "other-ca.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=not the fake IdP's CA", "-keyout", other + ".key", "-out", other],
                   check=True, capture_output=True)
    cert, key, pem = app_cert
    fresh_idp.register(tenant="contoso.example", client_id=cid(13), certificate_pem=pem)
    d = Daemon(tmp_root, fresh_idp, cert_account("app", cid(13), cert, key), ca_file=other).start()
    daemons.append(d)
    s, f = d.token()
    assert s == "FAIL" and f["kind"] == "temp" and f["code"] == "idp_unavailable"
    assert "certificate" in f["reason"].lower() or "ssl" in f["reason"].lower(), f
    assert token_requests(fresh_idp, 13) == 0


def test_no_token_or_secret_in_log(tmp_root, fresh_idp, daemons, app_cert):
    d = start_cert_daemon(tmp_root, fresh_idp, daemons, 14, app_cert)
    s, f = d.token()
    c = d.connect()
    c.request("2", "INVALIDATE", account="app", hash=f["hash"])
    s, g = c.request("3", "TOKEN", account="app")
    log = d.read_log()
    for tok in (f["token"], g["token"]):
        assert tok not in log and tok[-40:] not in log
    assert f["hash"] in log


@pytest.mark.parametrize("max_tls,ok", [("1.1", False), ("1.2", True)])
def test_tls_below_1_2_is_refused(tmp_root, daemons, app_cert, max_tls, ok):
    cert, key, pem = app_cert
    with fakeidp.FakeIdP(os.path.join(tmp_root, "idp-tls" + max_tls), max_tls=max_tls) as old:
        old.register(tenant="contoso.example", client_id=cid(15), certificate_pem=pem)
        d = Daemon(tmp_root, old, cert_account("app", cid(15), cert, key)).start()
        daemons.append(d)
        s, f = d.token()
        assert (s == "OK") == ok, f
        if not ok:
            assert f["code"] == "idp_unavailable" and token_requests(old, 15) == 0
            assert "protocol version" in f["reason"], f
        d.stop()


@pytest.mark.parametrize("aadsts,error,hint", [
    (7000222, "invalid_client", "expired"),
    (700027, "invalid_client", "certificate"),
    (65001, "invalid_grant", "consent"),
    (700016, "unauthorized_client", "client_id"),
    (90002, "invalid_request", "tenant"),
])
def test_entra_error_bodies_give_a_hint(tmp_root, fresh_idp, daemons, app_cert, aadsts, error, hint):
    fresh_idp.fault(endpoint="token", mode="entra_error", aadsts=aadsts, error=error, count=-1)
    d = start_cert_daemon(tmp_root, fresh_idp, daemons, 16, app_cert)
    s, f = d.token()
    assert s == "FAIL" and f["kind"] == "perm" and str(aadsts) in f["reason"], f
    lines = [l for l in d.read_log().splitlines() if "AADSTS%d" % aadsts in l]
    assert len(lines) == 1 and hint in lines[0], lines
