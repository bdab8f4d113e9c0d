# test_socket.py: exoauthd's socket as a trust boundary: peers not on the
# allow-list are refused (SO_PEERCRED), oversized and malformed input is
# answered with an error or a disconnect and changes nothing, pipelined
# requests are answered by id, and the daemon keeps serving everyone else.
import os
import pwd
import socket
import subprocess
import sys

import pytest

from conftest import cert_daemon, parse

CID = "22222222-2222-3333-4444-000000000001"


@pytest.fixture
def daemon(tmp_root, fresh_idp, daemons):
    """A daemon with one certificate account, token already cached."""
    dm = cert_daemon(tmp_root, fresh_idp, CID, "allow_users = daemon\n")
    daemons.append(dm)
    assert dm.token()[0] == "OK"
    return dm


def still_serves(d):
    """A fresh, well-behaved client still gets its token."""
    s, f = d.token()
    return s == "OK"


def closed(conn):
    """True when the daemon closed the connection."""
    try:
        while True:
            data = conn.sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, socket.timeout):
        return False


@pytest.mark.parametrize("line,reason", [
    (b"1\tTOKEN\taccount\n", "="),
    (b"1\tTOKEN\tAccount=app\n", "key"),
    (b"1\ttoken\taccount=app\n", "command"),
    (b"1\tTOKEN\taccount=app\taccount=app\n", "duplicate"),
    (b"1\tNOSUCH\n", "unknown command"),
    (b"1\tTOKEN\n", "missing account"),
    (b"1\tINVALIDATE\taccount=app\n", "missing"),
    (b"1\tTOKEN\taccount=a\rpp\n", ""),
    (b"1\tTOKEN" + b"\tk%d=v" * 40 % tuple(range(40)) + b"\n", "fields"),
])
def test_malformed_request_gets_error_and_connection_stays(daemon, line, reason):
    c = daemon.connect()
    c.send_raw(line)
    status, fields, rid = parse(c.line())
    assert rid == "1" and status == "ERROR" and reason in fields["reason"].lower(), fields
    assert c.request("2", "PING")[0] == "OK"
    assert still_serves(daemon)


@pytest.mark.parametrize("line", [
    b"\n",
    b"bad id!\tPING\n",
    b"12345678901234567\tPING\n",
    b"1\tTOKEN\taccount=" + b"a" * 20000 + b"\n",
])
def test_fatal_input_disconnects_and_others_unaffected(daemon, line):
    c = daemon.connect()
    c.send_raw(line)
    status, fields, rid = parse(c.line())
    assert rid == "*" and status == "ERROR"
    assert closed(c)
    assert still_serves(daemon)


def test_nul_byte_disconnects(daemon):
    c = daemon.connect()
    c.send_raw(b"1\tPING\x00\n")
    assert closed(c)
    assert still_serves(daemon)


def test_request_before_version_is_refused(daemon):
    c = daemon.connect(greet=False)
    assert c.line() == "VERSION\t1\t0"
    c.send_raw(b"1\tPING\n")
    status, fields, rid = parse(c.line())
    assert rid == "*" and "VERSION" in fields["reason"]
    assert closed(c)


def test_other_major_version_is_refused(daemon):
    c = daemon.connect(greet=False)
    c.line()
    c.send_raw(b"VERSION\t2\t0\n")
    status, fields, rid = parse(c.line())
    assert "version" in fields["reason"]
    assert closed(c)


def test_bad_invalidate_changes_nothing(daemon):
    s, f = daemon.token()
    c = daemon.connect()
    c.send_raw(("1\tINVALIDATE\taccount=app\thash=%s\thash=x\n" % f["hash"]).encode())
    assert parse(c.line())[0] == "ERROR"
    s, g = daemon.token()
    assert g["hash"] == f["hash"]


def test_pipelined_requests_are_answered_by_id(daemon):
    c = daemon.connect()
    batch = b"".join(b"r%d\tTOKEN\taccount=app\n" % i for i in range(50)) + b"p\tPING\n"
    c.send_raw(batch)
    ids = set()
    for _ in range(51):
        status, fields, rid = parse(c.line())
        assert status == "OK"
        ids.add(rid)
    assert ids == {"r%d" % i for i in range(50)} | {"p"}


def test_client_that_never_reads_is_dropped_not_waited_for(daemon):
    c = daemon.connect()
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.send_raw(b"".join(b"r%d\tTOKEN\taccount=app\n" % (i % 1000) for i in range(200)))
    assert still_serves(daemon)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another uid")
def test_peer_not_on_allow_list_is_refused(daemon):
    # reads first: a refused peer is told and disconnected before it can send
    script = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n"
              "d=s.recv(4096)\nif d.startswith(b'VERSION'):\n"
              " s.sendall(b'VERSION\\t1\\t0\\n1\\tPING\\n')\n"
              " while b'1\\tOK' not in d:\n  c=s.recv(4096)\n  d+=c\n  if not c: break\n"
              "else:\n d+=s.recv(4096)\nprint(d.decode())\n")
    out = subprocess.run([sys.executable, "-c", script, daemon.socket], user="nobody",
                         capture_output=True, text=True, timeout=10)
    assert "*\tERROR\treason=not allowed" in out.stdout, out
    assert "\tOK" not in out.stdout
    assert "refused connection from" in daemon.read_log()
    allowed = subprocess.run([sys.executable, "-c", script, daemon.socket], user="daemon",
                             capture_output=True, text=True, timeout=10)
    assert "1\tOK" in allowed.stdout, allowed
    assert still_serves(daemon)
