"""Monitoring that ships: /metrics passes ``promtool check metrics`` on a real node, the
alert rules pass their ``promtool test rules`` unit tests (and fail when a threshold is
broken), and the Grafana dashboard asks only for metrics a real node exports.

Debian's ``prometheus`` package brings promtool; scripts/test.sh installs it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.redis_server import free_port
from tests.serve_node import AT, ServeNode, _enable, write_lists

MONITORING = ROOT / "monitoring"
RULES = MONITORING / "prometheus" / "callguard-alerts.yml"
RULE_TESTS = MONITORING / "prometheus" / "callguard-alerts.test.yml"
DASHBOARD = MONITORING / "grafana" / "callguard-dashboard.json"
# Series Prometheus itself adds to every scrape target.
PROMETHEUS_OWN = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})


@pytest.fixture(autouse=True, scope="module")
def _promtool() -> None:
    """No skipping: a machine without promtool fails, saying how to get it."""
    if not shutil.which("promtool"):
        raise RuntimeError("promtool not installed: run scripts/test.sh, which installs "
                           "Debian's prometheus package")


def promtool(*args: str, text: str | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([shutil.which("promtool") or "promtool", *args], input=text,
                          capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Iterator[ServeNode]:
    """A node as an operator runs it with everything on: Redis lists, records and stream,
    the AMI watchdog (its Asterisk not reachable), FastAGI, SIP and HTTP."""
    from tests.redis_server import RedisServer

    root = tmp_path_factory.mktemp("monitoring")
    redis = RedisServer(root / "redis")
    redis.data_dir.mkdir()
    redis.start()
    serve = ServeNode(root, redis_url=redis.url, redis_records=True, redis_stream=True,
                      env_extra={"CALLGUARD_AMI_SECRET": "not-a-real-secret"})
    serve.config.write_text(_enable(serve.config.read_text(), "ami",
                                    {"port = 5038": f"port = {free_port()}"}))
    write_lists(serve.data, [8015550199])
    serve.start()
    try:
        for number in ("8015550123", "8015550199"):
            status, _ = serve.json("/v1/check", {"number": number,
                                                 "campaign": "ut-solar-manual", "at": AT})
            assert status == 200
        serve.until(lambda: "callguard_redis_up 1.0" in serve.http("/metrics")[1],
                    what="redis_up 1")
        yield serve
    finally:
        serve.stop()
        redis.stop()


def exported_names(text: str) -> set[str]:
    """Every series name a scrape can return: samples, and declared families (a labelled
    gauge with no child yet has a TYPE line but no sample); histograms' parts."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "histogram":
                names.update(f"{name}_{part}" for part in ("bucket", "count", "sum"))
            if kind == "counter" and not name.endswith("_total"):
                names.add(f"{name}_total")
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


class TestMetrics:
    """The real /metrics of a running node."""

    def test_promtool_check_metrics_passes(self, node):
        """promtool finds nothing to complain about (the old list_age_days failed here)."""
        text = node.http("/metrics")[1]
        result = promtool("check", "metrics", text=text)
        assert result.returncode == 0, result.stdout + result.stderr
        assert (result.stdout + result.stderr).strip() == ""

    def test_what_an_operator_needs_is_exported(self, node):
        """Build and pack versions, list expiry, process collectors, the front label,
        AMI and Redis state; no _created series."""
        text = node.http("/metrics")[1]
        assert re.search(r'^callguard_build_info\{python="[\d.]+",version="\d+\.\d+\.\d+"\} 1\.0$',
                         text, re.MULTILINE)
        assert re.search(r'^callguard_pack_info\{.*pack="us-federal",version="[^"]+"\} 1\.0$',
                         text, re.MULTILINE)
        assert re.search(r'^callguard_list_expiry_timestamp_seconds\{list="national"\} \S+$',
                         text, re.MULTILINE)
        for family in ("process_resident_memory_bytes", "process_open_fds", "python_info",
                       "python_gc_collections_total"):
            assert f"\n{family}" in text, family
        assert re.search(r'^callguard_decisions_total\{campaign="ut-solar-manual",'
                         r'front="http",rule="us-federal:64\.1200\(c\)\(2\)",verdict="BLOCK"\} '
                         r'1\.0$', text, re.MULTILINE)
        assert "callguard_ami_up 0.0" in text  # enabled, and its Asterisk is not there
        assert "callguard_redis_up 1.0" in text
        assert "_created" not in text

    def test_ami_and_redis_gauges_absent_where_not_used(self, tmp_path):
        """A node without AMI or Redis exports neither gauge: a 0 would raise false alerts."""
        plain = ServeNode(tmp_path)
        write_lists(plain.data, [8015550199])
        plain.start()
        try:
            text = plain.http("/metrics")[1]
        finally:
            plain.stop()
        assert "callguard_ami_up" not in text
        assert "callguard_redis_up" not in text
        assert "callguard_ready 1.0" in text
        assert promtool("check", "metrics", text=text).returncode == 0


class TestAlertRules:
    """monitoring/prometheus: the rules load, and each alert's unit test passes."""

    def test_rules_are_valid(self):
        result = promtool("check", "rules", str(RULES))
        assert result.returncode == 0, result.stdout + result.stderr

    def test_every_alert_has_a_firing_and_a_quiet_case(self):
        """No alert without a unit test that makes it fire and one where it is quiet."""
        alerts = set(re.findall(r"^\s+- alert: (\w+)$", RULES.read_text(), re.MULTILINE))
        tests = RULE_TESTS.read_text()
        for alert in alerts:
            assert re.search(rf"alertname: {alert}\n\s+exp_alerts: \[\]", tests), alert
            assert re.search(rf"alertname: {alert}\n\s+exp_alerts:\n\s+- exp_labels:", tests), (
                alert)

    def test_promtool_test_rules_passes(self):
        result = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout

    @pytest.mark.parametrize(("old", "new"), [
        ("callguard_abandonment_rate > 0.025", "callguard_abandonment_rate > 0.05"),
        ("callguard_ami_up == 0", "callguard_ami_up == 2"),
        ('rule=~"callguard:(store-unavailable|time-budget|internal-error)"',
         'rule=~"callguard:(internal-error)"'),
        ("callguard_list_expiry_timestamp_seconds - time() < 3 * 86400",
         "callguard_list_expiry_timestamp_seconds - time() < 3600"),
    ])
    def test_a_broken_rule_fails_its_test(self, tmp_path, old, new):
        """The unit tests can fail: a rule with a wrong threshold or matcher is caught."""
        text = RULES.read_text()
        assert old in text
        (tmp_path / RULES.name).write_text(text.replace(old, new))
        shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
        result = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
        assert result.returncode != 0
        assert "FAILED" in result.stdout + result.stderr


_PROMQL_WORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "inf", "nan", "le"})


def promql_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, keywords, labels and Grafana
    variables taken out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "",
                  text)
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\$\w+", "", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        rest = text[match.end():].lstrip()
        word = match.group()
        if rest.startswith("(") or word.lower() in _PROMQL_WORDS:
            continue
        if re.fullmatch(r"\d*e\d*", word):
            continue
        names.add(word)
    return names


class TestDashboard:
    """monitoring/grafana/callguard-dashboard.json."""

    def dashboard(self) -> dict:
        return json.loads(DASHBOARD.read_text())

    def expressions(self) -> list[str]:
        found = []
        for panel in self.dashboard()["panels"]:
            found.extend(t["expr"] for t in panel.get("targets", []))
        return found

    def test_valid_json_with_the_panels_an_operator_needs(self):
        doc = self.dashboard()
        assert doc["uid"] == "callguard-overview"
        titles = " | ".join(p["title"] for p in doc["panels"])
        for wanted in ("Decisions by verdict", "Blocks by deciding rule", "front",
                       "latency", "List age", "releases", "Abandonment"):
            assert wanted in titles, wanted
        ids = [p["id"] for p in doc["panels"]]
        assert len(ids) == len(set(ids))

    def test_the_parser_finds_metrics(self):
        """The check below is only as good as this: names in, functions and labels out."""
        assert promql_metrics('histogram_quantile(0.99, sum by (le) (rate('
                              'callguard_decision_latency_seconds_bucket{instance=~"$i"}'
                              '[$__rate_interval])))') == {
            "callguard_decision_latency_seconds_bucket"}
        assert promql_metrics("callguard_list_expiry_timestamp_seconds - time() < 3 * 86400"
                              ) == {"callguard_list_expiry_timestamp_seconds"}
        assert promql_metrics("process_resident_memory_bytes / 1e9") == {
            "process_resident_memory_bytes"}

    def test_every_expression_reads_metrics_the_node_exports(self, node):
        """Every PromQL of the dashboard and the alert rules names series a real node
        (everything on) returns, or Prometheus' own ``up``."""
        exported = exported_names(node.http("/metrics")[1]) | PROMETHEUS_OWN
        expressions = self.expressions()
        expressions += re.findall(r"^\s+expr: (?:>-\n)?(.+?)(?=\n\s+(?:for|labels):)",
                                  RULES.read_text(), re.MULTILINE | re.DOTALL)
        assert len(expressions) > 30
        unknown = {}
        for expr in expressions:
            missing = promql_metrics(expr) - exported
            if missing:
                unknown[expr] = sorted(missing)
        assert not unknown, unknown
        used = set().union(*(promql_metrics(e) for e in expressions))
        for name in ("callguard_decisions_total", "callguard_list_age_seconds",
                     "callguard_line_release_seconds_bucket", "callguard_abandonment_rate",
                     "callguard_watchdog_events_total"):
            assert name in used, name
