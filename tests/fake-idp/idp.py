# idp.py: the tests' handle on the fake Entra ID: starts fake_idp.py in a
# temp dir, waits for its READY line (no sleeps), and wraps the /_control/
# API (register apps, faults, stats, key rotation, device codes, minting).
# Also makes app certificates for certificate credentials.
import json
import os
import ssl
import subprocess
import sys
import urllib.request
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fake_idp  # noqa: E402


class FakeIdP:
    """A running fake Entra ID on 127.0.0.1 (a context manager)."""

    def __init__(self, directory, port=0, max_tls="1.3", export_key=False):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.log = open(os.path.join(directory, "fake-idp.log"), "ab")
        # export_key: the signing key in DIR/signing.key (0600), for
        # benchmarks that sign large token pools themselves.
        self.key_file = os.path.join(directory, "signing.key") if export_key else None
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "fake_idp.py"),
                                      "--dir", directory, "--port", str(port),
                                      "--max-tls", max_tls]
                                     + (["--export-key", self.key_file] if export_key else []),
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError("fake IdP did not start: %r" % line)
        fields = dict(f.split("=", 1) for f in line.split()[1:])
        self.port = int(fields["port"])
        self.ca_file = fields["ca"]
        self.authority = "https://127.0.0.1:%d" % self.port
        self.ctx = ssl.create_default_context(cafile=self.ca_file)
        if max_tls == "1.1":  # the test tooling itself must still reach a legacy server
            self.ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            with warnings.catch_warnings():  # deprecated on purpose: a legacy peer
                warnings.simplefilter("ignore", DeprecationWarning)
                self.ctx.minimum_version = ssl.TLSVersion.TLSv1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        """Stop the server."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()

    def control(self, path, body=None):
        """POST (or GET without a body) to /_control/<path>."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.authority + "/_control/" + path, data=data,
                                     method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
            return json.loads(r.read())

    def register(self, **app):
        """Register an app (tenant, client_id, secret, certificate_pem, roles, public, user...)."""
        return self.control("register", app)

    def fault(self, **f):
        """Inject a fault (endpoint, mode, status, retry_after, delay, count, aadsts, error)."""
        return self.control("fault", f)

    def stats(self):
        """Request counters."""
        return self.control("stats")

    def reset(self, everything=False):
        """Zero the counters (and with everything, faults and apps)."""
        return self.control("reset", {"all": everything})

    def settings(self, **s):
        """token_lifetime, device_expires_in, device_interval, discovery_issuer
        (overrides the OIDC metadata's issuer when not empty)."""
        return self.control("settings", s)

    def rotate_keys(self, drop_old=False):
        """New signing key; the old one stays published unless drop_old."""
        return self.control("rotate-keys", {"drop_old": drop_old})

    def device(self, **body):
        """approve / decline / expire the latest pending device code."""
        return self.control("device", body)

    def mint(self, **body):
        """A token with chosen claims, alg, kid and key."""
        return self.control("mint", body)["token"]

    def check_refresh_token(self, rt):
        """True if the IdP would accept this refresh token."""
        return self.control("check-refresh-token", {"refresh_token": rt})["valid"]

    def get(self, path):
        """GET a public endpoint, parsed JSON."""
        with urllib.request.urlopen(self.authority + path, context=self.ctx, timeout=10) as r:
            return json.loads(r.read())


def make_app_cert(directory, name):
    """A self-signed app certificate and its key: (cert_path, key_path, cert_pem)."""
    from cryptography.hazmat.primitives import serialization
    key = fake_idp.new_key()
    cert = fake_idp.make_cert("exoauth test app " + name, key, days=365)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path = os.path.join(directory, name + ".crt")
    key_path = os.path.join(directory, name + ".key")
    fake_idp.write(cert_path, pem)
    fake_idp.write(key_path, fake_idp.pem_key(key), 0o600)
    return cert_path, key_path, pem.decode()
