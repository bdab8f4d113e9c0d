# mta.py: private Postfix and Dovecot instances for the end-to-end tests,
# each with its own configuration, spool, sockets and log under a temp dir,
# listening on 127.0.0.1 only, started and stopped by the test; and the
# upstream stand-in for Exchange Online built from them. Nothing here
# touches the system's Postfix or Dovecot. Waiting is always for a
# condition (a port accepting, a log line, a file) with a deadline.
import email
import email.policy
import exchangepop
import exchangesmtp
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CONF = os.path.join(TOP, "conf")
BUILD = os.environ.get("EXOAUTH_BUILD", TOP)
SASL_PLUGIN = os.path.join(BUILD, ".libs", "libexoauth.so")
DOVECOT_PLUGIN = os.path.join(BUILD, ".libs", "lib20_authdb_exoauth.so")
# Dovecot 2.4 only: the settings module its config process loads.
DOVECOT_SETTINGS_PLUGIN = os.path.join(BUILD, ".libs", "lib20_exoauth_settings.so")
DOVECOT_MODULEDIR = "/usr/lib/dovecot/modules"


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, what, log=lambda: ""):
    """Poll pred until it is true; fail with what and a log tail after timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s\n--- log tail ---\n%s" % (what, log()[-4000:]))
        time.sleep(delay)  # polling interval of a bounded wait, not synchronisation
        delay = min(delay * 2, 0.2)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def unix_open(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def xoauth2(user, token):
    """The XOAUTH2 client message (before base64)."""
    return "user=%s\x01auth=Bearer %s\x01\x01" % (user, token)


def oauthbearer(user, token):
    """The OAUTHBEARER client message (RFC 7628, before base64)."""
    return "n,a=%s,\x01auth=Bearer %s\x01\x01" % (user, token)


def imap_verdict(port, login):
    """Connect to IMAP on 127.0.0.1:port, run login(conn) (which returns
    the tagged answer's text) and LOGOUT: ('ok', text), or ('refused' or
    'temporary', Dovecot's text) when the login fails."""
    import imaplib
    m = imaplib.IMAP4("127.0.0.1", port, timeout=20)
    try:
        text = login(m)
        m.logout()
        return "ok", text
    except imaplib.IMAP4.error as e:
        text = str(e)
        return ("temporary" if "UNAVAILABLE" in text else "refused"), text
    finally:
        try:
            m.shutdown()
        except OSError:
            pass


def oauth2_local(root, keys, audience):
    """Dovecot's own XOAUTH2/OAUTHBEARER token check in local mode as the
    Exchange stand-ins use it: RS256 against the fake IdP's keys (under
    keys/default/RS256/<kid>), exp/nbf, and aud = audience. App-only
    tokens carry no user claim, so the user name is the mailbox the client
    chose (like Exchange's SendAsApp / AccessAsApp): the comparison of the
    login name with the token's sub is made always equal.
    2.3: an oauth2 passdb with an args file in root (local mode checks no
    aud: active_attribute compares it; a constant username_format makes
    both sides of the name comparison equal).
    2.4: the mechanisms check the token themselves with the global oauth2
    settings, no passdb; aud must contain client_id (which needs a
    client_secret beside it, unused locally); the login name is compared
    with username_validation_format expanded from the token, so
    %{event:user}, the login name itself, matches."""
    if dovecot_24():
        return ("oauth2 {\n  introspection_mode = local\n  username_attribute = sub\n"
                "  username_validation_format = %%{event:user}\n  client_id = %s\n"
                "  client_secret = unused-in-local-mode\n}\n"
                "oauth2_local_validation {\n  dict fs {\n    fs posix {\n      prefix = %s/\n    }\n  }\n}"
                % (audience, keys))
    path = os.path.join(root, "oauth2.conf.ext")
    with open(path, "w") as f:
        f.write("introspection_mode = local\n"
                "local_validation_key_dict = fs:posix:prefix=%s/\n"
                "active_attribute = aud\nactive_value = %s\n"
                "username_attribute = sub\nusername_format = exchange\n" % (keys, audience))
    return "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = %s\n}" % path


def passwd_file_passdb(path, mechanisms):
    """A passwd-file passdb for mechanisms (2.4 names it and its file)."""
    if dovecot_24():
        return "passdb passwd-file {\n  mechanisms_filter = %s\n  passwd_file_path = %s\n}" % (mechanisms, path)
    return "passdb {\n  driver = passwd-file\n  mechanisms = %s\n  args = %s\n}" % (mechanisms, path)


def logged_in(service):
    """A regex of the line a login process logs for a successful login
    ('Login:' on 2.3, 'Logged in:' on 2.4)."""
    return r"%s-login: (?:Info: )?(?:Login|Logged in): " % service


def publish_keys(idp, keys):
    """Write the fake IdP's current public keys where Dovecot's oauth2
    passdb looks for them (local_validation_key_dict = fs under keys:
    default/RS256/<kid>, PEM); returns the kids."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
    import base64
    meta = idp.get("/contoso.example/v2.0/.well-known/openid-configuration")
    jwks = idp.get(meta["jwks_uri"].split(idp.authority, 1)[1])
    d = os.path.join(keys, "default", "RS256")
    os.makedirs(d, exist_ok=True)

    def num(s):
        return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")
    kids = []
    for k in jwks["keys"]:
        pub = RSAPublicNumbers(num(k["e"]), num(k["n"])).public_key()
        pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        with open(os.path.join(d, k["kid"]), "wb") as f:
            f.write(pem)
        kids.append(k["kid"])
    for dirpath, dirnames, files in os.walk(keys):
        os.chmod(dirpath, 0o755)
    return kids


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


_dovecot_version = []


def dovecot_24():
    """True when the installed Dovecot is 2.4 (its config syntax, settings
    and log lines), False for 2.3: the harness's one version switch."""
    if not _dovecot_version:
        out = subprocess.run(["dovecot", "--version"], capture_output=True, text=True).stdout
        m = re.match(r"(\d+)\.(\d+)", out)
        assert m, "dovecot --version said %r" % out
        _dovecot_version.append((int(m.group(1)), int(m.group(2))))
    return _dovecot_version[0] >= (2, 4)


def snippet(path, replace=()):
    """A shipped conf/ file, verbatim but for the listed (old, new)
    replacements; conf/dovecot/2.4/ holds the Dovecot 2.4 versions."""
    if path.startswith("dovecot/") and dovecot_24():
        path = "dovecot/2.4/" + path[len("dovecot/"):]
    text = read(os.path.join(CONF, path))
    for old, new in replace:
        assert old in text, "%s no longer contains %r" % (path, old)
        text = text.replace(old, new)
    return text


class Postfix:
    """A private Postfix: own config dir, queue, data dir and log file."""

    def __init__(self, root, name, main_extra="", smtpd_port=None, chroot=True, services=""):
        self.dir = os.path.join(root, name)
        self.etc = os.path.join(self.dir, "etc")
        self.spool = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "maillog")
        for d in (self.etc, self.spool, self.data):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.port = smtpd_port or free_port()
        self.name = name
        self.running = False
        ch = "y" if chroot else "n"
        main = "\n".join([
            "compatibility_level = 3.6",
            "queue_directory = " + self.spool,
            "data_directory = " + self.data,
            "mail_owner = postfix",
            "setgid_group = postdrop",
            "myhostname = %s.test" % name,
            "mydomain = test",
            "myorigin = $myhostname",
            "mydestination =",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            "mynetworks = 127.0.0.0/8",
            "maillog_file = " + self.log,
            "maillog_file_prefixes = " + self.dir,
            "meta_directory = /etc/postfix",
            "syslog_name = " + name,
            "biff = no",
            "smtputf8_enable = no",
            "alias_maps =",
            "alias_database =",
            "local_recipient_maps =",
            "smtp_host_lookup = native",
            "disable_dns_lookups = yes",
            "smtp_dns_support_level = disabled",
            "" if re.search(r"^import_environment\s*=", main_extra, re.M)
            else "import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C",
            "queue_run_delay = 300s",
            "minimal_backoff_time = 300s",
            "maximal_backoff_time = 600s",
            "delay_warning_time = 0",
            main_extra,
        ])
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(main + "\n")
        master = [
            "127.0.0.1:%d inet n - %s - - smtpd" % (self.port, ch),
            "pickup    unix  n       -       %s      60      1       pickup" % ch,
            "cleanup   unix  n       -       %s      -       0       cleanup" % ch,
            "qmgr      unix  n       -       n       300     1       qmgr",
            "tlsmgr    unix  -       -       %s      1000?   1       tlsmgr" % ch,
            "rewrite   unix  -       -       %s      -       -       trivial-rewrite" % ch,
            "bounce    unix  -       -       %s      -       0       bounce" % ch,
            "defer     unix  -       -       %s      -       0       bounce" % ch,
            "trace     unix  -       -       %s      -       0       bounce" % ch,
            "verify    unix  -       -       %s      -       1       verify" % ch,
            "flush     unix  n       -       %s      1000?   0       flush" % ch,
            "proxymap  unix  -       -       n       -       -       proxymap",
            "proxywrite unix -       -       n       -       1       proxymap",
            "smtp      unix  -       -       %s      -       -       smtp" % ch,
            "relay     unix  -       -       %s      -       -       smtp" % ch,
            "showq     unix  n       -       %s      -       -       showq" % ch,
            "error     unix  -       -       %s      -       -       error" % ch,
            "retry     unix  -       -       %s      -       -       error" % ch,
            "discard   unix  -       -       %s      -       -       discard" % ch,
            "local     unix  -       n       n       -       -       local",
            "virtual   unix  -       n       n       -       -       virtual",
            "lmtp      unix  -       -       %s      -       -       lmtp" % ch,
            "anvil     unix  -       -       %s      -       1       anvil" % ch,
            "scache    unix  -       -       %s      -       1       scache" % ch,
            "postlog   unix-dgram n  -       n       -       1       postlogd",
            services,
        ]
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write("\n".join(master) + "\n")
        if chroot:
            # What chrooted Postfix daemons read from /etc inside the jail.
            os.makedirs(os.path.join(self.spool, "etc"), exist_ok=True)
            for f in ("services", "hosts", "resolv.conf", "nsswitch.conf", "localtime"):
                if os.path.exists("/etc/" + f):
                    shutil.copy("/etc/" + f, os.path.join(self.spool, "etc", f))

    def env(self):
        return dict(os.environ, MAIL_CONFIG=self.etc)

    def cmd(self, *args, check=True, input=None):
        """Run a Postfix command against this instance."""
        r = subprocess.run(list(args), env=self.env(), capture_output=True, text=True, input=input,
                           timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("%s failed: %s%s\n%s" % (args, r.stdout, r.stderr, self.log_text()[-3000:]))
        return r

    def postconf(self, *settings):
        return self.cmd("postconf", "-c", self.etc, *settings).stdout

    def postmap(self, path):
        self.cmd("postmap", "-c", self.etc, path)

    def start(self):
        self.cmd("postfix", "-c", self.etc, "set-permissions", check=False)
        self.cmd("postfix", "-c", self.etc, "check")
        self.cmd("postfix", "-c", self.etc, "start")
        self.running = True
        wait_until(lambda: port_open(self.port), 30, "%s smtpd on port %d" % (self.name, self.port),
                   self.log_text)
        return self

    def stop(self):
        if self.running:
            self.cmd("postfix", "-c", self.etc, "stop", check=False)
            pid = os.path.join(self.spool, "pid", "master.pid")
            wait_until(lambda: not os.path.exists(pid) or not _alive(pid), 30, "%s to stop" % self.name)
            self.running = False

    def reload(self):
        self.cmd("postfix", "-c", self.etc, "reload")

    def sendmail(self, sender, rcpts, message):
        """Inject a message with sendmail(1) (pickup), as a local program would."""
        r = subprocess.run(["/usr/sbin/sendmail", "-C", self.etc, "-f", sender, "-i", "--"] + list(rcpts),
                           env=self.env(), input=message, capture_output=True, timeout=60)
        assert r.returncode == 0, r

    def flush(self):
        self.cmd("postqueue", "-c", self.etc, "-f")

    def queue(self):
        """The queue as postqueue -j lists it."""
        import json
        out = self.cmd("postqueue", "-c", self.etc, "-j").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def log_text(self):
        return read(self.log)

    def wait_log(self, regex, timeout=30, count=1):
        rx = re.compile(regex)
        return wait_until(lambda: len(rx.findall(self.log_text())) >= count, timeout,
                          "%r x%d in %s's log" % (regex, count, self.name), self.log_text)


def _alive(pidfile):
    try:
        pid = int(read(pidfile).strip())
        os.kill(pid, 0)
        return True
    except (ValueError, ProcessLookupError):
        return False


def dovecot_conf(text):
    """The tests' own Dovecot lines, written in 2.3 syntax, in the syntax of
    the installed Dovecot: on 2.4 the static userdb's args become fields,
    mail_location becomes mail_driver and mail_path, passdb mechanisms
    becomes mechanisms_filter and %u becomes %{user}."""
    if not dovecot_24():
        return text

    def userdb(m):
        fields = "".join("    %s = %s\n" % tuple(kv.split("=", 1)) for kv in m.group(1).split())
        return "userdb static {\n  driver = static\n  fields {\n%s  }\n}" % fields
    text = re.sub(r"userdb \{\n  driver = static\n  args = ([^\n]*)\n\}", userdb, text)
    text = re.sub(r"^mail_location = (\w+):(.*)$", r"mail_driver = \1\nmail_path = \2", text, flags=re.M)
    text = re.sub(r"^(\s*)mechanisms = ", r"\1mechanisms_filter = ", text, flags=re.M)
    return text.replace("%u", "%{user}")


def dovecot_ssl(ssl_dir):
    """Server TLS with the test CA's server certificate, in the installed
    Dovecot's syntax."""
    if dovecot_24():
        return ("ssl = yes\nssl_server_cert_file = %s/server.pem\nssl_server_key_file = %s/server.key\n"
                "ssl_client_ca_file = %s/ca.pem\n" % (ssl_dir, ssl_dir, ssl_dir))
    return ("ssl = yes\nssl_cert = <%s/server.pem\nssl_key = <%s/server.key\n"
            "ssl_client_ca_file = %s/ca.pem\n" % (ssl_dir, ssl_dir, ssl_dir))


class Dovecot:
    """A private Dovecot; with plugin=True the built exoauth passdb module
    is visible to it. conf_extra is in Dovecot 2.3's syntax; on 2.4 it is
    rewritten (dovecot_conf), except for what a 2.4 snippet already says.

    Dovecot loads modules only from its compiled-in directory, so such
    an instance runs in its own mount namespace (unshare -m) where a copy of
    that directory holding the freshly built plugin is bind-mounted over
    it; the system's directory is never changed. Without the plugin (the
    stand-ins, the installed package's test) Dovecot runs as it is."""

    def __init__(self, root, name, conf_extra, ssl_dir=None, plugin=True):
        self.dir = os.path.join(root, name)
        self.name = name
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.log = os.path.join(self.dir, "dovecot.log")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        # plugin: the built module, in a copy of the system's module
        # directory bind-mounted over it; otherwise the system's own.
        self.modules = os.path.join(self.dir, "modules") if plugin else None
        self.proc = None
        if plugin:
            self._copy_modules()
        ssl = dovecot_ssl(ssl_dir) if ssl_dir else "ssl = no\n"
        base = "\n".join([
            "base_dir = %s/run" % self.dir,
            "state_dir = %s/state" % self.dir,
            "instance_name = exo-%s-%d" % (name, os.getpid()),
            "log_path = " + self.log,
            "listen = 127.0.0.1",
            "auth_failure_delay = 0",
            "login_trusted_networks =",
            "mail_location = maildir:%s/mail/%%u" % self.dir,
            "mail_uid = %d" % pwd.getpwnam("nobody").pw_uid,
            "mail_gid = %d" % pwd.getpwnam("nobody").pw_gid,
            "first_valid_uid = 1",
        ])
        os.makedirs(os.path.join(self.dir, "mail"), exist_ok=True)
        os.chown(os.path.join(self.dir, "mail"), pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid)
        # 2.4 wants its config version first and the storage version set.
        head = "dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\n" if dovecot_24() else ""
        with open(self.conf, "w") as f:
            f.write(head + dovecot_conf(base) + "\n" + ssl + dovecot_conf(conf_extra) + "\n")
        self.ports = [int(p) for p in re.findall(r"^\s*port\s*=\s*(\d+)", conf_extra, re.M) if int(p)]

    def _copy_modules(self):
        """A copy of Dovecot's module directory with the built auth module
        (and on 2.4 the settings module) in it."""
        shutil.copytree(DOVECOT_MODULEDIR, self.modules, symlinks=True, dirs_exist_ok=True)
        shutil.copy(DOVECOT_PLUGIN, os.path.join(self.modules, "auth"))
        if dovecot_24():
            os.makedirs(os.path.join(self.modules, "settings"), exist_ok=True)
            shutil.copy(DOVECOT_SETTINGS_PLUGIN, os.path.join(self.modules, "settings"))

    def _argv(self, argv):
        """argv, run where this instance's module directory is Dovecot's."""
        if not self.modules:
            return argv
        return ["unshare", "-m", "sh", "-c", "mount --bind %s %s && exec %s"
                % (self.modules, DOVECOT_MODULEDIR, " ".join(argv))]

    def doveconf(self, *args):
        """doveconf on this instance's config, seeing the same modules (2.4's
        config process needs the exoauth settings module to read it)."""
        return subprocess.run(self._argv(["doveconf", "-c", self.conf] + list(args)), capture_output=True,
                              text=True, timeout=30)

    def start(self):
        argv = self._argv(["dovecot", "-F", "-c", self.conf])
        self.out = open(os.path.join(self.dir, "dovecot.out"), "ab")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=self.out, stdin=subprocess.DEVNULL)
        for p in self.ports:
            wait_until(lambda: self.proc.poll() is None and port_open(p) or self.proc.poll() is not None, 30,
                       "%s on port %d" % (self.name, p), self.log_text)
            if self.proc.poll() is not None:
                raise AssertionError("dovecot %s exited: %s\n%s" % (self.name, read(self.out.name),
                                                                   self.log_text()[-3000:]))
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        if self.proc:
            self.out.close()
        self.proc = None

    def log_text(self):
        return read(self.log) + read(os.path.join(self.dir, "dovecot.out"))

    def wait_log(self, regex, timeout=30, count=1):
        rx = re.compile(regex)
        return wait_until(lambda: len(rx.findall(self.log_text())) >= count, timeout,
                          "%r x%d in %s's log" % (regex, count, self.name), self.log_text)


def parse_messages(paths):
    out = []
    for p in sorted(paths):
        with open(p, "rb") as f:
            out.append(email.message_from_binary_file(f, policy=email.policy.default))
    return out


class ExchangeStandIn:
    """An upstream SMTP server standing in for Exchange Online, built from
    software the project did not write: a private Postfix smtpd that offers
    STARTTLS and, after it, only the chosen OAuth mechanism, asking a
    private Dovecot whose built-in oauth2 passdb validates tokens locally
    (signature against the fake IdP's keys, exp, and aud through
    active_attribute). Accepted mail is delivered by virtual(8) into a
    Maildir, so a test reads exactly what arrived.

    On Dovecot 2.4 the XOAUTH2/OAUTHBEARER mechanisms check the token
    themselves with the global oauth2 settings (see oauth2_local).

    Why not the npm smtp-server package: it has no OAUTHBEARER, and a
    verifier written here would be ours; Dovecot's oauth2 passdb is an
    independent implementation of the checks."""

    AUDIENCE = "https://outlook.office365.com"

    def __init__(self, root, idp, mech="xoauth2", name="exchange", plain_users=None, front=False):
        self.root = os.path.join(root, name)
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o755)
        self.idp = idp
        self.mech = mech
        self.keys = os.path.join(self.root, "keys")
        self.maildir = os.path.join(self.root, "mailboxes")
        nobody = pwd.getpwnam("nobody")
        os.makedirs(self.maildir, exist_ok=True)
        os.chown(self.maildir, nobody.pw_uid, nobody.pw_gid)
        os.makedirs(self.keys, exist_ok=True)
        self.auth_socket = os.path.join(self.root, "auth-postfix")
        # plain_users (user -> password): also offer AUTH PLAIN, checked
        # by a passwd-file passdb, as a baseline for the benchmarks.
        plain = []
        if plain_users:
            users = os.path.join(self.root, "plain-users")
            with open(users, "w") as f:
                f.write("".join("%s:{PLAIN}%s\n" % (u, p) for u, p in plain_users.items()))
            os.chmod(users, 0o644)
            plain = [passwd_file_passdb(users, "plain")]
        self.dovecot = Dovecot(root, name + "-auth", "\n".join([
            "protocols =",
            "auth_mechanisms = " + mech + (" plain" if plain_users else ""),
            "auth_verbose = yes",
            oauth2_local(self.root, self.keys, self.AUDIENCE),
        ] + plain + [
            "userdb {\n  driver = static\n  args = uid=nobody gid=nogroup\n}",
            "service auth {\n  unix_listener %s {\n    mode = 0666\n  }\n}" % self.auth_socket,
        ]), plugin=False)
        tls = idp.dir
        self.postfix = Postfix(root, name + "-smtpd", chroot=False, main_extra="\n".join([
            "smtpd_tls_security_level = may",
            "smtpd_tls_cert_file = %s/server.pem" % tls,
            "smtpd_tls_key_file = %s/server.key" % tls,
            "smtpd_tls_auth_only = yes",
            "smtpd_tls_mandatory_protocols = >=TLSv1.2",
            "smtpd_sasl_auth_enable = yes",
            "smtpd_sasl_type = dovecot",
            "smtpd_sasl_path = " + self.auth_socket,
            "smtpd_sasl_authenticated_header = yes",
            "smtpd_recipient_restrictions = permit_sasl_authenticated, reject",
            "smtpd_relay_restrictions = permit_sasl_authenticated, reject",
            "line_length_limit = 16384",
            # A session's auth connection dies with smtpd: revoke_kid's
            # Dovecot restart is then seen by the very next session.
            "max_use = 1",
            "virtual_mailbox_domains = contoso.example fabrikam.example",
            "virtual_mailbox_base = " + self.maildir,
            "virtual_mailbox_maps = static:inbox/",
            "virtual_uid_maps = static:%d" % nobody.pw_uid,
            "virtual_gid_maps = static:%d" % nobody.pw_gid,
        ]))
        self.port = self.postfix.port
        # front: Exchange's own answers (exchangesmtp.SmtpFront) in front
        # of this Postfix, which still checks every token.
        # front may be a dict of SmtpFront's limits (per_minute, minute_seconds...).
        limits = front if isinstance(front, dict) else {}
        self.front = exchangesmtp.SmtpFront(idp.dir, idp.ca_file, self.postfix.port, **limits) if front else None
        if self.front:
            self.port = self.front.port
        self.host = "127.0.0.1"
        self.ca_file = idp.ca_file

    def publish_keys(self):
        """Write the fake IdP's current public keys where Dovecot looks."""
        return publish_keys(self.idp, self.keys)

    def revoke_kid(self, kid):
        """Stop trusting one signing key. Dovecot caches keys in the auth
        process, and a reload lets the old process serve connections it
        already has, so Dovecot is restarted; smtpd (max_use 1) opens a
        new auth connection for every session."""
        os.unlink(os.path.join(self.keys, "default", "RS256", kid))
        self.dovecot.stop()
        self.start_auth()

    def start_auth(self):
        self.dovecot.start()
        wait_until(lambda: unix_open(self.auth_socket), 30, "stand-in auth socket", self.dovecot.log_text)

    def start(self):
        self.publish_keys()
        self.start_auth()
        self.postfix.start()
        if self.front:
            self.front.start()
        return self

    def stop(self):
        if self.front:
            self.front.stop()
        self.postfix.stop()
        self.dovecot.stop()

    def message_files(self):
        return glob.glob(os.path.join(self.maildir, "inbox", "new", "*"))

    def messages(self):
        return parse_messages(self.message_files())

    def wait_messages(self, n, timeout=60):
        wait_until(lambda: len(self.message_files()) >= n, timeout, "%d messages upstream" % n,
                   lambda: self.postfix.log_text() + self.dovecot.log_text())
        return self.messages()


# Login lines with user, mechanism, addresses, mail pid, TLS and its protocol and cipher.
LOGIN_LOG_23 = "login_log_format_elements = user=<%u> method=%m rip=%r lip=%l mpid=%e %c %k session=<%{session}>"
LOGIN_LOG_24 = ("login_log_format_elements = user=<%{user}> method=%{mechanism} rip=%{remote_ip} "
                "lip=%{local_ip} mpid=%{mail_pid} %{secured} %{ssl_security} session=<%{session}>")


class ImapStandIn:
    """An upstream IMAP/POP3 server standing in for Exchange Online
    (outlook.office365.com:993/995), built from software the project did
    not write: a private Dovecot on 127.0.0.1 speaking implicit TLS only
    (imaps, pop3s; TLS >= 1.2 with the fake IdP's certificate, which
    clients verify with idp.ca_file), offering only AUTH=XOAUTH2, and
    checking each token with its built-in oauth2 passdb in local mode:
    RS256 signature against the fake IdP's published keys, exp/nbf, and aud
    (through active_attribute) = https://outlook.office365.com. Every
    mailbox is a real Maildir under home/<mailbox>/Maildir, so a test
    reads and writes exactly what a client sees upstream.

    App-only tokens (IMAP.AccessAsApp / POP.AccessAsApp) carry no user
    claim: like Exchange, the mailbox is the one the client names in
    XOAUTH2's user=, and a constant username_format makes Dovecot's
    comparison of that name with the token's sub always equal (the trick
    ExchangeStandIn uses). The login log lines carry the TLS protocol and
    cipher (%k) so a test can see what the upstream leg negotiated. With
    starttls, plain imap/pop3 listeners (Exchange's 143/110) are opened
    too, where TLS comes from STARTTLS/STLS.

    Like Exchange, pop3_port refuses an AUTH line above RFC 5034's 255
    octets with "-ERR Protocol error": it is exchangepop.Pop3Front, in
    front of Dovecot's own pop3s listener (dovecot_pop3_port). Like
    Exchange, imap_port and pop3_port end a session once the token it
    logged in with has expired: imap_port is exchangepop.ImapFront, in
    front of Dovecot's imaps listener (dovecot_imap_port)."""

    AUDIENCE = ExchangeStandIn.AUDIENCE

    def __init__(self, root, idp, name="exo-imap", starttls=False):
        self.root = os.path.join(root, name)
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o755)
        self.idp = idp
        self.keys = os.path.join(self.root, "keys")
        self.home = os.path.join(self.root, "home")
        os.makedirs(self.keys, exist_ok=True)
        nobody = pwd.getpwnam("nobody")
        self.uid, self.gid = nobody.pw_uid, nobody.pw_gid
        os.makedirs(self.home, exist_ok=True)
        os.chown(self.home, self.uid, self.gid)
        self.dovecot_imap_port = free_port()
        self.dovecot_pop3_port = free_port()
        self.front = None
        self.imap_front = None
        self.imap_plain_port = free_port() if starttls else 0
        self.pop3_plain_port = free_port() if starttls else 0
        self.host = "127.0.0.1"
        self.ca_file = idp.ca_file
        self.dovecot = Dovecot(root, name + "-dovecot", "\n".join([
            "protocols = imap pop3",
            "auth_mechanisms = xoauth2",
            "auth_allow_cleartext = no" if dovecot_24() else "disable_plaintext_auth = yes",
            "ssl = required",
            "ssl_min_protocol = TLSv1.2",
            "auth_verbose = yes",
            LOGIN_LOG_24 if dovecot_24() else LOGIN_LOG_23,
            oauth2_local(self.root, self.keys, self.AUDIENCE),
            "userdb {\n  driver = static\n  args = uid=nobody gid=nogroup home=%s/%%u\n}" % self.home,
            "mail_location = maildir:~/Maildir",
            # No auth penalty: tests fail logins on purpose from 127.0.0.1.
            "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}",
            "service imap-login {\n  inet_listener imap {\n    port = %d\n  }\n"
            "  inet_listener imaps {\n    port = %d\n    ssl = yes\n  }\n}" % (self.imap_plain_port, self.dovecot_imap_port),
            "service pop3-login {\n  inet_listener pop3 {\n    port = %d\n  }\n"
            "  inet_listener pop3s {\n    port = %d\n    ssl = yes\n  }\n}"
            % (self.pop3_plain_port, self.dovecot_pop3_port),
        ]), ssl_dir=idp.dir, plugin=False)

    def publish_keys(self):
        """Write the fake IdP's current public keys where Dovecot looks."""
        return publish_keys(self.idp, self.keys)

    def start(self):
        self.publish_keys()
        self.dovecot.start()
        self.front = exchangepop.Pop3Front(self.idp.dir, self.ca_file, self.dovecot_pop3_port).start()
        self.imap_front = exchangepop.ImapFront(self.idp.dir, self.ca_file, self.dovecot_imap_port).start()
        return self

    @property
    def imap_port(self):
        """Exchange's 993: the front that ends expired sessions."""
        return self.imap_front.port

    @property
    def pop3_port(self):
        """Exchange's 995: the strict front."""
        return self.front.port

    def stop(self):
        for front in (self.front, self.imap_front):
            if front:
                front.stop()
        self.dovecot.stop()

    def log_text(self):
        return self.dovecot.log_text()

    def logins(self, service="imap"):
        """The successful upstream logins so far, as log lines."""
        return re.findall(logged_in(service) + r"[^\n]*", self.log_text())

    def maildir(self, mailbox):
        return os.path.join(self.home, mailbox, "Maildir")

    def put_message(self, mailbox, message):
        """Deliver a message (bytes) straight into mailbox's INBOX (new/),
        as an MTA writing a Maildir would; returns the file name."""
        md = self.maildir(mailbox)
        for d in (os.path.join(self.home, mailbox), md, md + "/cur", md + "/new", md + "/tmp"):
            os.makedirs(d, exist_ok=True)
            os.chown(d, self.uid, self.gid)
        name = "%d.M%dP%d.standin" % (time.time(), time.monotonic_ns() % 1000000, os.getpid())
        tmp = os.path.join(md, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(message)
        os.chown(tmp, self.uid, self.gid)
        os.rename(tmp, os.path.join(md, "new", name))
        return name

    def message_files(self, mailbox, folder=""):
        """Files of a folder ("" is INBOX, else Maildir++ ".Name") in cur/ and new/."""
        base = os.path.join(self.maildir(mailbox), folder)
        return sorted(glob.glob(os.path.join(base, "cur", "*")) + glob.glob(os.path.join(base, "new", "*")))

    def messages(self, mailbox, folder=""):
        return parse_messages(self.message_files(mailbox, folder))
