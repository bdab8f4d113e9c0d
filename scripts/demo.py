# demo.py: the walk-through behind scripts/demo, everything on 127.0.0.1 and
# in a temp dir. Starts the fake Entra ID (HTTPS, test CA), one exoauthd
# with an app-only certificate account and a [validate] section, and an
# Exchange Online stand-in (Postfix + Dovecot's own oauth2 checks). Then:
# (1) a private Postfix configured with conf/postfix relays a message with
# AUTH XOAUTH2 through the SASL plugin; (2) a private Dovecot configured
# with conf/dovecot logs a user in over IMAP with an Entra token through the
# passdb plugin, and refuses an expired one. Leaves nothing running.
import os
import re
import shutil
import sys
import tempfile
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "fake-idp"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import idp as fakeidp  # noqa: E402
import mta  # noqa: E402
import test_login  # noqa: E402
from test_relay import Site, message  # noqa: E402
from test_validate import VALIDATE  # noqa: E402


def say(text):
    print("\n== " + text, flush=True)


def grep(text, pattern, n=3):
    """The last n log lines matching pattern, indented."""
    lines = [l for l in text.splitlines() if re.search(pattern, l)]
    return "\n".join("   " + l for l in lines[-n:])


def relay(tmp, idp):
    """Part 1: one message relayed with XOAUTH2; returns the site (running)."""
    up = mta.ExchangeStandIn(tmp, idp, name="exchange-standin").start()
    site = Site(tmp, idp, up, extra_accounts=VALIDATE)
    with open(site.daemon.conf) as f:
        conf = f.read()
    with open(site.daemon.conf, "w") as f:   # Dovecot's auth process asks too
        f.write(conf.replace("allow_users = postfix", "allow_users = postfix dovecot root"))
    site.start()
    say("exoauthd running (%s); exoauthctl doctor:" % site.daemon.conf)
    print(site.daemon.ctl("doctor").stdout.rstrip())
    tag = uuid.uuid4().hex[:8]
    site.submit([message(0, tag)])
    say("a scanner handed one message to the site's Postfix (127.0.0.1:%d)" % site.postfix.port)
    msg = up.wait_messages(1, timeout=60)[0]
    print(grep(site.postfix.wait_log(r"status=sent", timeout=30) and site.postfix.log_text(), r"status=sent"))
    say("the Exchange stand-in accepted it after checking the token (AUTH XOAUTH2):")
    print(grep(up.postfix.wait_log(r"sasl_method=XOAUTH2", timeout=30) and up.postfix.log_text(),
               r"sasl_method=XOAUTH2"))
    print("   Received: ... " + str(msg["Received"]).split("(Authenticated sender:")[1].split(")")[0].join(
        ["(Authenticated sender:", ")"]))
    print("   token requests seen by the fake Entra ID: %d" % site.token_requests())
    return up, site


def login(tmp, idp, site):
    """Part 2: an IMAP login with an Entra token, and an expired one refused."""
    ls = test_login.LoginSite(tmp, idp, daemon=site.daemon).start()
    try:
        tok = test_login.good(idp)
        verdict, text = test_login.imap_login(ls.ports["imap"], test_login.USER, tok)
        say("IMAP AUTHENTICATE XOAUTH2 as %s with an Entra token: %s (%s)" % (test_login.USER, verdict, text))
        # "Login:" on Dovecot 2.3, "Logged in:" on 2.4.
        ls.dovecot.wait_log(r"(?:Login|Logged in): user=<%s>, method=XOAUTH2" % test_login.USER, timeout=20)
        print(grep(ls.log(), r"(?:Login|Logged in): user="))
        old = test_login.good(idp, exp=1)
        verdict, text = test_login.imap_login(ls.ports["imap"], test_login.USER, old)
        say("the same with an expired token: %s (%s)" % (verdict, text))
        ls.dovecot.wait_log(r"refused: expired", timeout=20)
        print(grep(ls.log(), r"refused"))
        return 0
    finally:
        ls.stop()


def main():
    """Run the walk-through; exit 0 when both parts worked."""
    if os.geteuid() != 0:
        print("demo: run as root (it starts private Postfix and Dovecot instances)", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="exoauth-demo-")
    os.chmod(tmp, 0o755)
    up = site = None
    try:
        with fakeidp.FakeIdP(os.path.join(tmp, "idp")) as idp:
            say("fake Entra ID on %s (test CA %s)" % (idp.authority, idp.ca_file))
            try:
                up, site = relay(tmp, idp)
                rc = login(tmp, idp, site)
            finally:
                for part in (site, up):
                    if part:
                        part.stop()
        say("done: a message relayed with XOAUTH2 and an IMAP login with a token; nothing left running")
        return rc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
