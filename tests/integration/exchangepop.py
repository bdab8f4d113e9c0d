# exchangepop.py: the IMAP and POP3 paths to Exchange Online for the tests.
# Pop3Front and ImapFront stand in front of mta.ImapStandIn's pop3s and
# imaps ports and behave as Exchange Online does where Dovecot is kinder
# (tests/integration/EXCHANGE.md has the sources): Pop3Front refuses an AUTH
# command line above RFC 5034's 255 octets with "-ERR Protocol error", and
# both end a session once the token it logged in with has expired ("* BYE
# Session invalidated - AccessTokenExpired"), waking at that deadline even
# when the client is idle; every other byte passes through. They read the
# token's exp without verifying it: Dovecot behind them verifies. BridgeSpawner
# runs the built exoauth-pop3-bridge once per connection on a loopback port,
# the way systemd's exoauth-pop3-bridge.socket (Accept=yes) does: the
# accepted socket is the bridge's stdin and stdout. All bind 127.0.0.1 only,
# bound their connections in count and every socket operation in time.
import base64
import binascii
import json
import os
import re
import select
import socket
import ssl
import subprocess
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("EXOAUTH_BUILD", TOP)   # as in mta.py
BRIDGE = os.environ.get("EXOAUTH_POP3_BRIDGE", os.path.join(BUILD, "exoauth-pop3-bridge"))
AUTH_LINE_LIMIT = 255   # RFC 5034 section 4, CRLF included
MAX_CONNECTIONS = 64    # per instance: the tests make a handful
TIMEOUT = 30            # seconds, any single socket operation


def _listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    s.settimeout(0.5)  # so the accept loop sees stop() promptly
    return s


class _AcceptLoop:
    """A loopback listener whose connections go to handle(conn), each at
    most once, for at most MAX_CONNECTIONS connections; with cert_dir, TLS
    contexts to serve (the fake IdP's server certificate, TLS >= 1.2) and
    to connect (verified with ca_file)."""

    def __init__(self, cert_dir=None, ca_file=None):
        if cert_dir:
            self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.server_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            self.server_ctx.load_cert_chain(os.path.join(cert_dir, "server.pem"),
                                            os.path.join(cert_dir, "server.key"))
            self.client_ctx = ssl.create_default_context(cafile=ca_file)
        self.sock = _listener()
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.accepted = 0
        self.max_connections = MAX_CONNECTIONS   # a bench may raise it
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _loop(self):
        while not self.stopping.is_set() and self.accepted < self.max_connections:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            conn.settimeout(TIMEOUT)
            self.handle(conn)

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=10)
        self.sock.close()


def bearer_exp(response):
    """The exp claim of the bearer token in an XOAUTH2 or OAUTHBEARER client
    response (base64, as sent on the wire), read without checking anything;
    None when there is no such claim."""
    try:
        message = base64.b64decode(response.strip(), validate=True)
        found = re.search(rb"auth=Bearer ([^\x01]+)\x01", message)
        if not found:
            return None
        payload = found.group(1).split(b".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
        exp = claims.get("exp") if isinstance(claims, dict) else None
    except (ValueError, IndexError, binascii.Error):
        return None
    return exp if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


class _Session:
    """What a front knows of one session: the exp of the token sent in a
    login not yet answered, the tag that login (IMAP) goes by, whether the
    next client line is a SASL response, and the deadline once logged in."""

    def __init__(self):
        self.pending_exp = None
        self.tag = None
        self.awaiting_response = False
        self.awaiting_answer = False
        self.deadline = None


class _ExchangeFront(_AcceptLoop):
    """Implicit TLS on 127.0.0.1 with the fake IdP's server certificate;
    each session is relayed to upstream_port (implicit TLS, verified with
    ca_file). Once a login succeeds with a token, the session is ended
    expiry_grace seconds after that token's exp, as Exchange ends it: the
    line EXPIRED to the client, then close. Subclasses say which client
    lines are logins (login(line, session)) and which server line accepts
    one (login_answer(line, session))."""

    EXPIRED = b""

    def __init__(self, cert_dir, ca_file, upstream_port, expiry_grace=0):
        super().__init__(cert_dir, ca_file)
        self.upstream_port = upstream_port
        self.expiry_grace = expiry_grace
        self.lock = threading.Lock()
        self.expired_sessions = 0  # sessions ended for an expired token

    def handle(self, conn):
        """Each session in its own thread."""
        threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def ended(self):
        """How many sessions were ended for an expired token so far."""
        with self.lock:
            return self.expired_sessions

    def _session(self, raw):
        """TLS with the client and with the server, then the relay."""
        try:
            client = self.server_ctx.wrap_socket(raw, server_side=True)
            up = self.client_ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.upstream_port),
                                                                      timeout=TIMEOUT),
                                             server_hostname="127.0.0.1")
        except (OSError, ssl.SSLError):
            raw.close()
            return
        session = _Session()
        with client, up:
            pump(client, up, lambda line: self._from_client(line, client, up, session),
                 lambda line: self._from_server(line, client, session),
                 deadline=lambda: session.deadline, on_deadline=lambda: self._expire(client))

    def _from_client(self, line, client, up, session):
        """One client line to the server, or the front's own answer to it."""
        if session.deadline is None and not self.login(line, session, client):
            return True
        up.sendall(line)
        return True

    def _from_server(self, line, client, session):
        """One server line to the client; a login's answer arms the deadline."""
        if session.awaiting_answer:
            verdict = self.login_answer(line, session)
            if verdict is not None:
                session.awaiting_answer = False
                if verdict and session.pending_exp is not None:
                    session.deadline = session.pending_exp + self.expiry_grace
                session.pending_exp = None
        client.sendall(line)
        return True

    def _expire(self, client):
        """Exchange's end of a session whose token has expired."""
        with self.lock:
            self.expired_sessions += 1
        try:
            client.sendall(self.EXPIRED)
        except (OSError, ssl.SSLError):
            pass

    def _sasl_start(self, session, response):
        """A login starts: its initial response, or None for one to come."""
        session.awaiting_answer = True
        session.pending_exp = None
        session.awaiting_response = response is None
        if response is not None:
            session.pending_exp = bearer_exp(response)

    def _sasl_response(self, line, session):
        """The client line after the server's "+": the SASL response."""
        session.awaiting_response = False
        session.pending_exp = bearer_exp(line)


class Pop3Front(_ExchangeFront):
    """Exchange's POP3 (995): refuses an AUTH line above 255 octets with
    "-ERR Protocol error"; ends a session whose token has expired. Counts
    the AUTH lines it saw by length and the ones it refused."""

    EXPIRED = b"-ERR Session invalidated - AccessTokenExpired\r\n"

    def __init__(self, cert_dir, ca_file, upstream_port, expiry_grace=0):
        super().__init__(cert_dir, ca_file, upstream_port, expiry_grace)
        self.auth_lines = []       # (length, refused)

    def refused(self):
        """AUTH lines refused for their length so far."""
        with self.lock:
            return sum(1 for _, r in self.auth_lines if r)

    def passed(self):
        """AUTH lines passed to Dovecot so far."""
        with self.lock:
            return sum(1 for _, r in self.auth_lines if not r)

    def login(self, line, session, client):
        """Notes an AUTH and its response; False when Exchange refuses it."""
        if line[:5].upper() == b"AUTH ":
            refused = len(line) > AUTH_LINE_LIMIT
            with self.lock:
                self.auth_lines.append((len(line), refused))
            if refused:
                client.sendall(b"-ERR Protocol error\r\n")
                return False
            words = line.split()
            self._sasl_start(session, words[2] if len(words) > 2 else None)
        elif session.awaiting_response:
            self._sasl_response(line, session)
        return True

    def login_answer(self, line, session):
        """+OK after the response accepts the login, -ERR refuses it."""
        if line.startswith(b"+OK"):
            return True
        if line.startswith(b"-ERR"):
            return False
        return None


class ImapFront(_ExchangeFront):
    """Exchange's IMAP (993): ends a session whose token has expired with an
    untagged BYE, whatever the client is doing (idle, IDLE, or a command)."""

    EXPIRED = b"* BYE Session invalidated - AccessTokenExpired\r\n"
    AUTHENTICATE = re.compile(rb"^(\S+) AUTHENTICATE (?:XOAUTH2|OAUTHBEARER)(?: (\S+))?\r?\n$", re.I)

    def login(self, line, session, client):
        """Notes an AUTHENTICATE (with SASL-IR or not) and its response."""
        found = self.AUTHENTICATE.match(line)
        if found:
            session.tag = found.group(1)
            self._sasl_start(session, found.group(2))
        elif session.awaiting_response:
            self._sasl_response(line, session)
        return True

    def login_answer(self, line, session):
        """The login's tagged answer: OK accepts, NO or BAD refuses."""
        words = line.split(b" ", 2)
        if len(words) < 2 or words[0] != session.tag:
            return None
        return words[1].upper() == b"OK"


def _send(sock, data):
    sock.sendall(data)
    return True


def pump(left, right, from_left, from_right, deadline=lambda: None, on_deadline=lambda: None):
    """Relay two sockets line by line in one thread (an SSL socket must not
    be read in one thread while another writes it): from_left(line) and
    from_right(line) handle each complete line and return False to end the
    session. Ends when either side closes, fails, or is idle for TIMEOUT,
    or, when deadline() gives a wall-clock time, at that time after calling
    on_deadline(), even if neither side sends anything."""
    handlers = {left: from_left, right: from_right}
    buffers = {left: b"", right: b""}
    last = time.monotonic()
    try:
        while True:
            wait = TIMEOUT - (time.monotonic() - last)
            end = deadline()
            if end is not None:
                if time.time() >= end:
                    on_deadline()
                    return
                wait = min(wait, end - time.time())
            if wait <= 0:
                return
            ready = [s for s in (left, right) if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                ready = select.select([left, right], [], [], wait)[0]
            if not ready:
                continue
            last = time.monotonic()
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                buffers[s] += data
                while b"\n" in buffers[s]:
                    line, buffers[s] = buffers[s].split(b"\n", 1)
                    if not handlers[s](line + b"\n"):
                        return
    except (OSError, ssl.SSLError, ValueError):
        return


class BridgeSpawner(_AcceptLoop):
    """exoauth-pop3-bridge, one process per accepted connection, with the
    connection as its stdin and stdout and its stderr in log_path."""

    def __init__(self, root, connect, ca_file, extra_args=()):
        super().__init__()
        self.argv = [BRIDGE, "--connect", connect, "--ca-file", ca_file, "--timeout", "20"] + list(extra_args)
        self.log_path = os.path.join(root, "pop3-bridge-%d.log" % self.port)
        self.procs = []

    def handle(self, conn):
        with open(self.log_path, "ab") as log:
            self.procs.append(subprocess.Popen(self.argv, stdin=conn.fileno(), stdout=conn.fileno(),
                                               stderr=log, close_fds=True))
        conn.close()

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def exit_codes(self):
        """The exit status of each bridge run so far, waiting for each."""
        return [p.wait(timeout=TIMEOUT) for p in list(self.procs)]

    def stop(self):
        super().stop()
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)
