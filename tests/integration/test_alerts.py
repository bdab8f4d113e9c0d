# test_alerts.py: exoauthd's [alerts] (issue 14, deliverable 2) with the
# fake Entra ID: each event fires exactly once for its state and again only
# after the reminder interval, a cleared state fires "resolved" once, an
# expiring certificate fires at start, an unreachable IdP fires after the
# threshold, a fresh token refused upstream fires, a hanging command is
# killed after its timeout while exoauthd keeps answering, and no event
# ever holds a token; the shipped example commands (mail, webhook) deliver
# an event to a local SMTP sink and HTTPS server. The alert command is a small script that writes its
# arguments, stdin and environment to a file per call.
import http.server
import json
import os
import re
import signal
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import EXOAUTHCTL, TENANT, Daemon, cert_account, delegated_account

import fake_idp
from mta import wait_until as wait_for

CID = "77777777-2222-3333-4444-0000000000%02d"

RECORDER = """#!/usr/bin/python3
# Test alert command: one JSON file per call with argv, stdin and environ.
import json, os, sys, time
out = %r
data = {"argv": sys.argv[1:], "stdin": sys.stdin.read(), "env": dict(os.environ)}
tmp = os.path.join(out, ".tmp.%%d" %% os.getpid())
with open(tmp, "w") as f:
    json.dump(data, f)
os.rename(tmp, os.path.join(out, "%%020d-%%d.json" %% (time.time_ns(), os.getpid())))
print("recorded", sys.argv[1])
"""

HANGER = """#!/usr/bin/python3
# Test alert command that never ends: says it started (with its pid), then sleeps.
import os, sys
out = %r
with open(os.path.join(out, ".tmp"), "w") as f:
    f.write("%%d %%s\\n" %% (os.getpid(), " ".join(sys.argv[1:])))
os.rename(os.path.join(out, ".tmp"), os.path.join(out, "started-%%d" %% os.getpid()))
os.execv("/bin/sleep", ["sleep", "3600"])
"""


class Recorder:
    """The alert command's output directory and script."""

    def __init__(self, tmp_root, template=RECORDER):
        self.dir = tempfile.mkdtemp(prefix="alerts-", dir=tmp_root)
        self.script = os.path.join(self.dir, "alert")
        self.out = os.path.join(self.dir, "out")
        os.mkdir(self.out)
        with open(self.script, "w") as f:
            f.write(template % self.out)
        os.chmod(self.script, 0o755)

    def events(self, kind=None):
        """Every call so far, oldest first: dicts with argv, env, event."""
        calls = []
        for name in sorted(n for n in os.listdir(self.out) if n.endswith(".json")):
            with open(os.path.join(self.out, name)) as f:
                c = json.load(f)
            c["event"] = json.loads(c["stdin"])
            calls.append(c)
        return [c for c in calls if kind is None or c["event"]["kind"] == kind]

    def raw(self):
        """Everything every call was given, as one string."""
        text = ""
        for name in os.listdir(self.out):
            with open(os.path.join(self.out, name)) as f:
                text += f.read()
        return text


def alerts_section(script, **keys):
    """An [alerts] section running script."""
    return "[alerts]\ncommand = %s\n%s\n" % (script, "".join("%s = %s\n" % kv for kv in keys.items()))


def start(tmp_root, idp, daemons, accounts):
    """Start a daemon for accounts (and [alerts])."""
    d = Daemon(tmp_root, idp, accounts).start()
    daemons.append(d)
    return d


def cert_app(tmp_root, idp, n, days=365):
    """Register app n with a certificate valid for days: its [account app]."""
    d = tempfile.mkdtemp(prefix="certs-", dir=tmp_root)
    key = fake_idp.new_key()
    from cryptography.hazmat.primitives import serialization
    pem = fake_idp.make_cert("exoauth alerts app", key, days=days).public_bytes(serialization.Encoding.PEM)
    cert, keyfile = os.path.join(d, "app.crt"), os.path.join(d, "app.key")
    fake_idp.write(cert, pem)
    fake_idp.write(keyfile, fake_idp.pem_key(key), 0o600)
    idp.register(tenant=TENANT, client_id=CID % n, certificate_pem=pem.decode(),
                 roles=["SMTP.SendAsApp"])
    return cert_account("app", CID % n, cert, keyfile)


def assert_stays(pred, seconds, what):
    """pred stays true while the daemon's clock moves on by seconds (each
    poll is a check, not a synchronisation)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert pred(), what
        time.sleep(0.05)


def test_failed_fires_once_then_after_reminder_then_resolved(tmp_root, fresh_idp, daemons):
    fresh_idp.fault(endpoint="token", mode="entra_error", aadsts=7000222, error="invalid_client", count=-1)
    rec = Recorder(tmp_root)
    d = start(tmp_root, fresh_idp, daemons, cert_app(tmp_root, fresh_idp, 1) + alerts_section(rec.script, reminder=3))
    first = wait_for(lambda: rec.events("account_failed"), 15, "the account_failed alert")[0]
    e = first["event"]
    assert first["argv"] == ["account_failed", "app"], first["argv"]
    assert e["severity"] == "critical" and e["account"] == "app" and not e["reminder"], e
    assert e["message_id"] == "64231a1da9d94eb7bd19a54355ab2678", e
    assert "AADSTS7000222" in e["text"] and "expired" in e["hint"], e
    assert e["first_seen"] <= e["time"], e
    assert set(first["env"]) <= {"PATH", "LC_ALL", "PWD"}, first["env"]  # nothing of exoauthd's
    log = d.read_log()
    assert "alert account_failed:" in log and "MESSAGE_ID=64231a1da9d94eb7bd19a54355ab2678" in log, log
    wait_for(lambda: "alert command: recorded account_failed" in d.read_log(), 10, "its output in the log")
    # Exactly once until the reminder is due, then once more.
    second = wait_for(lambda: rec.events("account_failed")[1:], 15, "the reminder")[0]["event"]
    assert second["reminder"] and second["first_seen"] == e["first_seen"], second
    assert second["time"] - e["time"] >= 3, (e, second)
    assert len(rec.events("account_failed")) == 2
    # Recovery: the next attempt gets a token; resolved fires once.
    fresh_idp.fault(endpoint="token", mode="none")
    s, f = wait_for(lambda: (lambda r: r if r[0] == "OK" else None)(d.token()), 30, "a token")
    res = wait_for(lambda: rec.events("resolved"), 10, "the resolved alert")[0]
    assert res["argv"] == ["resolved", "app"] and res["event"]["resolves"] == "account_failed", res
    assert res["event"]["message_id"] == "07cb73472b3942f7be065833cae03987"
    assert_stays(lambda: len(rec.events("resolved")) == 1 and len(rec.events("account_failed")) == 2, 3.5,
                 "one resolved, no more reminders")
    # The token (and its hash) never reaches the command.
    s, f = d.token()
    assert s == "OK"
    assert f["token"] not in rec.raw() and f["hash"] not in rec.raw()


def test_expiring_certificate_fires_at_start(tmp_root, fresh_idp, daemons):
    rec = Recorder(tmp_root)
    start(tmp_root, fresh_idp, daemons, cert_app(tmp_root, fresh_idp, 2, days=10) + alerts_section(rec.script))
    c = wait_for(lambda: rec.events("credential_expiring"), 10, "the expiry alert")[0]
    assert c["argv"] == ["credential_expiring", "app"]
    assert c["event"]["severity"] == "warning" and "certificate expires on" in c["event"]["text"], c["event"]
    assert "(in 9 days)" in c["event"]["text"] or "(in 10 days)" in c["event"]["text"], c["event"]
    assert_stays(lambda: len(rec.events()) == 1, 1.0, "one alert only (default reminder: a day)")


def test_idp_unreachable_fires_once_after_the_threshold(tmp_root, fresh_idp, daemons):
    fresh_idp.fault(endpoint="token", mode="status", status=503, count=-1)
    rec = Recorder(tmp_root)
    d = start(tmp_root, fresh_idp, daemons,
              cert_app(tmp_root, fresh_idp, 3) + alerts_section(rec.script, idp_unreachable_after=2))
    began = time.time()
    c = wait_for(lambda: rec.events("idp_unreachable"), 20, "the unreachable alert")[0]
    e = c["event"]
    assert e["time"] >= int(began) + 2 - 1 and "503" in e["text"], e
    assert e["message_id"] == "36aabe4d12924204a13abaae5d9b0862"
    assert_stays(lambda: len(rec.events("idp_unreachable")) == 1, 2.0, "one unreachable alert")
    fresh_idp.fault(endpoint="token", mode="none")
    wait_for(lambda: d.token()[0] == "OK", 30, "a token after the outage")
    wait_for(lambda: rec.events("resolved"), 10, "resolved")
    assert [c["event"]["resolves"] for c in rec.events("resolved")] == ["idp_unreachable"]


def test_fresh_token_refused_upstream_fires(tmp_root, fresh_idp, daemons):
    rec = Recorder(tmp_root)
    d = start(tmp_root, fresh_idp, daemons, cert_app(tmp_root, fresh_idp, 4) + alerts_section(rec.script))
    c = d.connect()
    s, f = c.request("1", "TOKEN", account="app")
    assert s == "OK"
    s, g = c.request("2", "INVALIDATE", account="app", hash=f["hash"])
    assert s == "OK" and g["dropped"] == "yes"
    ev = wait_for(lambda: rec.events("token_rejected"), 10, "the token_rejected alert")[0]["event"]
    assert ev["message_id"] == "f3fee72905294bafa3f9c061b08cfa0f" and "fresh token" in ev["text"], ev
    assert f["token"] not in rec.raw() and f["hash"] not in rec.raw()


def test_hanging_command_is_killed_and_exoauthd_keeps_answering(tmp_root, fresh_idp, daemons):
    rec = Recorder(tmp_root, HANGER)
    accounts = (cert_app(tmp_root, fresh_idp, 5) + delegated_account("first", CID % 6) +
                delegated_account("second", CID % 7) + alerts_section(rec.script, timeout=2))
    d = start(tmp_root, fresh_idp, daemons, accounts)
    started = lambda: sorted(n for n in os.listdir(rec.out) if n.startswith("started-"))
    name = wait_for(started, 10, "the alert command to start")[0]
    pid = int(name.split("-")[1])
    with open(os.path.join(rec.out, name)) as f:
        assert f.read().split()[1:] == ["login_required", "first"]
    # While it hangs, exoauthd answers.
    c = d.connect()
    assert c.request("1", "PING")[0] == "OK"
    s, f = c.request("2", "TOKEN", account="app")
    assert s == "OK", f
    assert "killed after" not in d.read_log()  # answered during the hang
    assert os.path.exists("/proc/%d" % pid)
    wait_for(lambda: "alert command for login_required killed after 2 s" in d.read_log(), 10, "the kill")
    wait_for(lambda: not os.path.exists("/proc/%d" % pid), 5, "the process to be gone")
    # The queued second event runs next (and is killed in turn).
    second = wait_for(lambda: started()[1:], 10, "the second alert command")[0]
    with open(os.path.join(rec.out, second)) as f:
        assert f.read().split()[1:] == ["login_required", "second"]
    assert c.request("3", "PING")[0] == "OK"


def test_no_alerts_section_runs_nothing(tmp_root, fresh_idp, daemons):
    d = start(tmp_root, fresh_idp, daemons, delegated_account("lonely", CID % 8))
    c = d.connect()
    assert c.request("1", "PING")[0] == "OK"
    assert "alert" not in d.read_log()


EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "conf", "alerts")
EVENT = json.dumps({"kind": "account_failed", "severity": "critical", "account": "relay",
                    "message_id": "64231a1da9d94eb7bd19a54355ab2678", "text": "account relay failed: AADSTS7000222",
                    "hint": "the client secret expired", "first_seen": 1, "time": 2, "reminder": False}) + "\n"


class SmtpSink(socketserver.StreamRequestHandler):
    """Just enough SMTP for curl's client: every message lands in server.mails."""

    def handle(self):
        say = lambda s: self.wfile.write(s.encode() + b"\r\n")
        say("220 sink ESMTP")
        mail = {"rcpt": [], "data": ""}
        while True:
            line = self.rfile.readline(4096).decode().rstrip("\r\n")
            verb = line.split(" ")[0].upper()
            if not line or verb == "QUIT":
                return say("221 bye")
            if verb == "DATA":
                say("354 go on")
                while (l := self.rfile.readline(65536).decode()) not in (".\r\n", ""):
                    mail["data"] += l
                self.server.mails.append(dict(mail))
                say("250 queued")
                continue
            if verb == "RCPT":
                mail["rcpt"].append(line)
            say("250 ok")


def test_example_mail_command_sends_the_event(tmp_root):
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), SmtpSink) as srv:
        srv.mails = []
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            env = {"PATH": "/usr/bin:/bin", "EXOAUTH_ALERT_SMTP": "smtp://127.0.0.1:%d" % srv.server_address[1]}
            r = subprocess.run([os.path.join(EXAMPLES, "alert-mail"), "ops@example.org", "account_failed", "relay"],
                               input=EVENT, capture_output=True, text=True, env=env, timeout=30)
        finally:
            srv.shutdown()
    assert r.returncode == 0, r.stderr
    assert len(srv.mails) == 1 and "ops@example.org" in srv.mails[0]["rcpt"][0]
    data = srv.mails[0]["data"]
    assert "Subject: exoauth alert: account_failed relay on " in data and "AADSTS7000222" in data, data


def test_example_webhook_command_posts_the_event(tmp_root):
    d = tempfile.mkdtemp(prefix="hook-", dir=tmp_root)
    fake_idp.make_tls_files(d)
    got = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            got.append((self.path, self.headers["Content-Type"],
                        self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url_file = os.path.join(d, "url")
    with open(url_file, "w") as f:
        f.write("https://127.0.0.1:%d/hooks/T0KEN\n" % srv.server_address[1])
    try:
        env = {"PATH": "/usr/bin:/bin", "CURL_CA_BUNDLE": os.path.join(d, "ca.pem")}
        r = subprocess.run([os.path.join(EXAMPLES, "alert-webhook"), url_file, "account_failed", "relay"],
                           input=EVENT, capture_output=True, text=True, env=env, timeout=30)
    finally:
        srv.shutdown()
        srv.server_close()
    assert r.returncode == 0, r.stderr
    assert got == [("/hooks/T0KEN", "application/json", EVENT.encode())], got


JOURNAL = "/run/systemd/journal/socket"


@pytest.mark.skipif(os.path.exists(JOURNAL) or os.geteuid() != 0,
                    reason="needs root and no journald (it takes journald's socket path)")
def test_under_the_journal_events_carry_message_id_fields(tmp_root, fresh_idp, daemons):
    # exoauthd believes its stderr is the journal when JOURNAL_STREAM names
    # it; this socket stands in for journald and receives the native entries.
    made = [p for p in ("/run/systemd", "/run/systemd/journal") if not os.path.exists(p)]
    for p in made:
        os.mkdir(p, 0o755)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(JOURNAL)
    sock.settimeout(15)
    try:
        rec = Recorder(tmp_root)
        d = Daemon(tmp_root, fresh_idp, delegated_account("j", CID % 9) + alerts_section(rec.script))
        open(d.log, "ab").close()
        st = os.stat(d.log)
        os.environ["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        try:
            daemons.append(d.start())
        finally:
            del os.environ["JOURNAL_STREAM"]
        fields = {}
        while fields.get("EXOAUTH_ALERT") != "login_required":
            entry = sock.recv(65536).decode()
            fields = dict(l.split("=", 1) for l in entry.splitlines() if "=" in l)
        assert fields["MESSAGE_ID"] == "0dedce15db1343b490d2cf8a41450d43", fields
        assert fields["EXOAUTH_ACCOUNT"] == "j" and fields["PRIORITY"] == "3", fields
        assert fields["MESSAGE"].startswith("alert login_required: account j needs"), fields
        assert "MESSAGE_ID=" not in d.read_log()  # not also in the plain line
    finally:
        sock.close()
        os.unlink(JOURNAL)
        for p in reversed(made):
            os.rmdir(p)


def test_login_required_resolves_on_login_and_an_unused_refresh_token_warns(tmp_root, fresh_idp, daemons):
    fresh_idp.register(tenant=TENANT, client_id=CID % 10, public=True, user="alice@contoso.example")
    rec = Recorder(tmp_root)
    d = start(tmp_root, fresh_idp, daemons, delegated_account("user", CID % 10) + alerts_section(rec.script))
    c = wait_for(lambda: rec.events("login_required"), 10, "login_required")[0]["event"]
    assert c["hint"] == "run: exoauthctl login user", c
    p = subprocess.Popen([EXOAUTHCTL, "-c", d.conf, "login", "user"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    p.stdout.readline()
    fresh_idp.device(action="approve")
    assert p.wait(timeout=30) == 0
    r = wait_for(lambda: rec.events("resolved"), 10, "resolved after the login")[0]["event"]
    assert r["resolves"] == "login_required" and r["account"] == "user", r
    with open(os.path.join(d.state, "user.rt")) as f:
        refresh_token = f.read().split("\n")[1]
    # Unused for 70 days (exoauthd down, say): 20 days left, under warn_days.
    seventy_days_ago = int(time.time()) - 70 * 86400
    os.utime(os.path.join(d.state, "user.rt"), (seventy_days_ago, seventy_days_ago))
    d.stop()
    fresh_idp.fault(endpoint="token", mode="status", status=503, count=-1)  # no refresh at start
    d.start()
    e = wait_for(lambda: rec.events("credential_expiring"), 10, "the refresh token warning")[0]["event"]
    assert "refresh token expires on" in e["text"] and re.search(r"\(in (19|20) days\)", e["text"]), e
    assert refresh_token not in rec.raw() and refresh_token[:40] not in rec.raw()


def test_reload_turns_alerts_on_and_refuses_a_writable_program(tmp_root, fresh_idp, daemons):
    rec = Recorder(tmp_root)
    d = start(tmp_root, fresh_idp, daemons, delegated_account("later", CID % 11))
    with open(d.conf, "a") as f:
        f.write(alerts_section(rec.script))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: rec.events("login_required"), 10, "login_required after the reload")
    os.chmod(rec.script, 0o775)
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in d.read_log(), 10, "the reload to be refused")
    assert "alerts command %s: writable by group or others" % rec.script in d.read_log()
    assert d.connect().request("1", "PING")[0] == "OK"
    assert len(rec.events()) == 1


def test_a_full_queue_logs_the_event_it_cannot_pass_on(tmp_root, fresh_idp, daemons):
    # One command runs (and hangs), 32 wait: the 34th event is only logged.
    rec = Recorder(tmp_root, HANGER)
    accounts = "".join(delegated_account("q%02d" % i, CID % 12) for i in range(34))
    d = start(tmp_root, fresh_idp, daemons, accounts + alerts_section(rec.script, timeout=60))
    wait_for(lambda: "not passed to the command: 32 alerts already wait (1 dropped so far)" in d.read_log(),
             10, "the drop")
    assert d.read_log().count("alert login_required: ") == 34
    first = wait_for(lambda: [n for n in os.listdir(rec.out) if n.startswith("started-")], 10, "the first command")
    assert d.connect().request("1", "PING")[0] == "OK"
    assert len([n for n in os.listdir(rec.out) if n.startswith("started-")]) == 1  # the rest wait
    d.stop()
    assert not os.path.exists("/proc/%s" % first[0].split("-")[1])  # killed and reaped on the way out
