# conftest.py: fixtures for the integration tests: the fake Entra ID
# (tests/fake-idp), a private exoauthd started on a socket in a temp dir with
# its readiness taken from sd_notify (no sleeps), and a small client of the
# exoauthd protocol. Every process binds to 127.0.0.1 or a UNIX socket.
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "fake-idp"))

import idp as fakeidp  # noqa: E402

EXOAUTHD = os.environ.get("EXOAUTHD", os.path.join(ROOT, "exoauthd"))
EXOAUTHCTL = os.environ.get("EXOAUTHCTL", os.path.join(ROOT, "exoauthctl"))
TENANT = "contoso.example"


class Conn:
    """One protocol connection to exoauthd."""

    def __init__(self, path, greet=True, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        if greet:
            self.send_raw(b"VERSION\t1\t0\n")
            assert self.line() == "VERSION\t1\t0"

    def send_raw(self, data):
        """Send bytes as they are."""
        self.sock.sendall(data)

    def line(self):
        """Next line without LF, or None at EOF."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def request(self, rid, command, **args):
        """Send a request and return the final answer as (status, dict)."""
        fields = "".join("\t%s=%s" % (k, v) for k, v in args.items())
        self.send_raw(("%s\t%s%s\n" % (rid, command, fields)).encode())
        return self.answer(rid)

    def answer(self, rid):
        """Read lines until the final answer for rid."""
        while True:
            status, fields, got = parse(self.line())
            if got == rid and status in ("OK", "FAIL", "ERROR"):
                return status, fields

    def close(self):
        self.sock.close()


def parse(line):
    """Split a response line into (status, fields, id)."""
    assert line is not None, "connection closed"
    parts = line.split("\t")
    fields = dict(p.split("=", 1) for p in parts[2:])
    return parts[1], fields, parts[0]


class Daemon:
    """A private exoauthd with its own config, state dir and socket."""

    def __init__(self, tmp, idp, accounts, extra_global="", ca_file=None):
        self.dir = tempfile.mkdtemp(prefix="exod-", dir=tmp)
        os.chmod(self.dir, 0o755)
        self.state = os.path.join(self.dir, "state")
        os.mkdir(self.state, 0o700)
        self.socket = os.path.join(self.dir, "exoauthd.sock")
        self.conf = os.path.join(self.dir, "exoauthd.conf")
        self.log = os.path.join(self.dir, "exoauthd.log")
        self.idp = idp
        self.proc = None
        text = textwrap.dedent("""\
            [global]
            state_dir = %s
            %s
            [idp]
            cloud = custom
            authority = %s
            ca_file = %s

            [listen main]
            path = %s
            mode = 0666
            """) % (self.state, extra_global, idp.authority, ca_file or idp.ca_file, self.socket)
        with open(self.conf, "w") as f:
            f.write(text + "\n" + accounts)

    def start(self, check=True, **popen):
        """Start exoauthd and wait for its READY=1 (sd_notify); popen: cwd,
        preexec_fn and the like for subprocess.Popen."""
        notify = os.path.join(self.dir, "notify")
        if os.path.exists(notify):
            os.unlink(notify)
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(notify)
        os.chmod(notify, 0o666)
        ns.settimeout(15)
        env = dict(os.environ, NOTIFY_SOCKET=notify)
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([EXOAUTHD, "-d", "-c", self.conf], env=env,
                                     stdout=self.logf, stderr=self.logf, **popen)
        try:
            while True:
                msg = ns.recv(4096)
                if b"READY=1" in msg:
                    break
        except socket.timeout:
            if check:
                raise AssertionError("exoauthd did not become ready:\n" + self.read_log())
        finally:
            ns.close()
        return self

    def connect(self, **kw):
        """A new protocol connection."""
        return Conn(self.socket, **kw)

    def token(self, account="app", conn=None):
        """One TOKEN request: (status, fields)."""
        c = conn or self.connect()
        try:
            return c.request("1", "TOKEN", account=account)
        finally:
            if conn is None:
                c.close()

    def validate(self, token, **args):
        """One VALIDATE request on a new connection: (status, fields)."""
        c = self.connect()
        try:
            return c.request("1", "VALIDATE", token=token, **args)
        finally:
            c.close()

    def ctl(self, *args, timeout=30):
        """Run exoauthctl against this daemon."""
        return subprocess.run([EXOAUTHCTL, "-c", self.conf] + list(args), capture_output=True,
                              text=True, timeout=timeout)

    def read_log(self):
        """Everything exoauthd logged so far."""
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def kill(self, sig=signal.SIGTERM):
        """Signal exoauthd and wait for it to exit."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=15)
        return self.proc.returncode

    def stop(self):
        """Stop it if still running."""
        if self.proc and self.proc.poll() is None:
            self.kill()
        if getattr(self, "logf", None):
            self.logf.close()


@contextlib.contextmanager
def as_user(name, groups=()):
    """Run the body with the effective uid and gid of name and the given
    supplementary gids, so what it connects carries them in SO_PEERCRED."""
    pw = pwd.getpwnam(name)
    saved = os.getgroups()
    os.setgroups(list(groups))
    os.setegid(pw.pw_gid)
    os.seteuid(pw.pw_uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(saved)


def connect_as(d, name, greet=True, groups=()):
    """A connection to d from user name (with supplementary groups)."""
    with as_user(name, groups):
        return Conn(d.socket, greet=greet)


def cert_account(name, client_id, cert, key, alg="PS256"):
    """An [account] section with a certificate credential."""
    return ("[account %s]\ntenant = %s\nclient_id = %s\ncertificate = %s\nprivate_key = %s\n"
            "assertion_alg = %s\n\n") % (name, TENANT, client_id, cert, key, alg)


def secret_account(name, client_id, secret_file):
    """An [account] section with a client secret."""
    return "[account %s]\ntenant = %s\nclient_id = %s\nsecret_file = %s\n\n" % (
        name, TENANT, client_id, secret_file)


def delegated_account(name, client_id):
    """A delegated [account] (refresh token, public client)."""
    return "[account %s]\ntenant = %s\nclient_id = %s\ngrant = refresh_token\n\n" % (
        name, TENANT, client_id)


def cert_daemon(tmp_root, idp, client_id, extra_global="", start=True):
    """Register an app with a fresh certificate and make a daemon for it."""
    d = tempfile.mkdtemp(prefix="certs-", dir=tmp_root)
    cert, key, pem = fakeidp.make_app_cert(d, "app")
    idp.register(tenant=TENANT, client_id=client_id, certificate_pem=pem)
    dm = Daemon(tmp_root, idp, cert_account("app", client_id, cert, key), extra_global)
    return dm.start() if start else dm


@pytest.fixture(scope="session")
def tmp_root():
    """One temp dir for the whole session, readable by other users."""
    d = tempfile.mkdtemp(prefix="exoauth-it-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def idp(tmp_root):
    """The fake Entra ID for the whole session."""
    with fakeidp.FakeIdP(os.path.join(tmp_root, "idp")) as i:
        yield i


@pytest.fixture
def fresh_idp(idp):
    """The fake IdP with counters and faults cleared."""
    idp.reset()
    idp.fault(endpoint="any", mode="none")
    idp.settings(token_lifetime=3600, discovery_issuer="")
    return idp


@pytest.fixture(autouse=True)
def no_fault_outlives_its_test(request):
    """Faults a test injected into the session's fake IdP end with it, so a
    later test that takes the idp as it is never inherits a 503."""
    yield
    if "idp" in request.fixturenames:
        request.getfixturevalue("idp").fault(endpoint="any", mode="none")


@pytest.fixture
def daemons():
    """Collects daemons a test starts and stops them afterwards."""
    started = []
    yield started
    for d in started:
        d.stop()
