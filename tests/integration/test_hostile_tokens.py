# test_hostile_tokens.py: client tokens that attack the validator's trust
# (issue 11): a key rotation held off by a random kid, tokens of a foreign
# tenant carrying the site's aud, domain tenants resolved to their GUID
# through discovery, widened tenant lists and mutable user claims refused
# at load. Tokens are minted by the fake Entra ID (tests/fake-idp).
import subprocess
import time
import uuid

import pytest

from conftest import EXOAUTHD, TENANT, Daemon

HOME = str(uuid.uuid5(uuid.NAMESPACE_DNS, TENANT))  # the fake IdP's GUID of TENANT
BASE = "[validate]\ntenant = %s\naudience = api://exoauth\nscopes = Mail.Login\n" % TENANT


def claims(idp, tid=HOME, v1=False, **over):
    """Claims of a good delegated token of tenant tid for the site's API."""
    now = int(time.time())
    iss = "https://sts.windows.net/%s/" % tid if v1 else "%s/%s/v2.0" % (idp.authority, tid)
    c = {"aud": "api://exoauth", "iss": iss, "tid": tid, "iat": now, "nbf": now - 5,
         "exp": now + 3600, "scp": "Mail.Login", "upn": "alice@contoso.example",
         "oid": str(uuid.uuid4()), "ver": "1.0" if v1 else "2.0"}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def check(d, token):
    """VALIDATE one token: (status, fields)."""
    return d.validate(token)


def started(tmp_root, idp, daemons, conf):
    """A started daemon with conf as its only section."""
    d = Daemon(tmp_root, idp, conf).start()
    daemons.append(d)
    return d


def test_rotation_after_spent_refetch_is_temporary(tmp_root, fresh_idp, daemons):
    window = 4
    d = started(tmp_root, fresh_idp, daemons, BASE + "kid_refetch_interval = %d\n" % window)
    assert check(d, fresh_idp.mint(claims=claims(fresh_idp)))[0] == "OK"
    s, f = check(d, fresh_idp.mint(claims=claims(fresh_idp), kid="random-kid"))
    spent = time.monotonic()
    assert s == "FAIL" and "unknown kid" in f["reason"], f
    fresh_idp.rotate_keys()
    tok = fresh_idp.mint(claims=claims(fresh_idp))
    s, f = check(d, tok)
    if time.monotonic() - spent < window:  # still throttled: a refusal would be wrong
        assert s == "FAIL" and f["kind"] == "temp", f
    deadline = time.monotonic() + window + 10
    while s != "OK" and time.monotonic() < deadline:
        time.sleep(0.25)  # waits for the refetch window, not for a process
        s, f = check(d, tok)
    assert s == "OK" and f["user"] == "alice@contoso.example", f


FOREIGN = "11111111-2222-4333-8444-555555555555"  # another tenant; Entra signs it with the same keys
THIRD = "66666666-7777-4888-9999-000000000000"


def refused(d, token, reason):
    """True when token is refused for good with reason."""
    s, f = check(d, token)
    return s == "FAIL" and f["kind"] == "perm" and reason in f["reason"]


def test_foreign_tenant_with_our_audience_is_refused(tmp_root, fresh_idp, daemons):
    d = started(tmp_root, fresh_idp, daemons, BASE)
    assert check(d, fresh_idp.mint(claims=claims(fresh_idp)))[0] == "OK"
    assert check(d, fresh_idp.mint(claims=claims(fresh_idp, v1=True)))[0] == "OK"
    for v1 in (False, True):  # the v1 one's upn names a local user
        tok = fresh_idp.mint(claims=claims(fresh_idp, tid=FOREIGN, v1=v1, upn="alice@contoso.example"))
        assert refused(d, tok, "tenant not allowed"), v1
    # the home tenant's issuer with a foreign tid, and the reverse
    mixed = claims(fresh_idp, tid=FOREIGN, iss="%s/%s/v2.0" % (fresh_idp.authority, HOME))
    assert refused(d, fresh_idp.mint(claims=mixed), "")
    mixed = claims(fresh_idp, iss="https://sts.windows.net/%s/" % FOREIGN)
    assert refused(d, fresh_idp.mint(claims=mixed), "wrong issuer")
    no_tid = claims(fresh_idp, tid=None, iss="%s/%s/v2.0" % (fresh_idp.authority, HOME))
    assert refused(d, fresh_idp.mint(claims=no_tid), "")


def test_domain_tenant_is_resolved_through_discovery(tmp_root, fresh_idp, daemons):
    d = started(tmp_root, fresh_idp, daemons, BASE)
    assert check(d, fresh_idp.mint(claims=claims(fresh_idp)))[0] == "OK"
    assert "tenant %s (%s)" % (TENANT, HOME) in d.read_log()
    # a GUID tenant, listed again in tenants as the old README did: nothing widened
    g = started(tmp_root, fresh_idp, daemons, BASE.replace(TENANT, HOME.upper()) + "tenants = %s\n" % HOME)
    assert check(g, fresh_idp.mint(claims=claims(fresh_idp)))[0] == "OK"
    assert "widen" not in g.read_log()
    assert refused(g, fresh_idp.mint(claims=claims(fresh_idp, tid=FOREIGN)), "tenant not allowed")


def test_explicit_tenants_widen_trust_with_a_warning(tmp_root, fresh_idp, daemons):
    d = started(tmp_root, fresh_idp, daemons, BASE + "tenants = %s\n" % FOREIGN)
    assert "warning" in d.read_log() and "widen" in d.read_log() and FOREIGN in d.read_log()
    for tid in (HOME, FOREIGN):
        for v1 in (False, True):
            s, f = check(d, fresh_idp.mint(claims=claims(fresh_idp, tid=tid, v1=v1)))
            assert s == "OK", (tid, v1, f)
    assert refused(d, fresh_idp.mint(claims=claims(fresh_idp, tid=THIRD)), "tenant not allowed")


def check_config(tmp_root, idp, conf):
    """exoauthd -t on a config with conf as its section: (exit code, output)."""
    d = Daemon(tmp_root, idp, conf)
    out = subprocess.run([EXOAUTHD, "-t", "-c", d.conf], capture_output=True, text=True, timeout=30)
    return out.returncode, out.stdout + out.stderr


@pytest.mark.parametrize("claim", ["email", "preferred_username"])
def test_mutable_user_claim_is_refused_at_load(tmp_root, fresh_idp, claim):
    rc, out = check_config(tmp_root, fresh_idp, BASE + "user_claim = %s\n" % claim)
    assert rc != 0 and "user_claim" in out and "allow_mutable_user_claim = yes" in out, out
    rc, out = check_config(tmp_root, fresh_idp, BASE + "user_claim = %s\nallow_mutable_user_claim = yes\n"
                           % claim)
    assert rc == 0, out


def test_mutable_user_claim_opt_in_warns(tmp_root, fresh_idp, daemons):
    d = started(tmp_root, fresh_idp, daemons,
                BASE + "user_claim = email\nallow_mutable_user_claim = yes\n")
    assert "warning" in d.read_log() and "user_claim email" in d.read_log()
    s, f = check(d, fresh_idp.mint(claims=claims(fresh_idp, email="bob@contoso.example")))
    assert s == "OK" and f["user"] == "bob@contoso.example", f


def test_multi_tenant_word_needs_a_tenant_list(tmp_root, fresh_idp):
    rc, out = check_config(tmp_root, fresh_idp, BASE.replace(TENANT, "organizations"))
    assert rc != 0 and 'add "tenants = ' in out, out
    rc, out = check_config(tmp_root, fresh_idp, BASE + "tenants = contoso.example\n")
    assert rc != 0 and "tenants" in out and "GUID" in out, out


def test_multi_tenant_word_trusts_the_listed_tenants_only(tmp_root, fresh_idp, daemons):
    conf = BASE.replace(TENANT, "organizations") + "tenants = %s\n" % FOREIGN.upper()
    d = started(tmp_root, fresh_idp, daemons, conf)
    assert check(d, fresh_idp.mint(claims=claims(fresh_idp, tid=FOREIGN)))[0] == "OK"
    assert refused(d, fresh_idp.mint(claims=claims(fresh_idp)), "tenant not allowed")


@pytest.mark.parametrize("issuer", ["https://evil.example/%s/v2.0" % HOME, "{authority}/{tenantid}/v2.0",
                                    "{authority}/%s/v2.0" % FOREIGN])
def test_discovery_without_the_tenant_id_fails_closed(tmp_root, fresh_idp, daemons, issuer):
    fresh_idp.settings(discovery_issuer=issuer.replace("{authority}", fresh_idp.authority))
    conf = BASE if "evil" in issuer or "{tenantid}" in issuer else BASE.replace(TENANT, HOME)
    d = started(tmp_root, fresh_idp, daemons, conf)
    s, f = check(d, fresh_idp.mint(claims=claims(fresh_idp)))
    assert s == "FAIL" and f["kind"] == "temp", f
    assert "issuer is not" in d.read_log()


def flood_of_bad_tokens(d, n):
    """n distinct malformed tokens on one connection, every answer read."""
    c = d.connect()
    for start in range(0, n, 1000):
        batch = range(start, min(n, start + 1000))
        c.send_raw(b"".join(b"f%d\tVALIDATE\ttoken=junk%d\n" % (i, i) for i in batch))
        for _ in batch:
            assert c.line().split("\t")[1] == "FAIL"
    c.close()


def test_refusal_flood_does_not_evict_good_acceptances(tmp_root, fresh_idp, daemons):
    d = started(tmp_root, fresh_idp, daemons, BASE + "kid_refetch_interval = 1\n")
    good = fresh_idp.mint(claims=claims(fresh_idp))
    never_seen = fresh_idp.mint(claims=claims(fresh_idp, upn="bob@contoso.example"))
    assert check(d, good)[0] == "OK"
    fresh_idp.rotate_keys(drop_old=True)  # the key of both tokens leaves the key set
    flood_of_bad_tokens(d, 10500)          # more distinct refusals than verdicts are kept
    fresh = fresh_idp.mint(claims=claims(fresh_idp))
    deadline = time.monotonic() + 15
    while check(d, fresh)[0] != "OK":      # exoauthd refetches the set with the new key only
        assert time.monotonic() < deadline
        time.sleep(0.25)  # waits for the 1 s refetch window, not for a process
    s, f = check(d, never_seen)
    assert s == "FAIL" and "unknown kid" in f["reason"], f  # the old key is gone for real
    assert check(d, good)[0] == "OK"  # only its remembered acceptance lets it in


def test_tokens_waiting_for_a_slow_key_fetch_are_bounded(tmp_root, fresh_idp, daemons):
    # each waiting token is held in memory until the fetch ends: 256
    # connections x 64 in flight x 16 KiB would be 256 MiB
    d = started(tmp_root, fresh_idp, daemons, BASE)
    assert check(d, fresh_idp.mint(claims=claims(fresh_idp)))[0] == "OK"
    fresh_idp.fault(endpoint="keys", mode="slow", delay=5, count=1)
    tok = fresh_idp.mint(claims=claims(fresh_idp), kid="random-kid").encode()
    conns = [d.connect() for _ in range(20)]
    for c in conns:  # 1,100 requests, 55 in flight per connection
        c.send_raw(b"".join(b"w%d\tVALIDATE\ttoken=%s\n" % (i, tok) for i in range(55)))
    busy = other = 0
    for c in conns:
        for _ in range(55):
            line = c.line()
            if "too many tokens waiting" in line:
                assert "\tkind=temp\t" in line, line
                busy += 1
            else:
                other += 1
    assert (busy, other) == (1100 - 1024, 1024)
    assert check(d, fresh_idp.mint(claims=claims(fresh_idp)))[0] == "OK"


def test_without_any_key_set_the_idp_is_asked_once_per_retry_interval(tmp_root, fresh_idp, daemons):
    fresh_idp.fault(endpoint="openid", mode="status", status=503)  # discovery keeps failing
    d = started(tmp_root, fresh_idp, daemons, BASE)
    tok = fresh_idp.mint(claims=claims(fresh_idp))
    before = fresh_idp.stats()["requests"].get("openid", 0)
    for _ in range(30):  # each a temporary failure, answered at once
        s, f = check(d, tok)
        assert s == "FAIL" and f["kind"] == "temp", f
    asked = fresh_idp.stats()["requests"].get("openid", 0) - before
    assert asked <= 1, "%d discovery requests for 30 tokens within the 10 s retry interval" % asked
