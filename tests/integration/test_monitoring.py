# test_monitoring.py: conf/monitoring (issue 14, deliverable 3): the
# Prometheus alert rules pass `promtool check rules` and their unit tests
# (`promtool test rules`, tests/monitoring/exoauth.rules.test.yml, one case
# at least per alert); the Grafana dashboard is well-formed JSON whose
# panels do not overlap and whose every query parses (promtool, as a
# recording rule); and every exoauth_ metric the rules and the dashboard
# name is one a running exoauthd exports.
import json
import os
import re
import subprocess
import tempfile

import yaml

from test_metrics import md, promtool_check, scrape  # noqa: F401  (md: a daemon fixture)

from conftest import ROOT

RULES = os.path.join(ROOT, "conf", "monitoring", "exoauth.rules.yml")
RULE_TESTS = os.path.join(ROOT, "tests", "monitoring", "exoauth.rules.test.yml")
DASHBOARD = os.path.join(ROOT, "conf", "monitoring", "exoauth-dashboard.json")
NAME = re.compile(r"\bexoauth_[a-z_]+\b")


def promtool(*args, cwd=None):
    """Run promtool: (returncode, output)."""
    promtool_check("")  # skips the test, saying why, when promtool is missing
    p = subprocess.run(["promtool"] + list(args), capture_output=True, text=True, timeout=120, cwd=cwd)
    return p.returncode, p.stdout + p.stderr


def rules():
    """Every rule of the rules file."""
    with open(RULES) as f:
        return [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]


def dashboard():
    """The dashboard, parsed."""
    with open(DASHBOARD) as f:
        return json.load(f)


def queries(d):
    """Every PromQL expression of the dashboard (targets and variables)."""
    out = [t["expr"] for p in d["panels"] for t in p["targets"]]
    out += [v["definition"] for v in d["templating"]["list"] if v["type"] == "query"]
    return out


def test_rules_check_and_unit_tests():
    rc, out = promtool("check", "rules", RULES)
    assert rc == 0, out
    rc, out = promtool("test", "rules", os.path.basename(RULE_TESTS), cwd=os.path.dirname(RULE_TESTS))
    assert rc == 0 and "SUCCESS" in out, out
    with open(RULE_TESTS) as f:
        tested = {t["alertname"] for case in yaml.safe_load(f)["tests"] for t in case["alert_rule_test"]
                  if t.get("exp_alerts")}
    assert {r["alert"] for r in rules()} == tested  # each alert has a case where it fires


def test_every_alert_says_what_to_do():
    for r in rules():
        assert r["labels"]["severity"] in ("warning", "critical"), r["alert"]
        assert r["annotations"]["summary"] and len(r["annotations"]["description"]) > 40, r["alert"]


def test_dashboard_is_well_formed():
    d = dashboard()
    assert d["title"] and re.fullmatch(r"[A-Za-z0-9_-]{1,40}", d["uid"]) and isinstance(d["schemaVersion"], int)
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)) and len(ids) >= 10
    cells = set()
    for p in d["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, "panel %r overlaps another" % p["title"]
        cells |= mine
        assert p["title"] and p["targets"] and p["datasource"]["uid"] == "${datasource}", p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)) and all(t["datasource"]["uid"] == "${datasource}" for t in p["targets"])
    names = [v["name"] for v in d["templating"]["list"]]
    assert names == ["datasource", "instance", "account"]


def test_dashboard_queries_parse():
    """promtool parses each query as a recording rule's expression, with
    Grafana's variables replaced by what they expand to."""
    subst = {"$__rate_interval": "5m", "$instance": ".*", "$account": ".*"}
    group = {"groups": [{"name": "dashboard", "rules": []}]}
    for i, q in enumerate(queries(dashboard())):
        for k, v in subst.items():
            q = q.replace(k, v)
        if q.startswith("label_values("):
            q = q[len("label_values("):q.rindex(",")]  # the series selector inside
        assert "$" not in q, q
        group["groups"][0]["rules"].append({"record": "dashboard:query_%d" % i, "expr": q})
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(group, f)
    try:
        rc, out = promtool("check", "rules", f.name)
    finally:
        os.unlink(f.name)
    assert rc == 0, out


def test_names_are_ones_exoauthd_exports(md):
    """A typo in a metric name would make an alert that never fires."""
    assert md.token("app")[0] == "OK"
    conn = md.connect()
    text = scrape(conn)
    conn.close()
    families = set(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    exported = {n for n, _ in families}
    exported |= {n + s for n, t in families if t == "histogram" for s in ("_bucket", "_sum", "_count")}
    named = set()
    for expr in [r["expr"] for r in rules()] + queries(dashboard()):
        named |= set(NAME.findall(expr))
    assert named and named <= exported, named - exported
    assert {"exoauth_account_state", "exoauth_credential_expires_in_seconds", "exoauth_idp_requests_total",
            "exoauth_tokens_rejected_total", "exoauth_token_requests_total"} <= named
