# test_hve.py: issue 13, High Volume Email as a relay target. The site's
# Postfix uses the shipped HVE snippets (conf/postfix/main.cf-hve,
# sasl_passwd-hve) and exoauthd the shipped [account hve]
# (conf/exoauthd-hve.conf), with only the hosts, ids and paths replaced;
# the Exchange stand-in plays smtp-hve.office365.com. It checks what the
# stand-in does not (tests/integration/EXCHANGE.md, row 2): the token is an
# app-only token for the scope Microsoft's HVE page implies, carrying the
# application permission Mail.Send.
import base64
import json
import os
import uuid

import pytest

import mta
from conftest import TENANT
from test_relay import Site, env, message  # noqa: F401 (env is a fixture)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="private Postfix instances need root")

HVE_SNIPPETS = ("postfix/main.cf-hve", "postfix/sasl_passwd-hve", "[smtp-hve.office365.com]:587",
                "hve-alerts@contoso.example:hve")
HVE_MAILBOX = "hve-alerts@contoso.example"


def hve_section(cid, cert, key):
    """The shipped [account hve], with this test's app and files."""
    return mta.snippet("exoauthd-hve.conf", [
        ("tenant = contoso.example", "tenant = " + TENANT),
        ("00000000-0000-0000-0000-000000000000", cid),
        ("/etc/exoauth/hve.crt", cert),
        ("/etc/exoauth/hve.key", key)]) + "\n"


def claims(jwt):
    """The payload of a JWT, unverified (the stand-in verified it)."""
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_hve_snippets_relay_with_xoauth2_and_an_app_token_for_exchange(tmp_root, fresh_idp, env):
    up = env(mta.ExchangeStandIn(tmp_root, fresh_idp, name="hve-%s" % uuid.uuid4().hex[:6]))
    site = env(Site(tmp_root, fresh_idp, up, mailbox=HVE_MAILBOX, account="hve", snippets=HVE_SNIPPETS,
                    roles=("Mail.Send",), account_section=hve_section))
    tag = uuid.uuid4().hex[:8]
    site.submit([message(i, tag) for i in range(3)], sender=HVE_MAILBOX)
    msgs = [m for m in up.wait_messages(3, timeout=120) if tag in str(m["Message-ID"])]
    assert sorted(int(m["X-Test-Seq"]) for m in msgs) == [0, 1, 2]
    assert all("(Authenticated sender: %s)" % HVE_MAILBOX in str(m["Received"]) for m in msgs)
    assert "sasl_method=XOAUTH2, sasl_username=" + HVE_MAILBOX in up.postfix.log_text()
    assert "status=bounced" not in site.postfix.log_text()
    assert site.token_requests() == 1
    status, fields = site.daemon.token("hve")
    c = claims(fields["token"])
    assert c["aud"] == "https://outlook.office365.com"     # scope https://outlook.office365.com/.default
    assert c["roles"] == ["Mail.Send"] and "scp" not in c  # app-only, HVE's permission
    assert fields["token"] not in site.daemon.read_log() + site.postfix.log_text()
