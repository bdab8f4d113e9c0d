# test_metrics_http.py: exoauthd's optional metrics listener ([metrics],
# issue 14, deliverable 1) with curl as the real client: the same figures
# as `exoauthctl metrics`, accepted by promtool, with no token or hash in
# them; 404 and 405; an oversized head, a silent client and too many
# clients bounded without disturbing the UNIX-socket peers; a non-loopback
# address refused at load; a UNIX-socket listener; the reload note.
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import EXOAUTHD, cert_daemon
from test_metrics import metrics_of, promtool_check

CID = "66666666-2222-3333-4444-000000000015"
TOKENS_OK = 'exoauth_token_requests_total{result="ok"}'


def free_port():
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_metrics(d, listen):
    """Add a [metrics] section to d's configuration."""
    with open(d.conf, "a") as f:
        f.write("\n[metrics]\nlisten = %s\nmode = 0666\n" % listen)


@pytest.fixture(scope="module")
def hd(tmp_root, idp):
    """A daemon with the metrics listener on a loopback port."""
    d = cert_daemon(tmp_root, idp, CID, start=False)
    d.port = free_port()
    d.url = "http://127.0.0.1:%d/metrics" % d.port
    with_metrics(d, "127.0.0.1:%d" % d.port)
    d.start()
    yield d
    d.stop()


def curl(*args):
    """curl with a bound: (HTTP code, headers, body)."""
    p = subprocess.run(["curl", "-sS", "--max-time", "20", "-D", "-", "-o", "-"] + list(args),
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    head, _, body = p.stdout.decode().partition("\r\n\r\n")  # bytes: keep the CRLFs
    return int(head.split()[1]), head, body


def ping(d):
    """PING on exoauthd's UNIX socket answers."""
    c = d.connect()
    try:
        assert c.request("p", "PING")[0] == "OK"
    finally:
        c.close()


def closed_within(s, seconds):
    """Seconds until the server closed s (EOF or reset), or None if it did not within seconds."""
    start = time.monotonic()
    s.settimeout(seconds)
    try:
        while s.recv(65536):
            pass
    except socket.timeout:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def test_curl_gets_what_exoauthctl_gets(hd):
    c = hd.connect()
    s, f = c.request("t", "TOKEN", account="app")
    c.close()
    assert s == "OK", f
    code, head, body = curl(hd.url)
    assert code == 200, head
    lines = head.lower().split("\r\n")
    assert "content-type: text/plain; version=0.0.4; charset=utf-8" in lines
    assert "connection: close" in lines
    assert "content-length: %d" % len(body.encode()) in lines
    r = hd.ctl("metrics")
    assert r.returncode == 0, r.stderr
    got, want = metrics_of(body), metrics_of(r.stdout)
    assert got[TOKENS_OK] == want[TOKENS_OK] >= 1
    def families(m):  # open connections differ: exoauthctl's own is open as it asks
        return {k for k in m if not k.startswith("exoauth_connections{")}
    assert families(got) == families(want)
    for secret in (f["token"], f["hash"], f["token"][:40]):
        assert secret not in body
    rc, out = promtool_check(body)
    assert rc == 0, out
    log = hd.read_log()
    assert "metrics served at %s: anyone who can connect there may read them" % hd.url in log


def test_other_paths_and_methods(hd):
    assert curl(hd.url.replace("/metrics", "/"))[0] == 404
    assert curl(hd.url + "/x")[0] == 404
    code, head, _ = curl("-X", "POST", hd.url)
    assert code == 405 and "allow: get" in head.lower()
    assert curl("-0", hd.url)[0] == 200  # HTTP/1.0


def test_oversized_head_is_refused(hd):
    s = socket.create_connection(("127.0.0.1", hd.port), timeout=10)
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got = b""
    try:
        got = s.recv(200)
    except ConnectionResetError:
        pass
    assert got == b"" or got.startswith(b"HTTP/1.1 431 "), got
    assert closed_within(s, 10) is not None
    s.close()
    ping(hd)
    assert curl(hd.url)[0] == 200


def test_silent_client_times_out_while_others_are_served(hd):
    silent = socket.create_connection(("127.0.0.1", hd.port), timeout=10)
    start = time.monotonic()
    for _ in range(3):
        ping(hd)
        assert curl(hd.url)[0] == 200
    waited = closed_within(silent, 20)
    silent.close()
    assert waited is not None, "a silent client was not closed within 20 s"
    assert time.monotonic() - start >= 9, "closed before its 10 s"


def test_too_many_clients_are_closed_at_once(hd):
    before = metrics_of(hd.ctl("metrics").stdout)['exoauth_refused_connections_total{reason="too_many_connections"}']
    held = [socket.create_connection(("127.0.0.1", hd.port), timeout=10) for _ in range(16)]
    try:
        ping(hd)  # the 16 are accepted by now: the loop has run past them
        extra = socket.create_connection(("127.0.0.1", hd.port), timeout=10)
        assert closed_within(extra, 5) is not None
        extra.close()
        ping(hd)
    finally:
        for s in held:
            s.close()
    after = metrics_of(hd.ctl("metrics").stdout)['exoauth_refused_connections_total{reason="too_many_connections"}']
    assert after == before + 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the held ones are closed in the daemon's next turn
        code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", hd.url],
                              capture_output=True, text=True, timeout=10).stdout
        if code == "200":
            return
        time.sleep(0.1)
    raise AssertionError("no answer after the held connections closed")


def test_reload_with_a_changed_listener_says_restart(hd):
    with open(hd.conf) as f:
        text = f.read()
    with open(hd.conf, "w") as f:
        f.write(text.replace(":%d\n" % hd.port, ":%d\n" % free_port()))
    try:
        hd.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "changes at the next restart" not in hd.read_log():
            assert time.monotonic() < deadline, hd.read_log()
            time.sleep(0.05)
        assert curl(hd.url)[0] == 200  # still where it was bound
    finally:
        with open(hd.conf, "w") as f:
            f.write(text)


@pytest.mark.parametrize("listen", ["0.0.0.0:9464", "[::]:9464", "192.0.2.1:9464", "localhost:9464"])
def test_non_loopback_address_is_refused_at_load(tmp_root, fresh_idp, listen):
    d = cert_daemon(tmp_root, fresh_idp, CID, start=False)
    with_metrics(d, listen)
    p = subprocess.run([EXOAUTHD, "-d", "-c", d.conf], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "must be a loopback address" in p.stderr, p.stderr


def test_unix_socket_listener(tmp_root, fresh_idp, daemons):
    d = cert_daemon(tmp_root, fresh_idp, CID, start=False)
    path = os.path.join(d.dir, "metrics.sock")
    with_metrics(d, path)
    daemons.append(d.start())
    assert oct(os.stat(path).st_mode & 0o777) == "0o666"
    code, _, body = curl("--unix-socket", path, "http://localhost/metrics")
    assert code == 200 and "exoauth_build_info" in body
    d.stop()
    assert not os.path.exists(path)
