# test_exchange_fronts.py: the stand-ins' own parser. exchangepop.bearer_exp
# reads the exp of the token in a client's XOAUTH2 or OAUTHBEARER response
# (never verifying it) so ImapFront and Pop3Front can end the session when
# Exchange would; anything it cannot read must give None (no deadline),
# never an exception inside a relay thread.
import base64
import json

import pytest

import exchangepop
import mta


def jwt(claims, header=None):
    def part(obj):
        raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return "%s.%s.sig" % (part(header or {"alg": "RS256"}), part(claims))


def b64(text):
    return base64.b64encode(text.encode() if isinstance(text, str) else text)


CASES = [
    ("xoauth2", b64(mta.xoauth2("a@contoso.example", jwt({"exp": 1700000000}))), 1700000000),
    ("oauthbearer", b64(mta.oauthbearer("a@contoso.example", jwt({"exp": 1700000001}))), 1700000001),
    ("with CRLF", b64(mta.xoauth2("a", jwt({"exp": 5}))) + b"\r\n", 5),
    ("float exp", b64(mta.xoauth2("a", jwt({"exp": 5.5}))), 5.5),
    ("no exp", b64(mta.xoauth2("a", jwt({"nbf": 5}))), None),
    ("exp a string", b64(mta.xoauth2("a", jwt({"exp": "5"}))), None),
    ("exp a bool", b64(mta.xoauth2("a", jwt({"exp": True}))), None),
    ("claims a list", b64(mta.xoauth2("a", jwt([1, 2]))), None),
    ("payload not json", b64(mta.xoauth2("a", "eyJ.bm90IGpzb24.sig")), None),
    ("payload not base64", b64(mta.xoauth2("a", "a.!!!.b")), None),
    ("one segment", b64(mta.xoauth2("a", "opaque")), None),
    ("no bearer", b64("user=a\x01auth=Basic x\x01\x01"), None),
    ("no terminator", b64("user=a\x01auth=Bearer " + jwt({"exp": 5})), None),
    ("not base64", b"%%%%", None),
    ("empty", b"", None),
    ("cancel", b"*", None),
    ("binary", b64(b"\xff\xfe\x00auth=Bearer \xff.\xff.\xff\x01"), None),
]


@pytest.mark.parametrize("name,response,exp", CASES, ids=[c[0] for c in CASES])
def test_bearer_exp(name, response, exp):
    assert exchangepop.bearer_exp(response) == exp
