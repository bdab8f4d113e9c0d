# exchangesmtp.py: SmtpFront, the part of the SMTP stand-in that answers the
# way Exchange Online (smtp.office365.com:587) does where Postfix + Dovecot
# would answer otherwise (tests/integration/EXCHANGE.md lists each case
# with its source). It takes the client's connection and STARTTLS itself,
# then relays the session over STARTTLS to mta.ExchangeStandIn's Postfix,
# which still checks every token with Dovecot's oauth2 passdb. On the way:
#   - a refused token: "535 5.7.3 Authentication unsuccessful" instead of
#     Postfix's 535 5.7.8, and, like Exchange, no RFC 7628 challenge first
#     (the front answers Dovecot's challenge itself and keeps it);
#   - SMTP AUTH off for the tenant or for a mailbox: 535 5.7.139;
#   - more than `max_sessions` authenticated sessions of one mailbox:
#     432 4.3.2 Concurrent connections limit exceeded;
#   - a From address the mailbox may not send as: 554 5.2.252 SendAsDenied
#     at the end of DATA (the message is not delivered);
#   - more than `per_minute` messages of one mailbox within `minute_seconds`
#     (30 a minute): Exchange delays, it does not refuse ("any excess ... is
#     throttled and successively carried over to the following minutes"),
#     so the front holds the end of DATA until the mailbox's sliding minute
#     has room, then passes it on (the client sees a late 250);
#   - more than `recipients_per_day` recipients of one mailbox within
#     `day_seconds` (10,000 a day): 554 5.2.0 SubmissionQuotaExceededException
#     at the end of DATA (not delivered);
#   - a mailbox in `mailbox_full`: 554 5.2.2 mailbox full at the end of DATA.
# minute_seconds and day_seconds scale time so a test takes seconds.
# Loopback only; connections bounded in count, sockets in time.
import base64
import socket
import ssl
import threading
import time

from exchangepop import TIMEOUT, _AcceptLoop, pump

GREETING = b"220 front.outlook.example Microsoft ESMTP MAIL Service ready\r\n"
EHLO_PLAIN = (b"250-front.outlook.example Hello\r\n250-SIZE 157286400\r\n250-PIPELINING\r\n"
              b"250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
REFUSED = b"535 5.7.3 Authentication unsuccessful [front.outlook.example]\r\n"
DISABLED = (b"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the %s. "
            b"Visit https://aka.ms/smtp_auth_disabled for more information. [front.outlook.example]\r\n")
CONCURRENT = (b"432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending "
              b"for more information. [Hostname=front.outlook.example]\r\n")
SEND_AS = (b"554 5.2.252 SendAsDenied; %s not allowed to send as %s; "
           b"STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; "
           b"Failed to process message due to a permanent exception [front.outlook.example]\r\n")
QUOTA = (b"554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; "
         b"Failed to process message due to a permanent exception with message Cannot submit message. "
         b"[front.outlook.example]\r\n")
MAILBOX_FULL = (b"554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException."
                b"MapiExceptionShutoffQuotaExceeded [front.outlook.example]\r\n")


def sasl_user(response):
    """The user of a base64 XOAUTH2 (user=) or OAUTHBEARER (a=) client
    response, or None."""
    try:
        raw = base64.b64decode(response, validate=True).decode("utf-8", "replace")
    except (ValueError, TypeError):
        return None
    for part in raw.split("\x01")[0].split(","):
        if part.startswith("user=") or part.startswith("a="):
            return part.split("=", 1)[1].lower()
    return None


class SmtpFront(_AcceptLoop):
    """Exchange's answers in front of the SMTP stand-in (see the top)."""

    def __init__(self, cert_dir, ca_file, backend_port, max_sessions=3, per_minute=30, minute_seconds=60.0,
                 recipients_per_day=10000, day_seconds=86400.0):
        super().__init__(cert_dir, ca_file)
        self.backend_port = backend_port
        self.max_sessions = max_sessions
        self.per_minute, self.minute_seconds = per_minute, minute_seconds
        self.recipients_per_day, self.day_seconds = recipients_per_day, day_seconds
        self.lock = threading.Lock()
        # What a test sets: SMTP AUTH off for the tenant or these mailboxes,
        # and who may send as whom beyond the mailbox itself.
        self.tenant_auth_disabled = False
        self.auth_disabled = set()
        self.send_as = {}             # mailbox -> set of From addresses
        self.mailbox_full = set()
        self.active = {}              # mailbox -> authenticated sessions now
        # What a test reads: the most sessions of a mailbox at once, the
        # time of each message passed on, (time, count) of its recipients,
        # and how many messages were held for a later minute.
        self.peak = {}                # mailbox -> most authenticated sessions at once
        self.submitted = {}           # mailbox -> [monotonic time of each message passed on]
        self.recipients = {}          # mailbox -> [(monotonic time, recipients)]
        self.held = 0
        self.answers = []             # (mailbox, first line of each Exchange-only answer)

    def handle(self, conn):
        threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _note(self, mailbox, answer):
        with self.lock:
            self.answers.append((mailbox, answer.split(b"\r\n")[0].decode()))

    def admit(self, mailbox):
        """Wait, as Exchange's throttling does, until the mailbox has sent
        fewer than per_minute messages in the last minute_seconds, then
        count this one. Bounded: a slot frees within minute_seconds."""
        held = False
        while True:
            with self.lock:
                now = time.monotonic()
                times = self.submitted.setdefault(mailbox, [])
                recent = [t for t in times[-self.per_minute:] if t > now - self.minute_seconds]
                if len(recent) < self.per_minute:
                    times.append(now)
                    return
                wait = recent[0] + self.minute_seconds - now
                self.held += 0 if held else 1
                held = True
            if self.stopping.wait(wait):
                raise OSError("front stopping")

    def over_quota(self, mailbox, count):
        """True if count more recipients would exceed the mailbox's daily
        quota; otherwise they are counted."""
        with self.lock:
            now = time.monotonic()
            log = [(t, n) for t, n in self.recipients.get(mailbox, []) if t > now - self.day_seconds]
            if sum(n for _, n in log) + count > self.recipients_per_day:
                return True
            self.recipients[mailbox] = log + [(now, count)]
            return False

    def most_in_a_minute(self, mailbox):
        """The most messages of a mailbox passed on within any minute_seconds."""
        times = self.submitted.get(mailbox, [])
        return max((sum(1 for u in times[i:] if u < t + self.minute_seconds) for i, t in enumerate(times)),
                   default=0)

    def _session(self, raw):
        session = _Session(self, raw)
        try:
            session.run()
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            session.close()


class _Session:
    """One client connection through the front: plain text up to STARTTLS
    here, then both sides relayed by exchangepop.pump in one thread."""

    def __init__(self, front, raw):
        self.front = front
        self.client = raw
        self.backend = None
        self.mailbox = None           # after a successful AUTH
        self.counted = False
        self.slot = None              # mailbox whose session count holds this session
        self.sender = None
        self.pending_mailbox = None   # AUTH passed to the backend for this mailbox
        self.auth_verb = None         # AUTH waiting for its response line
        self.in_data = False
        self.rcpts = 0                # RCPT commands of the current transaction

    def send(self, data):
        self.client.sendall(data)

    def run(self):
        self.send(GREETING)
        if not self._until_starttls():
            return
        self.client = self.front.server_ctx.wrap_socket(self.client, server_side=True)
        self._connect_backend()
        pump(self.client, self.backend, self._from_client, self._from_backend)

    def _until_starttls(self):
        """The plain-text part: EHLO, then STARTTLS; True once TLS may start.
        Read a byte at a time so nothing of the TLS handshake is consumed."""
        while True:
            line = _read_line(self.client)
            verb = line[:4].upper()
            if not line or verb == b"QUIT":
                return False
            if verb in (b"EHLO", b"HELO"):
                self.send(EHLO_PLAIN)
            elif line[:8].upper() == b"STARTTLS":
                self.send(b"220 2.0.0 SMTP server ready\r\n")
                return True
            else:
                self.send(b"530 5.7.57 Client not authenticated to send mail [front.outlook.example]\r\n")

    def _connect_backend(self):
        """The stand-in's Postfix, through its own STARTTLS."""
        s = socket.create_connection(("127.0.0.1", self.front.backend_port), timeout=TIMEOUT)
        _read_reply(s)                       # 220
        s.sendall(b"EHLO front.outlook.example\r\n")
        _read_reply(s)
        s.sendall(b"STARTTLS\r\n")
        _read_reply(s)
        self.backend = self.front.client_ctx.wrap_socket(s, server_hostname="localhost")

    def _from_backend(self, line):
        """Backend to client, Postfix's answers turned into Exchange's."""
        if line.startswith(b"334 ") and self.pending_mailbox and not self.counted:
            self.backend.sendall(b"AQ==\r\n")   # answer Dovecot's challenge; the client sees none
            return True
        if line.startswith(b"535"):
            line = REFUSED
            self._release()
        elif line.startswith(b"235") and self.pending_mailbox:
            self._authenticated(self.pending_mailbox)
        elif line.startswith(b"354"):
            self.in_data = True
        self.send(line)
        return True

    def _authenticated(self, mailbox):
        """The AUTH passed: the place reserved in _refusal is now held."""
        front = self.front
        with front.lock:
            front.peak[mailbox] = max(front.peak.get(mailbox, 0), front.active[mailbox])
        self.mailbox, self.counted = mailbox, True

    def _release(self):
        """Give back the session's place among its mailbox's sessions."""
        if self.slot is not None:
            with self.front.lock:
                self.front.active[self.slot] -= 1
            self.slot = None

    def _from_client(self, line):
        """Client to backend, with Exchange's own answers."""
        if self.in_data:
            return self._data_line(line)
        if self.auth_verb:
            verb, self.auth_verb = self.auth_verb, None
            return self._auth(verb, line.strip())
        words = line.strip().split(b" ")
        verb = words[0].upper()
        if verb == b"AUTH" and len(words) >= 2:
            if len(words) >= 3:
                return self._auth(words[1], words[2])
            self.auth_verb = words[1]
            self.send(b"334 \r\n")
            return True
        if verb == b"MAIL":
            self.sender = line.split(b":", 1)[1].strip().split(b" ")[0].strip(b"<>").decode().lower()
            self.rcpts = 0
        elif verb == b"RCPT":
            self.rcpts += 1
        self.backend.sendall(line)
        return True

    def _data_line(self, line):
        """Message lines; at its end, SendAs is checked as Exchange does."""
        if line != b".\r\n":
            self.backend.sendall(line)
            return True
        self.in_data = False
        answer = self._submission_refusal()
        if answer:
            self.front._note(self.mailbox, answer)
            self.send(answer)
            return False     # the backend never sees the end: nothing is delivered
        self.front.admit(self.mailbox)
        self.backend.sendall(line)
        return True

    def _submission_refusal(self):
        """Exchange's answer at the end of DATA when it does not submit the
        message (SendAs, a full mailbox, the daily recipient quota), or None."""
        front = self.front
        allowed = front.send_as.get(self.mailbox, set()) | {self.mailbox}
        if self.sender and self.sender not in allowed:
            return SEND_AS % (self.mailbox.encode(), self.sender.encode())
        if self.mailbox in front.mailbox_full:
            return MAILBOX_FULL
        if front.over_quota(self.mailbox, self.rcpts):
            return QUOTA
        return None

    def _auth(self, mechanism, response):
        """AUTH, answered here when Exchange would refuse before checking."""
        mailbox = sasl_user(response) or ""
        answer = self._refusal(mailbox)
        if answer:
            self.front._note(mailbox, answer)
            self.send(answer)
            return True
        self.pending_mailbox = mailbox
        self.backend.sendall(b"AUTH " + mechanism + b" " + response + b"\r\n")
        return True

    def _refusal(self, mailbox):
        """Exchange's answer before any token check, or None."""
        front = self.front
        if front.tenant_auth_disabled:
            return DISABLED % b"Tenant"
        if mailbox in front.auth_disabled:
            return DISABLED % b"Mailbox"
        if self.slot is not None:      # a second AUTH: the session holds its place
            return None
        with front.lock:
            # Reserved now, not once the backend says 235: two sessions
            # checking at once must not both get the last place.
            if front.active.get(mailbox, 0) >= front.max_sessions:
                return CONCURRENT
            front.active[mailbox] = front.active.get(mailbox, 0) + 1
            self.slot = mailbox
        return None

    def close(self):
        self._release()
        self.counted = False
        for s in (self.backend, self.client):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass


def _read_line(sock):
    """One line from a plain socket, a byte at a time, at most 4 KiB."""
    line = b""
    while not line.endswith(b"\n") and len(line) < 4096:
        c = sock.recv(1)
        if not c:
            break
        line += c
    return line


def _read_reply(sock):
    """A whole (multi-line) SMTP reply from a plain socket."""
    while True:
        line = _read_line(sock)
        if not line:
            raise OSError("backend closed")
        if line[3:4] != b"-":
            return line
