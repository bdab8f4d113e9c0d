# exchangepop.py: two pieces of the POP3 path to Exchange Online for the
# tests. Pop3Front stands in front of mta.ImapStandIn's pop3s port and
# refuses, as Exchange Online does, an AUTH command line above RFC 5034's
# 255 octets with "-ERR Protocol error" (tests/integration/EXCHANGE.md has
# the sources); every other byte passes through. BridgeSpawner runs the
# built exoauth-pop3-bridge once per connection on a loopback port, the way
# systemd's exoauth-pop3-bridge.socket (Accept=yes) does: the accepted
# socket is the bridge's stdin and stdout. Both bind 127.0.0.1 only, bound
# their connections in count and every socket operation in time.
import os
import select
import socket
import ssl
import subprocess
import threading

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
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _loop(self):
        while not self.stopping.is_set() and self.accepted < MAX_CONNECTIONS:
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


class Pop3Front(_AcceptLoop):
    """Implicit TLS on 127.0.0.1 with the fake IdP's server certificate;
    each session is relayed to upstream_port (implicit TLS, verified with
    ca_file). Counts the AUTH lines it saw by length and the ones it
    refused."""

    def __init__(self, cert_dir, ca_file, upstream_port):
        super().__init__(cert_dir, ca_file)
        self.upstream_port = upstream_port
        self.auth_lines = []       # (length, refused)
        self.lock = threading.Lock()

    def handle(self, conn):
        threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def refused(self):
        with self.lock:
            return sum(1 for _, r in self.auth_lines if r)

    def passed(self):
        with self.lock:
            return sum(1 for _, r in self.auth_lines if not r)

    def _session(self, raw):
        try:
            client = self.server_ctx.wrap_socket(raw, server_side=True)
            up = self.client_ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.upstream_port),
                                                                      timeout=TIMEOUT),
                                             server_hostname="127.0.0.1")
        except (OSError, ssl.SSLError):
            raw.close()
            return
        with client, up:
            pump(client, up, lambda line: self._from_client(line, client, up), lambda line: _send(client, line))

    def _from_client(self, line, client, up):
        """One client line to the server, or Exchange's refusal of it."""
        if line[:5].upper() == b"AUTH ":
            refused = len(line) > AUTH_LINE_LIMIT
            with self.lock:
                self.auth_lines.append((len(line), refused))
            if refused:
                client.sendall(b"-ERR Protocol error\r\n")
                return True
        up.sendall(line)
        return True


def _send(sock, data):
    sock.sendall(data)
    return True


def pump(left, right, from_left, from_right):
    """Relay two sockets line by line in one thread (an SSL socket must not
    be read in one thread while another writes it): from_left(line) and
    from_right(line) handle each complete line and return False to end the
    session. Ends when either side closes, fails, or is idle for TIMEOUT."""
    handlers = {left: from_left, right: from_right}
    buffers = {left: b"", right: b""}
    try:
        while True:
            ready = [s for s in (left, right) if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                ready = select.select([left, right], [], [], TIMEOUT)[0]
            if not ready:
                return
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
