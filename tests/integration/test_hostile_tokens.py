# test_hostile_tokens.py: client tokens that attack the validator's trust
# (issue 11): a key rotation held off by a random kid, tokens of a foreign
# tenant carrying the site's aud, domain tenants resolved to their GUID
# through discovery, widened tenant lists and mutable user claims refused
# at load. Tokens are minted by the fake Entra ID (tests/fake-idp).
import time
import uuid

import pytest

from conftest import TENANT, Daemon

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
