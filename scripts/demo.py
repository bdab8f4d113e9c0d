# demo.py: the walk-through behind scripts/demo. Starts the fake Entra ID
# (HTTPS on 127.0.0.1 with a test CA), registers an app with a certificate,
# runs exoauthd with a client-credentials account and shows what an
# administrator sees with exoauthctl. Everything lives in a temp dir.
import os
import shutil
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "fake-idp"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import idp as fakeidp  # noqa: E402
from conftest import Daemon, cert_account  # noqa: E402

CLIENT_ID = "0d3c6a52-9a1e-4c3b-8f7e-5a2b1c0d9e8f"


def show(title, result):
    """Print one exoauthctl run."""
    print("\n$ exoauthctl %s" % title)
    sys.stdout.write(result.stdout + result.stderr)


def main():
    """Run the walk-through; exit 0 when a token was acquired."""
    tmp = tempfile.mkdtemp(prefix="exoauth-demo-")
    os.chmod(tmp, 0o755)
    with fakeidp.FakeIdP(os.path.join(tmp, "idp")) as idp:
        cert, key, pem = fakeidp.make_app_cert(tmp, "relay")
        idp.register(tenant="contoso.example", client_id=CLIENT_ID, certificate_pem=pem,
                     roles=["SMTP.SendAsApp", "IMAP.AccessAsApp", "POP.AccessAsApp"])
        print("fake Entra ID on %s (test CA %s)" % (idp.authority, idp.ca_file))
        d = Daemon(tmp, idp, cert_account("relay", CLIENT_ID, cert, key)).start()
        try:
            print("exoauthd running, config %s, socket %s" % (d.conf, d.socket))
            doctor = d.ctl("doctor")
            show("doctor", doctor)
            show("token relay", d.ctl("token", "relay"))
            show("status", d.ctl("status"))
            n = idp.stats()["requests"]["token"]
            print("\nThe fake IdP saw %d token request(s); exoauthd serves the cached token "
                  "until it is due for refresh." % n)
            return doctor.returncode
        finally:
            d.stop()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
