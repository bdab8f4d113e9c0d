# test_idp_proxy.py: issue 13, an HTTP proxy for the IdP. exoauthd reaches
# the fake IdP through a CONNECT proxy written here (127.0.0.1, one tunnel
# per connection, counted) when [idp] proxy names it, TLS staying
# end-to-end and verified; and never through a proxy its environment
# names (https_proxy, ALL_PROXY...) when the file names none. Credentials
# in the proxy URL reach the proxy and nowhere else (log, doctor).
import base64
import os
import select
import socket
import threading
import uuid

import pytest

from conftest import cert_daemon

ENV_PROXIES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy")


class ConnectProxy:
    """A tiny HTTP CONNECT proxy on loopback that counts its tunnels and
    only opens them to 127.0.0.1."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.tunnels = []       # "host:port" of each CONNECT it served
        self.auth = []          # Proxy-Authorization values seen
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def url(self, userinfo=""):
        return "http://%s127.0.0.1:%d" % (userinfo + "@" if userinfo else "", self.port)

    def accept_loop(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def head(self, c):
        """The request head, at most 8 KiB."""
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 8192:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")

    def serve(self, c):
        c.settimeout(30)
        try:
            lines = self.head(c)
            method, target = (lines[0].split(" ") + ["", ""])[:2]
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host != "127.0.0.1":
                c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            with self.lock:
                self.tunnels.append(target)
                self.auth += [l.split(":", 1)[1].strip() for l in lines[1:]
                              if l.lower().startswith("proxy-authorization:")]
            up = socket.create_connection((host, int(port)), timeout=30)
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.pump(c, up)
        except OSError:
            pass
        finally:
            c.close()

    @staticmethod
    def pump(a, b):
        """Copy both ways until one side closes; at most 10,000 reads or a
        30 s silence."""
        try:
            for _ in range(10000):
                ready, _, _ = select.select([a, b], [], [], 30)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        finally:
            b.close()

    def count(self):
        with self.lock:
            return len(self.tunnels)

    def stop(self):
        self.stopped = True
        self.sock.close()


@pytest.fixture
def proxy():
    p = ConnectProxy()
    yield p
    p.stop()


def start_with_proxy_env(dm, monkeypatch, proxy):
    """Start dm with every proxy variable libcurl reads pointing at the
    counting proxy and nothing exempting loopback, as when exoauthd is
    started from the shell of a host whose users must use a proxy. Only
    exoauthd gets them: the test's own HTTP to the fake IdP stays direct."""
    with monkeypatch.context() as m:
        for name in ENV_PROXIES:
            m.setenv(name, proxy.url())
        for name in ("no_proxy", "NO_PROXY"):
            m.delenv(name, raising=False)
        return dm.start()


def with_idp_lines(dm, lines):
    """Add lines to the [idp] section of the daemon's file."""
    with open(dm.conf) as f:
        text = f.read()
    head, sep, tail = text.partition("[idp]\n")
    with open(dm.conf, "w") as f:
        f.write(head + sep + lines + tail)
    return dm


def proxied_daemon(tmp_root, idp, lines):
    dm = cert_daemon(tmp_root, idp, str(uuid.uuid4()), start=False)
    return with_idp_lines(dm, lines).start()


def test_token_through_the_configured_proxy(tmp_root, idp, proxy):
    dm = proxied_daemon(tmp_root, idp, "proxy = %s\n" % proxy.url())
    try:
        status, fields = dm.token("app")
        assert status == "OK", fields
        assert proxy.count() >= 1
        assert set(proxy.tunnels) == {idp.authority.split("//", 1)[1].split("/", 1)[0]}
    finally:
        dm.stop()


def test_environment_proxy_is_ignored_without_a_configured_one(tmp_root, idp, proxy, monkeypatch):
    dm = start_with_proxy_env(cert_daemon(tmp_root, idp, str(uuid.uuid4()), start=False), monkeypatch, proxy)
    try:
        status, fields = dm.token("app")
        assert status == "OK", fields
        assert proxy.count() == 0, "exoauthd followed its environment's proxy to %s" % proxy.tunnels
        assert "identity provider direct" in dm.read_log()
    finally:
        dm.stop()


def test_doctor_says_direct_and_ignores_the_environment_proxy(tmp_root, idp, proxy, monkeypatch):
    dm = cert_daemon(tmp_root, idp, str(uuid.uuid4()))
    try:
        with monkeypatch.context() as m:
            for name in ENV_PROXIES:
                m.setenv(name, proxy.url())
            out = dm.ctl("doctor").stdout
        assert "idp route" in out and "direct" in out and "FAIL" not in out, out
        assert proxy.count() == 0
    finally:
        dm.stop()


def test_no_proxy_sends_the_idp_direct(tmp_root, idp, proxy):
    dm = proxied_daemon(tmp_root, idp, "proxy = %s\nno_proxy = localhost, 127.0.0.1\n" % proxy.url())
    try:
        assert dm.token("app")[0] == "OK"
        assert proxy.count() == 0
    finally:
        dm.stop()


def test_proxy_credentials_reach_the_proxy_only(tmp_root, idp, proxy):
    password = "pw-" + uuid.uuid4().hex
    dm = proxied_daemon(tmp_root, idp, "proxy = %s\n" % proxy.url("relay:" + password))
    try:
        assert dm.token("app")[0] == "OK"
        assert proxy.auth and base64.b64decode(proxy.auth[0].split()[1]).decode() == "relay:" + password
        out = dm.ctl("doctor").stdout
        assert "via proxy 127.0.0.1:%d" % proxy.port in out, out
        assert password not in out and password not in dm.read_log()
    finally:
        dm.stop()


def test_tls_to_the_idp_stays_verified_through_the_proxy(tmp_root, idp, proxy):
    """The tunnel carries the IdP's own TLS: a CA that did not sign the
    IdP's certificate makes the request fail, proxy or not."""
    other = os.path.join(tmp_root, "other-ca-%s.pem" % uuid.uuid4().hex[:6])
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    import datetime
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "not the IdP's CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    with open(other, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    dm = cert_daemon(tmp_root, idp, str(uuid.uuid4()), start=False)
    with open(dm.conf) as f:
        text = f.read()
    with open(dm.conf, "w") as f:
        f.write(text.replace("ca_file = %s\n" % idp.ca_file, "ca_file = %s\n" % other))
    with_idp_lines(dm, "proxy = %s\n" % proxy.url())
    out = dm.ctl("doctor").stdout
    assert "unreachable" in out and proxy.count() >= 1, out
