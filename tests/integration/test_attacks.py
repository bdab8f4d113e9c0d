# test_attacks.py: exoauthd under attack from an allowed local peer (issue
# 11): a crash must not leave secrets on disk, bursts of pipelined requests
# must not grow the stack, slow or idle peers are closed, one uid cannot
# take every connection, and memory and the log stay bounded. Each attack
# also checks that a well-behaved client keeps being served.
import os
import pwd
import resource
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import Conn, cert_daemon, connect_as, parse

CID = "22222222-2222-3333-4444-000000000011"


@pytest.fixture
def daemon(tmp_root, fresh_idp, daemons):
    """A daemon with one certificate account (not started: tests choose how)."""
    dm = cert_daemon(tmp_root, fresh_idp, CID, "allow_users = daemon\nidle_timeout = 2\n"
                     "max_clients_per_uid = 4\n", start=False)
    daemons.append(dm)
    return dm


def refusal(d, name):
    """The reason d gives a new connection from name, or None if accepted."""
    c = connect_as(d, name, greet=False)
    try:
        line = c.line()
        if line.startswith("VERSION\t"):
            return None
        status, fields, rid = parse(line)
        assert rid == "*" and status == "ERROR", line
        return fields.get("reason")
    finally:
        c.close()


def closed_within(conn, seconds):
    """True when the peer closes conn within seconds (reads until EOF)."""
    conn.sock.settimeout(seconds)
    try:
        while conn.sock.recv(65536):
            pass
        return True
    except socket.timeout:
        return False


def served(d, bound=5.0):
    """A fresh, well-behaved client gets its token within bound seconds."""
    c = Conn(d.socket, timeout=bound)
    try:
        return c.request("ok", "TOKEN", account="app")[0] == "OK"
    finally:
        c.close()


def rss_kib(pid):
    """Resident memory of pid in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as other uids")


def unlimited_cores():
    """preexec_fn: allow core files of any size, as a careless shell would."""
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def cores_in(path):
    """Core files the kernel wrote in path."""
    return [n for n in os.listdir(path) if n == "core" or n.startswith("core.")]


def control_dumps(path):
    """True when a process crashed in path leaves a core there (so the test
    below can see one), as the kernel's core_pattern decides."""
    p = subprocess.Popen(["sleep", "30"], cwd=path, preexec_fn=unlimited_cores)
    p.send_signal(signal.SIGSEGV)
    p.wait(timeout=10)
    found = cores_in(path)
    for n in found:
        os.unlink(os.path.join(path, n))
    return bool(found)


def core_limit(pid):
    """The soft core-size limit of a running process, from /proc."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max core file size"):
                return line.split()[4]
    raise AssertionError("no core limit in /proc/%d/limits" % pid)


def test_no_core_limit_even_when_started_with_unlimited(daemon):
    d = daemon.start(cwd=daemon.dir, preexec_fn=unlimited_cores)
    assert core_limit(d.proc.pid) == "0"


def test_crash_leaves_no_core_with_secrets(daemon):
    crashdir = os.path.join(daemon.dir, "crash")
    os.mkdir(crashdir)
    if not control_dumps(crashdir):
        pytest.skip("this kernel's core_pattern does not write cores to the working directory")
    d = daemon.start(cwd=crashdir, preexec_fn=unlimited_cores)
    assert d.token()[0] == "OK"  # a token and the private key are in memory now
    assert d.kill(signal.SIGSEGV) == -signal.SIGSEGV
    assert cores_in(crashdir) == []


def small_stack():
    """preexec_fn: a 1 MiB main-thread stack, so growth per request shows."""
    resource.setrlimit(resource.RLIMIT_STACK, (1 << 20, 1 << 20))


def test_burst_of_answered_at_once_requests_does_not_grow_the_stack(daemon):
    # VALIDATE without [validate] is refused at once, inside the request:
    # each one used to handle the next buffered line one frame deeper.
    d = daemon.start(preexec_fn=small_stack)
    c = d.connect()
    n = 3000
    c.send_raw(b"".join(b"v%d\tVALIDATE\ttoken=t%d\n" % (i, i) for i in range(n)))
    ids = set()
    for _ in range(n):
        line = c.line()
        assert line is not None, "exoauthd closed the connection: %s" % d.read_log()[-500:]
        ids.add(parse(line)[2])
    assert ids == {"v%d" % i for i in range(n)}
    assert d.proc.poll() is None
    assert served(d)


def test_well_behaved_clients_are_served_during_a_flood(daemon):
    d = daemon.start()
    stop = threading.Event()
    flood = d.connect()

    def attack():
        batch = b"".join(b"f%d\tVALIDATE\ttoken=t%d\n" % (i, i) for i in range(2000))
        for _ in range(50):  # bounded: 100,000 requests at most
            if stop.is_set():
                return
            try:
                flood.send_raw(batch)
                for _ in range(2000):
                    flood.line()
            except OSError:
                return

    t = threading.Thread(target=attack)
    t.start()
    try:
        assert all(served(d, bound=2.0) for _ in range(20))
    finally:
        stop.set()
        t.join(timeout=60)
    assert d.proc.poll() is None


def test_trickle_without_a_complete_request_is_closed(daemon):
    d = daemon.start()
    slow, steady = d.connect(), d.connect()
    closed = False
    for i in range(20):  # one byte (or one PING) every 0.5 s, 10 s at most
        slow.send_raw(b"x")
        assert steady.request("p%d" % i, "PING")[0] == "OK"
        if closed_within(slow, 0.5):
            closed = True
            break
    assert closed, "a peer that never completes a request was kept past idle_timeout (2 s)"
    assert i >= 3, "closed before idle_timeout"
    assert steady.request("last", "PING")[0] == "OK"  # complete requests keep a connection
    assert served(d)


@needs_root
def test_one_uid_cannot_take_every_connection(daemon):
    d = daemon.start()
    held = [connect_as(d, "daemon") for _ in range(4)]
    assert refusal(d, "daemon") == "too many connections from this user"
    assert served(d)  # root (the administrator) still gets in
    held.pop().close()
    deadline = time.monotonic() + 10
    while refusal(d, "daemon") is not None:  # the daemon notices the close
        assert time.monotonic() < deadline
    for c in held:
        c.close()


@needs_root
def test_reload_that_removes_a_user_drops_its_connections(daemon):
    d = daemon.start()
    c = connect_as(d, "daemon")
    assert c.request("1", "PING")[0] == "OK"
    with open(d.conf) as f:
        text = f.read()
    with open(d.conf, "w") as f:
        f.write(text.replace("allow_users = daemon", "allow_users = nobody"))
    d.proc.send_signal(signal.SIGHUP)
    status, fields, rid = parse(c.line())
    assert (rid, status, fields.get("reason")) == ("*", "ERROR", "not allowed")
    assert closed_within(c, 10)
    assert refusal(d, "daemon") == "not allowed"
    assert served(d)


@needs_root
def test_refused_peers_do_not_flood_the_log(daemon):
    d = daemon.start()
    for _ in range(300):
        assert refusal(d, "nobody") == "not allowed"
    assert served(d)
    d.kill()
    log = d.read_log()
    lines = [l for l in log.splitlines() if "refused connection from" in l]
    assert 1 <= len(lines) <= 5, lines
    uid = pwd.getpwnam("nobody").pw_uid
    assert "%d more refused connections from uid=%d" % (300 - len(lines), uid) in log, log[-2000:]


def test_memory_of_a_burst_is_given_back(daemon):
    d = daemon.start()
    c = d.connect()
    answer = len(c.request("size", "TOKEN", account="app")[1]["token"]) + 100
    base = rss_kib(d.proc.pid)
    per_conn = min(600, (800 << 10) // answer)  # answers queued per connection: ~800 KiB
    conns = [d.connect() for _ in range(150)]
    burst = b"".join(b"r%d\tTOKEN\taccount=app\n" % i for i in range(per_conn))
    for c in conns:  # nobody reads yet: every answer waits in exoauthd
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.send_raw(burst)
    for c in conns:
        for _ in range(per_conn):
            assert parse(c.line())[0] == "OK"
    for c in conns:  # drained, and still open
        assert c.request("x", "PING")[0] == "OK"
    grown = rss_kib(d.proc.pid) - base
    assert grown < 16 * 1024, "RSS still %d KiB above its start with the burst drained" % grown
    for c in conns:
        c.close()


@needs_root
def test_malformed_requests_do_not_flood_the_log(daemon):
    d = daemon.start()
    for _ in range(100):  # each a fatal parse error and a disconnect
        c = connect_as(d, "daemon")
        c.send_raw(b"!!\tPING\n")
        assert parse(c.line())[0] == "ERROR"
        c.close()
    assert served(d)
    d.kill()
    lines = [l for l in d.read_log().splitlines() if "bad request id" in l or "bad id" in l]
    assert 1 <= len(lines) <= 5, lines[:10]
    assert "more bad input from uid=" in d.read_log()
