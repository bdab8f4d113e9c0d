# fake_idp.py: the project's fake Entra ID for tests: HTTPS on 127.0.0.1
# with a test CA made at start, Microsoft-shaped v2.0 endpoints (token,
# devicecode, OIDC metadata, JWKS) that really check client assertions and
# secrets, rotate refresh tokens and issue RS256 access tokens, plus a
# /_control/ API to count requests and inject faults (5xx, 429, slow, bad
# JSON, Entra error bodies, dropped connections) and rotate keys. Like
# Entra, OIDC metadata names a domain tenant by its GUID in issuer.
import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAX_BODY = 64 * 1024
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def b64u(data):
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(s):
    """Decode unpadded base64url (raises ValueError on junk)."""
    s = s.encode() if isinstance(s, str) else s
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def new_key():
    """A fresh RSA-2048 key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_key(key):
    """Unencrypted PKCS#8 PEM of a private key."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_cert(subject_cn, key, issuer_cn=None, issuer_key=None, ca=False, san=None, days=30):
    """An X.509 certificate, self-signed unless an issuer is given, with the
    extensions a strict verifier (Python 3.13's default VERIFY_X509_STRICT)
    requires: key identifiers, key usage, and for a leaf its purpose."""
    now = datetime.datetime.now(datetime.timezone.utc)
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn or subject_cn)])
    signer = issuer_key or key
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
         .issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                        critical=False)
         .add_extension(key_usage(ca), critical=True))
    if not ca:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                   ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return b.sign(signer, hashes.SHA256())


def key_usage(ca):
    """keyCertSign and cRLSign for a CA, signing and key exchange for a leaf."""
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=not ca,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def write(path, data, mode=0o644):
    """Write bytes to path with mode."""
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def make_tls_files(d):
    """Test CA and a server certificate for 127.0.0.1/localhost in d."""
    import ipaddress
    ca_key, srv_key = new_key(), new_key()
    ca = make_cert("exoauth fake IdP test CA", ca_key, ca=True)
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    srv = make_cert("127.0.0.1", srv_key, "exoauth fake IdP test CA", ca_key, san=san)
    write(os.path.join(d, "ca.pem"), ca.public_bytes(serialization.Encoding.PEM))
    write(os.path.join(d, "server.pem"), srv.public_bytes(serialization.Encoding.PEM))
    write(os.path.join(d, "server.key"), pem_key(srv_key), 0o600)


class SigningKey:
    """One token-signing key with its kid and x5t."""

    def __init__(self):
        self.key = new_key()
        cert = make_cert("fake idp signing", self.key)
        der = cert.public_bytes(serialization.Encoding.DER)
        self.x5t = b64u(hashlib.sha1(der).digest())
        self.kid = self.x5t
        self.der = der

    def jwk(self):
        """Public JWK as Entra publishes it."""
        n = self.key.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.x5t,
                "n": b64u(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                "e": b64u(n.e.to_bytes(3, "big")), "x5c": [base64.b64encode(self.der).decode()]}


ERRORS = {
    7000215: ("invalid_client", "Invalid client secret provided. Ensure the secret being sent in "
              "the request is the client secret value, not the client secret ID, for a secret added "
              "to app '{app}'."),
    7000222: ("invalid_client", "The provided client secret keys for app '{app}' are expired."),
    700027: ("invalid_client", "Client assertion failed signature validation."),
    700024: ("invalid_client", "Client assertion is not within its valid time range."),
    700016: ("unauthorized_client", "Application with identifier '{app}' was not found in the "
             "directory '{tenant}'."),
    90002: ("invalid_request", "Tenant '{tenant}' not found."),
    65001: ("invalid_grant", "The user or administrator has not consented to use the application."),
    700082: ("invalid_grant", "The refresh token has expired due to inactivity."),
    70008: ("invalid_grant", "The provided authorization code or refresh token has expired due "
            "to inactivity."),
    70011: ("invalid_scope", "The provided value for the input parameter 'scope' is not valid."),
    9002313: ("invalid_request", "Invalid request. Request is malformed or invalid."),
    70016: ("authorization_pending", "OAuth 2.0 device flow error. Authorization is pending."),
    70019: ("expired_token", "Verification code expired."),
    70020: ("expired_token", "The provided value for the input parameter 'device_code' is not valid."),
    700052: ("authorization_declined", "The user declined the authorization request."),
}


class Entra(Exception):
    """An Entra-shaped error answer."""

    def __init__(self, code, status=400, **fmt):
        self.code, self.status, self.fmt = code, status, fmt


class State:
    """Everything the fake IdP knows, behind one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.keys = [SigningKey()]
        self.apps = {}
        self.jtis = set()
        self.refresh = {}
        self.devices = {}
        self.faults = {}
        self.settings = {"token_lifetime": 3600, "device_expires_in": 900, "device_interval": 5,
                         "discovery_issuer": ""}
        self.reset_stats()

    def reset_stats(self):
        """Zero every counter."""
        self.stats = {"requests": {"token": 0, "devicecode": 0, "keys": 0, "openid": 0,
                                   "introspect": 0},
                      "grants": {}, "by_client": {}, "faults_served": 0, "token_times": []}


STATE = State()
AUTHORITY = ""


def entra_body(e, tenant):
    """The JSON body of an Entra error."""
    error, text = ERRORS.get(e.code, ("invalid_request", "Error."))
    text = text.format(app=e.fmt.get("app", "?"), tenant=tenant)
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%SZ")
    return {"error": e.fmt.get("error", error),
            "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\n"
                                 "Timestamp: %s" % (e.code, text, trace, corr, stamp),
            "error_codes": [e.code], "timestamp": stamp, "trace_id": trace,
            "correlation_id": corr, "error_uri": AUTHORITY + "/error?code=%d" % e.code}


def sign_jwt(claims, key=None, alg="RS256"):
    """An RS256 (or none/HS256, for attack tests) JWT."""
    key = key or STATE.keys[0]
    header = {"typ": "JWT", "alg": alg}
    if alg != "none":
        header.update({"kid": key.kid, "x5t": key.x5t})
    data = (b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())).encode()
    if alg == "none":
        return data.decode() + "."
    if alg == "HS256":
        pub = key.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
        sig = hmac.new(pub, data, hashlib.sha256).digest()
    else:
        sig = key.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return data.decode() + "." + b64u(sig)


def access_token(app, tenant, scope, delegated):
    """An Entra-like v1 access token for the resource of scope."""
    now = int(time.time())
    life = STATE.settings["token_lifetime"]
    first = scope.split()[0] if scope else "https://outlook.office365.com/.default"
    resource = first.rsplit("/", 1)[0] if "://" in first else "https://outlook.office365.com"
    claims = {"aud": resource, "iss": "https://sts.windows.net/%s/" % app["tenant_id"],
              "iat": now, "nbf": now, "exp": now + life, "appid": app["client_id"],
              "app_displayname": "exoauth test app", "tid": app["tenant_id"],
              "oid": app["oid"], "sub": app["oid"], "ver": "1.0", "uti": secrets.token_hex(8)}
    if delegated:
        claims.update({"scp": " ".join(s.rsplit("/", 1)[-1] for s in scope.split()
                                       if s != "offline_access"),
                       "upn": app.get("user", "alice@contoso.example"),
                       "unique_name": app.get("user", "alice@contoso.example")})
    else:
        claims["roles"] = app.get("roles", [])
    return sign_jwt(claims), life


def token_answer(app, tenant, scope, delegated):
    """A successful token endpoint answer (rotating refresh tokens)."""
    tok, life = access_token(app, tenant, scope, delegated)
    ans = {"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": tok}
    if delegated:
        rt = "0.rt-" + secrets.token_urlsafe(48)
        STATE.refresh[rt] = {"client_id": app["client_id"], "valid": True, "scope": scope}
        ans.update({"refresh_token": rt, "scope": scope})
    return ans


def find_app(form, tenant):
    """The registered app a request names, or an Entra error."""
    cid = form.get("client_id", "")
    if not any(a["tenant"] == tenant for a in STATE.apps.values()):
        raise Entra(90002)
    app = STATE.apps.get(cid)
    if not app or app["tenant"] != tenant:
        raise Entra(700016, app=cid)
    return app


def check_assertion(app, jwt, url):
    """Really check a client assertion: alg, thumbprint, signature, claims, jti."""
    try:
        h, c, s = jwt.split(".")
        header, claims, sig = json.loads(b64u_decode(h)), json.loads(b64u_decode(c)), b64u_decode(s)
    except (ValueError, json.JSONDecodeError):
        raise Entra(9002313)
    cert = app.get("cert")
    if cert is None:
        raise Entra(700027)
    der = cert.public_bytes(serialization.Encoding.DER)
    thumbs = {"x5t#S256": b64u(hashlib.sha256(der).digest()), "x5t": b64u(hashlib.sha1(der).digest())}
    if not any(header.get(k) == v for k, v in thumbs.items()):
        raise Entra(700027)
    pad = {"PS256": padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
           "RS256": padding.PKCS1v15()}.get(header.get("alg"))
    if pad is None:
        raise Entra(700027)
    try:
        cert.public_key().verify(sig, (h + "." + c).encode(), pad, hashes.SHA256())
    except InvalidSignature:
        raise Entra(700027)
    now = time.time()
    if claims.get("aud") != url or claims.get("iss") != app["client_id"] or \
            claims.get("sub") != app["client_id"]:
        raise Entra(700027)
    exp, nbf = claims.get("exp", 0), claims.get("nbf", now)
    if not isinstance(exp, int) or exp < now - 30 or exp > now + 660 or nbf > now + 30:
        raise Entra(700024)
    jti = claims.get("jti")
    if not jti or jti in STATE.jtis:
        raise Entra(700024)
    STATE.jtis.add(jti)


def authenticate(app, form, url, required):
    """Client authentication: assertion, secret, or none for public clients."""
    if form.get("client_assertion_type") == ASSERTION_TYPE:
        return check_assertion(app, form.get("client_assertion", ""), url)
    if "client_secret" in form:
        if app.get("secret_expired"):
            raise Entra(7000222, app=app["client_id"])
        if not app.get("secret") or not hmac.compare_digest(form["client_secret"], app["secret"]):
            raise Entra(7000215, app=app["client_id"])
        return None
    if required or not app.get("public"):
        raise Entra(7000215 if app.get("secret") else 700027, app=app["client_id"])


def grant_client_credentials(app, form, tenant, url):
    """client_credentials: app-only token for <resource>/.default."""
    authenticate(app, form, url, True)
    scope = form.get("scope", "")
    if not scope.endswith("/.default") or " " in scope:
        raise Entra(70011)
    if not app.get("consent", True):
        raise Entra(65001)
    return token_answer(app, tenant, scope, False)


def grant_refresh(app, form, tenant, url):
    """refresh_token: a new access token and a rotated refresh token."""
    authenticate(app, form, url, False)
    rt = STATE.refresh.get(form.get("refresh_token", ""))
    if not rt or not rt["valid"] or rt["client_id"] != app["client_id"]:
        raise Entra(700082)
    if app.get("strict_rotation"):
        rt["valid"] = False
    return token_answer(app, tenant, form.get("scope") or rt["scope"], True)


def grant_device(app, form, tenant, url):
    """device_code polling: pending, slow_down, declined, expired or tokens."""
    authenticate(app, form, url, False)
    dev = STATE.devices.get(form.get("device_code", ""))
    if not dev:
        raise Entra(70020)
    if dev["state"] == "pending" and time.time() > dev["expires"]:
        dev["state"] = "expired"
    if dev["state"] == "pending":
        raise Entra(70016)
    if dev["state"] == "declined":
        raise Entra(700052)
    if dev["state"] != "approved":
        raise Entra(70019)
    dev["state"] = "used"
    return token_answer(app, tenant, dev["scope"], True)


GRANTS = {"client_credentials": grant_client_credentials, "refresh_token": grant_refresh,
          DEVICE_GRANT: grant_device}


def do_token(tenant, form):
    """POST /{tenant}/oauth2/v2.0/token"""
    url = "%s/%s/oauth2/v2.0/token" % (AUTHORITY, tenant)
    grant = form.get("grant_type", "")
    STATE.stats["grants"][grant] = STATE.stats["grants"].get(grant, 0) + 1
    cid = form.get("client_id", "")
    STATE.stats["by_client"][cid] = STATE.stats["by_client"].get(cid, 0) + 1
    if grant not in GRANTS:
        raise Entra(9002313)
    return GRANTS[grant](find_app(form, tenant), form, tenant, url)


def do_devicecode(tenant, form):
    """POST /{tenant}/oauth2/v2.0/devicecode"""
    app = find_app(form, tenant)
    code = "%s-%s" % (secrets.token_hex(2).upper(), secrets.token_hex(2).upper())
    dc = "dc-" + secrets.token_urlsafe(32)
    exp = STATE.settings["device_expires_in"]
    STATE.devices[dc] = {"user_code": code, "state": "pending", "expires": time.time() + exp,
                         "scope": form.get("scope", ""), "client_id": app["client_id"],
                         "created": time.time()}
    uri = "https://microsoft.com/devicelogin"
    return {"user_code": code, "device_code": dc, "verification_uri": uri, "expires_in": exp,
            "interval": STATE.settings["device_interval"],
            "message": "To sign in, use a web browser to open the page %s and enter the code %s "
                       "to authenticate." % (uri, code)}


def do_introspect(tenant, form):
    """POST /{tenant}/oauth2/introspect (RFC 7662): our own tokens only."""
    app = find_app(form, tenant)
    if not app.get("secret") or not hmac.compare_digest(form.get("client_secret", ""), app["secret"]):
        raise Entra(7000215, 401, app=app["client_id"])
    claims = verify_own_token(form.get("token", ""))
    if claims is None or claims.get("exp", 0) < time.time():
        return {"active": False}
    ans = {"active": True, "sub": claims.get("sub", claims.get("oid", "")),
           "username": claims.get("upn", claims.get("sub", "")), "exp": claims.get("exp"),
           "iat": claims.get("iat"), "aud": claims.get("aud"), "iss": claims.get("iss"),
           "scope": claims.get("scp", ""), "client_id": claims.get("appid", ""), "token_type": "Bearer"}
    for k in ("upn", "email", "preferred_username", "oid"):
        if k in claims:
            ans[k] = claims[k]
    return ans


def verify_own_token(token):
    """Claims of an RS256 token signed by one of our published keys, else None."""
    try:
        h, c, sig = token.split(".")
        header = json.loads(b64u_decode(h))
        key = next(k for k in STATE.keys if k.kid == header.get("kid"))
        if header.get("alg") != "RS256":
            return None
        key.key.public_key().verify(b64u_decode(sig), (h + "." + c).encode(), padding.PKCS1v15(),
                                    hashes.SHA256())
        return json.loads(b64u_decode(c))
    except (ValueError, StopIteration, InvalidSignature, json.JSONDecodeError):
        return None


def tenant_guid(tenant):
    """A tenant's id as Entra's discovery names it in issuer: a GUID as given,
    a domain's stable GUID (uuid5 of the name), {tenantid} for the
    multi-tenant words."""
    if tenant.lower() in ("common", "organizations", "consumers"):
        return "{tenantid}"
    try:
        return str(uuid.UUID(tenant)) if len(tenant) == 36 else str(uuid.uuid5(uuid.NAMESPACE_DNS, tenant))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, tenant))


def register(app):
    """Register (or replace) an app from control JSON."""
    app = dict(app)
    app.setdefault("tenant_id", str(uuid.uuid5(uuid.NAMESPACE_DNS, app["tenant"])))
    app.setdefault("oid", str(uuid.uuid4()))
    if app.get("certificate_pem"):
        app["cert"] = x509.load_pem_x509_certificate(app["certificate_pem"].encode())
    STATE.apps[app["client_id"]] = app
    return {"registered": app["client_id"]}


def control(path, body):
    """The /_control/ API."""
    s = STATE
    if path == "stats":
        return json.loads(json.dumps(s.stats))
    if path == "reset":
        s.reset_stats()
        if body.get("all"):
            s.faults.clear()
            s.apps.clear()
        return {"ok": True}
    if path == "fault":
        ep = body.get("endpoint", "any")
        if body.get("mode", "none") == "none":
            s.faults.pop(ep, None) if ep != "any" else s.faults.clear()
        else:
            s.faults[ep] = dict(body)
        return {"ok": True}
    if path == "rotate-keys":
        s.keys = [SigningKey()] + ([] if body.get("drop_old") else s.keys[:1])
        return {"kid": s.keys[0].kid}
    if path == "register":
        return register(body)
    if path == "revoke":
        for rt, v in s.refresh.items():
            if rt == body.get("refresh_token") or (body.get("all") and
                                                   v["client_id"] == body.get("client_id")):
                v["valid"] = False
        return {"ok": True}
    if path == "device":
        return control_device(body)
    if path == "settings":
        s.settings.update({k: v for k, v in body.items() if k in s.settings})
        return dict(s.settings)
    if path == "mint":
        key = {"current": s.keys[0], "old": s.keys[-1], "other": SigningKey()}[body.get("key", "current")]
        claims = dict(body.get("claims", {}))
        now = int(time.time())
        claims.setdefault("iat", now)
        claims.setdefault("nbf", now)
        claims.setdefault("exp", now + int(body.get("lifetime", 3600)))
        tok = sign_jwt(claims, key, body.get("alg", "RS256"))
        if body.get("kid"):
            h, c, g = tok.split(".")
            hd = json.loads(b64u_decode(h))
            hd["kid"] = body["kid"]
            tok = sign_jwt_raw(hd, c, key)
        return {"token": tok}
    if path == "check-refresh-token":
        rt = s.refresh.get(body.get("refresh_token", ""))
        return {"valid": bool(rt and rt["valid"])}
    return None


def sign_jwt_raw(header, claims_b64, key):
    """Re-sign with a modified header (for kid tests)."""
    data = (b64u(json.dumps(header).encode()) + "." + claims_b64).encode()
    return data.decode() + "." + b64u(key.key.sign(data, padding.PKCS1v15(), hashes.SHA256()))


def control_device(body):
    """Approve, decline or expire a pending device code (default: the latest)."""
    pending = [d for d in STATE.devices.values() if d["state"] == "pending"]
    if body.get("user_code"):
        pending = [d for d in pending if d["user_code"] == body["user_code"]]
    if body.get("action") is None:
        return {"pending": [d["user_code"] for d in pending]}
    if not pending:
        return {"error": "no pending device code"}
    dev = max(pending, key=lambda d: d["created"])
    dev["state"] = {"approve": "approved", "decline": "declined", "expire": "expired"}[body["action"]]
    return {"user_code": dev["user_code"], "state": dev["state"]}


def take_fault(endpoint):
    """The fault to apply to this request, if any (and count it down)."""
    f = STATE.faults.get(endpoint) or STATE.faults.get("any")
    if not f:
        return None
    if f.get("count", -1) == 0:
        return None
    if f.get("count", -1) > 0:
        f["count"] -= 1
    STATE.stats["faults_served"] += 1
    return dict(f)


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the endpoints above."""

    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        """Request log to stderr (paths only; bodies hold secrets)."""
        sys.stderr.write("fake-idp: %s\n" % (fmt % args))

    def send_json(self, status, obj, headers=None, raw=None):
        """Answer with a JSON body (or raw bytes)."""
        data = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        """The request body, bounded."""
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            raise Entra(9002313)
        return self.rfile.read(n) if n else b""

    def route(self):
        """(endpoint name, tenant, control path) of this request."""
        path = urllib.parse.urlsplit(self.path).path
        parts = path.strip("/").split("/")
        if parts[0] == "_control":
            return "control", None, "/".join(parts[1:])
        tenant, rest = parts[0], "/".join(parts[1:])
        names = {"oauth2/v2.0/token": "token", "oauth2/v2.0/devicecode": "devicecode",
                 "oauth2/introspect": "introspect",
                 "v2.0/.well-known/openid-configuration": "openid", "discovery/v2.0/keys": "keys",
                 "discovery/keys": "keys"}
        return names.get(rest), tenant, None

    def apply_fault(self, fault, tenant):
        """Answer with the injected fault; False when the request should go on."""
        mode = fault.get("mode")
        if mode == "slow":
            time.sleep(float(fault.get("delay", 1.0)))
            return False
        if mode == "close":
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        if mode == "429":
            self.send_json(429, {"error": "throttled"}, {"Retry-After": str(fault.get("retry_after", 1))})
        elif mode == "status":
            self.send_json(int(fault.get("status", 503)), None, raw=b"Service Unavailable")
        elif mode == "badjson":
            self.send_json(200, None, raw=b'{"token_type":"Bearer","access_tok')
        elif mode == "entra_error":
            e = Entra(int(fault.get("aadsts", 9002313)), int(fault.get("status", 400)))
            if fault.get("error"):
                e.fmt["error"] = fault["error"]
            self.send_json(e.status, entra_body(e, tenant))
        return True

    def handle_endpoint(self, name, tenant, form):
        """Run one IdP endpoint under the lock."""
        with STATE.lock:
            STATE.stats["requests"][name] = STATE.stats["requests"].get(name, 0) + 1
            if name == "token":
                STATE.stats["token_times"].append(time.time())
                cid = form.get("client_id", "")
                if cid not in STATE.apps:
                    STATE.stats["by_client"][cid] = STATE.stats["by_client"].get(cid, 0)
            fault = take_fault(name)
        if fault and self.apply_fault(fault, tenant):
            if name == "token":
                with STATE.lock:
                    cid = form.get("client_id", "")
                    STATE.stats["by_client"][cid] = STATE.stats["by_client"].get(cid, 0) + 1
            return
        try:
            with STATE.lock:
                ans = self.endpoint_answer(name, tenant, form)
            self.send_json(200, ans)
        except Entra as e:
            self.send_json(e.status, entra_body(e, tenant))

    def endpoint_answer(self, name, tenant, form):
        """The JSON of a successful answer."""
        if name == "token":
            return do_token(tenant, form)
        if name == "devicecode":
            return do_devicecode(tenant, form)
        if name == "introspect":
            return do_introspect(tenant, form)
        if name == "keys":
            return {"keys": [k.jwk() for k in STATE.keys]}
        guid = tenant_guid(tenant)
        base = "%s/%s" % (AUTHORITY, tenant if guid == "{tenantid}" else guid)
        issuer = STATE.settings["discovery_issuer"] or "%s/%s/v2.0" % (AUTHORITY, guid)
        return {"issuer": issuer, "jwks_uri": base + "/discovery/v2.0/keys",
                "token_endpoint": base + "/oauth2/v2.0/token",
                "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"]}

    def dispatch(self, method):
        """GET and POST."""
        try:
            name, tenant, cpath = self.route()
            body = self.read_body() if method == "POST" else b""
            if name == "control":
                with STATE.lock:
                    ans = control(cpath, json.loads(body or b"{}"))
                return self.send_json(200 if ans is not None else 404, ans or {"error": "not found"})
            want = "POST" if name in ("token", "devicecode", "introspect") else "GET"
            if name is None or method != want:
                return self.send_json(404, {"error": "not_found"})
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}
            self.handle_endpoint(name, tenant, form)
        except Entra as e:
            self.send_json(e.status, entra_body(e, "?"))
        except (ValueError, json.JSONDecodeError):
            self.send_json(400, entra_body(Entra(9002313), "?"))

    def do_GET(self):
        """GET requests."""
        self.dispatch("GET")

    def do_POST(self):
        """POST requests."""
        self.dispatch("POST")


def main():
    """Make the TLS files, listen on 127.0.0.1, print READY."""
    global AUTHORITY
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--config")
    ap.add_argument("--max-tls", choices=["1.1", "1.2", "1.3"], default="1.3",
                    help="highest TLS version offered (1.1: a legacy server clients must refuse)")
    ap.add_argument("--export-key", metavar="PATH",
                    help="write the current signing key there (0600), for benchmarks that sign many tokens")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    make_tls_files(args.dir)
    if args.export_key:
        write(args.export_key, pem_key(STATE.keys[0].key), 0o600)
    if args.config:
        with open(args.config) as f:
            for app in json.load(f):
                register(app)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if args.max_tls == "1.1":
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():  # deprecated on purpose: a legacy server
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    elif args.max_tls == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(args.dir, "server.pem"), os.path.join(args.dir, "server.key"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    AUTHORITY = "https://127.0.0.1:%d" % port
    ca = os.path.join(args.dir, "ca.pem")
    with open(os.path.join(args.dir, "ready.json"), "w") as f:
        json.dump({"port": port, "ca_file": ca, "authority": AUTHORITY}, f)
    print("READY port=%d ca=%s" % (port, ca), flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
