# test_validate.py: VALIDATE, exoauthd's local check of client tokens
# (issue 4's core): tokens minted by the fake Entra ID, good and hostile,
# each refused with its reason; key rotation picked up with one refetch; a
# flood of unknown kids costs at most one refetch; an unreachable IdP is a
# temporary failure, never a refusal.
import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import EXOAUTHCTL, Daemon

TID = "9188040d-6c67-4c5b-b112-36a304b66dad"
VALIDATE = ("[validate]\ntenant = contoso.example\naudience = api://exoauth\n"
            "scopes = Mail.Login\ntenants = %s\n" % TID)


@pytest.fixture
def vd(tmp_root, fresh_idp, daemons):
    """A daemon with only a [validate] section."""
    d = Daemon(tmp_root, fresh_idp, VALIDATE).start()
    daemons.append(d)
    return d


def claims(idp, **over):
    """Claims of a good delegated token for the site's API."""
    now = int(time.time())
    c = {"aud": "api://exoauth", "iss": "%s/%s/v2.0" % (idp.authority, TID), "tid": TID,
         "iat": now, "nbf": now - 5, "exp": now + 3600, "scp": "Mail.Login offline_access",
         "upn": "alice@contoso.example", "oid": str(uuid.uuid4()), "ver": "2.0"}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def check(d, token):
    """VALIDATE one token: (status, fields)."""
    return d.validate(token)


def test_valid_token_gives_user(vd, fresh_idp):
    s, f = check(vd, fresh_idp.mint(claims=claims(fresh_idp)))
    assert s == "OK" and f["user"] == "alice@contoso.example", f
    v1 = claims(fresh_idp, iss="https://sts.windows.net/%s/" % TID)
    assert check(vd, fresh_idp.mint(claims=v1))[0] == "OK"


@pytest.mark.parametrize("over,mint,reason", [
    ({"exp": int(time.time()) - 600}, {}, "expired"),
    ({"nbf": int(time.time()) + 900}, {}, "not yet valid"),
    ({"aud": "https://outlook.office365.com"}, {}, "wrong audience"),
    ({"iss": "https://evil.example/%s/v2.0" % TID}, {}, "wrong issuer"),
    ({"tid": "00000000-0000-0000-0000-000000000001",
      "iss": "https://sts.windows.net/00000000-0000-0000-0000-000000000001/"}, {}, "tenant not allowed"),
    ({"scp": "Mail.Read"}, {}, "missing scope"),
    ({"upn": None}, {}, "no upn"),
    ({}, {"alg": "none"}, "alg none"),
    ({}, {"alg": "HS256"}, "alg HS256"),
    ({}, {"key": "other"}, "unknown kid"),
])
def test_bad_tokens_are_refused_with_reason(vd, fresh_idp, over, mint, reason):
    s, f = check(vd, fresh_idp.mint(claims=claims(fresh_idp, **over), **mint))
    assert s == "FAIL" and f["kind"] == "perm" and f["code"] == "invalid_token", f
    assert reason in f["reason"], f


def test_flipped_signature_and_garbage(vd, fresh_idp):
    tok = fresh_idp.mint(claims=claims(fresh_idp))
    h, p, sig = tok.split(".")
    flipped = h + "." + p + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    assert check(vd, flipped)[1]["reason"] == "bad signature"
    for junk in ("not-a-token", "a.b.c", "!!!.???.***"):
        s, f = check(vd, junk)
        assert s == "FAIL" and f["kind"] == "perm", (junk, f)


def test_oversized_token_is_refused_without_hang(vd):
    c = vd.connect()
    c.send_raw(b"1\tVALIDATE\ttoken=" + b"a" * 17000 + b"\n")
    assert c.line().startswith("*\tERROR\treason=line too long")


def test_key_rotation_needs_one_refetch(vd, fresh_idp):
    assert check(vd, fresh_idp.mint(claims=claims(fresh_idp)))[0] == "OK"
    before = fresh_idp.stats()["requests"]["keys"]
    fresh_idp.rotate_keys()
    s, f = check(vd, fresh_idp.mint(claims=claims(fresh_idp)))
    assert s == "OK", f
    assert fresh_idp.stats()["requests"]["keys"] == before + 1


def test_unknown_kid_flood_costs_one_refetch(vd, fresh_idp):
    assert check(vd, fresh_idp.mint(claims=claims(fresh_idp)))[0] == "OK"
    before = fresh_idp.stats()["requests"]["keys"]
    for i in range(50):
        s, f = check(vd, fresh_idp.mint(claims=claims(fresh_idp), kid="made-up-%d" % i))
        assert s == "FAIL" and "unknown kid" in f["reason"]
    assert fresh_idp.stats()["requests"]["keys"] <= before + 1


def test_idp_down_is_temporary_not_refusal(tmp_root, fresh_idp, daemons):
    fresh_idp.fault(endpoint="openid", mode="status", status=503, count=-1)
    d = Daemon(tmp_root, fresh_idp, VALIDATE).start()
    daemons.append(d)
    s, f = check(d, fresh_idp.mint(claims=claims(fresh_idp)))
    assert s == "FAIL" and f["kind"] == "temp" and f["code"] == "idp_unavailable", f


def test_last_good_keys_kept_when_refetch_fails(vd, fresh_idp):
    assert check(vd, fresh_idp.mint(claims=claims(fresh_idp)))[0] == "OK"
    fresh_idp.fault(endpoint="keys", mode="status", status=503, count=-1)
    s, f = check(vd, fresh_idp.mint(claims=claims(fresh_idp), key="other"))
    assert s == "FAIL" and "unknown kid" in f["reason"]
    s, f = check(vd, fresh_idp.mint(claims=claims(fresh_idp, upn="bob@contoso.example")))
    assert s == "OK" and f["user"] == "bob@contoso.example", f
    assert "keeping the last good set" in vd.read_log()


def test_token_never_logged(vd, fresh_idp):
    tok = fresh_idp.mint(claims=claims(fresh_idp, exp=int(time.time()) - 900))
    s, f = check(vd, tok)
    log = vd.read_log()
    assert tok not in log and tok.split(".")[2][:30] not in log
    assert f["hash"] in log


INTRO_CID = "66666666-2222-3333-4444-000000000001"


@pytest.fixture
def intro(tmp_root, fresh_idp, daemons):
    """A daemon validating by RFC 7662 introspection at the fake IdP."""
    secret = tmp_root + "/introspect-secret"
    with open(secret, "w") as f:
        f.write("intro-secret\n")
    os.chmod(secret, 0o600)
    fresh_idp.register(tenant="contoso.example", client_id=INTRO_CID, secret="intro-secret")
    conf = ("[validate]\nmode = introspection\nintrospection_url = %s/contoso.example/oauth2/introspect\n"
            "client_id = %s\nsecret_file = %s\naudience = api://exoauth\nscopes = Mail.Login\n"
            % (fresh_idp.authority, INTRO_CID, secret))
    d = Daemon(tmp_root, fresh_idp, conf).start()
    daemons.append(d)
    return d


def test_introspection_accepts_and_refuses(intro, fresh_idp):
    s, f = check(intro, fresh_idp.mint(claims=claims(fresh_idp)))
    assert s == "OK" and f["user"] == "alice@contoso.example", f
    s, f = check(intro, fresh_idp.mint(claims=claims(fresh_idp, exp=int(time.time()) - 60)))
    assert s == "FAIL" and f["kind"] == "perm" and "inactive" in f["reason"], f
    s, f = check(intro, fresh_idp.mint(claims=claims(fresh_idp, aud="other")))
    assert s == "FAIL" and "wrong audience" in f["reason"], f
    s, f = check(intro, fresh_idp.mint(claims=claims(fresh_idp, scp="Mail.Read")))
    assert s == "FAIL" and "missing scope" in f["reason"], f


def test_introspections_in_flight_are_bounded(intro, fresh_idp):
    # each one holds a worker that exoauthd's token fetches need too
    fresh_idp.fault(endpoint="introspect", mode="slow", delay=2)
    c = intro.connect()
    c.send_raw(b"".join(b"i%d\tVALIDATE\ttoken=opaque-%d\n" % (i, i) for i in range(40)))
    answers = [c.line() for _ in range(40)]
    busy = [a for a in answers if "too many tokens being introspected" in a]
    assert len(busy) == 40 - 16 and all("\tkind=temp\t" in a for a in busy), answers


def test_introspection_caches_by_hash_and_outage_is_temporary(intro, fresh_idp):
    tok = fresh_idp.mint(claims=claims(fresh_idp))
    assert check(intro, tok)[0] == "OK"
    n = fresh_idp.stats()["requests"]["introspect"]
    assert check(intro, tok)[0] == "OK"
    assert fresh_idp.stats()["requests"]["introspect"] == n
    fresh_idp.fault(endpoint="introspect", mode="status", status=503, count=-1)
    s, f = check(intro, fresh_idp.mint(claims=claims(fresh_idp, upn="bob@contoso.example")))
    assert s == "FAIL" and f["kind"] == "temp" and f["code"] == "idp_unavailable", f


def test_user_map_renames_mapped_users_only(tmp_root, fresh_idp, daemons):
    path = os.path.join(tmp_root, "users.map")
    with open(path, "w") as f:
        f.write("# claim value   local user\nAlice@Contoso.example   alice\n")
    d = Daemon(tmp_root, fresh_idp, VALIDATE + "user_map = %s\n" % path).start()
    daemons.append(d)
    assert check(d, fresh_idp.mint(claims=claims(fresh_idp)))[1]["user"] == "alice"
    other = claims(fresh_idp, upn="bob@contoso.example")
    assert check(d, fresh_idp.mint(claims=other))[1]["user"] == "bob@contoso.example"


def test_a_user_map_that_breaks_the_file_rule_stops_start_and_reload(tmp_root, fresh_idp, daemons):
    # it used to be logged and skipped: users then logged in under their raw claim
    path = os.path.join(tmp_root, "users-%d.map" % os.getpid())
    with open(path, "w") as f:
        f.write("Alice@Contoso.example   alice\n")
    os.chmod(path, 0o666)
    d = Daemon(tmp_root, fresh_idp, VALIDATE + "user_map = %s\n" % path)
    daemons.append(d)
    d.start(check=False)
    assert d.proc.wait(timeout=15) == 1 and "writable by group or others" in d.read_log()
    os.chmod(path, 0o644)
    d.start()
    assert check(d, fresh_idp.mint(claims=claims(fresh_idp)))[1]["user"] == "alice"
    os.chmod(path, 0o666)
    before = len(d.read_log())
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while "reload refused" not in d.read_log()[before:]:
        assert time.monotonic() < deadline
        time.sleep(0.05)  # polls the log file, bounded by the deadline
    assert check(d, fresh_idp.mint(claims=claims(fresh_idp)))[1]["user"] == "alice"  # the old map stays


def test_exoauthctl_validate_reads_stdin(vd, fresh_idp):
    tok = fresh_idp.mint(claims=claims(fresh_idp))
    out = subprocess.run([EXOAUTHCTL, "-c", vd.conf, "validate"], input=tok, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0 and "user alice@contoso.example" in out.stdout, out
    assert tok not in out.stdout + out.stderr
    bad = fresh_idp.mint(claims=claims(fresh_idp, aud="nope"))
    out = subprocess.run([EXOAUTHCTL, "-c", vd.conf, "validate"], input=bad, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 1 and "wrong audience" in out.stderr, out


def test_login_must_name_the_tokens_user(tmp_root, fresh_idp, daemons):
    path = os.path.join(tmp_root, "users-login.map")
    with open(path, "w") as f:
        f.write("alice@contoso.example   alice\n")
    d = Daemon(tmp_root, fresh_idp, VALIDATE + "user_map = %s\n" % path).start()
    daemons.append(d)
    tok = fresh_idp.mint(claims=claims(fresh_idp))
    c = d.connect()
    try:
        for login in ("alice", "ALICE@contoso.example", "alice@contoso.example"):
            s, f = c.request("1", "VALIDATE", token=tok, login=login)
            assert s == "OK" and f["user"] == "alice", (login, f)
        s, f = c.request("2", "VALIDATE", token=tok, login="bob@contoso.example")
        assert s == "FAIL" and f["kind"] == "perm" and f["code"] == "invalid_token", f
        assert f["reason"] == "token belongs to alice@contoso.example, not bob@contoso.example", f
    finally:
        c.close()
