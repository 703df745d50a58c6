"""Every metric the Grafana dashboard (monitoring/dashboard.json) and the alert rules (monitoring/alerts.json)
query must exist, or a panel stays empty and an alert never fires without anyone noticing:

- `scoring_*` names against the real app's /metrics output (the server started as in production, after
  real requests, so labelled series and histogram buckets are there);
- `DCGM_*` against the counters the DCGM exporter is configured to collect: NVIDIA's default-counters.csv
  at the pinned tag, minus the profiling fields components/dcgmExporter.ts leaves out;
- `kube_*` and `node_*` against kube-state-metrics' documented metrics and node_exporter's real output,
  and against what Azure Monitor's minimal ingestion profile keeps from those default targets;
- `up`, which Prometheus itself records for every scrape target.

The exporter lists and their sources are in monitoring/metrics/ (SOURCES.md)."""

from __future__ import annotations

import csv
import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import MakeServer, Server, free_port

ROOT = Path(__file__).resolve().parents[3]
MONITORING = ROOT / "monitoring"
LISTS = MONITORING / "metrics"
DCGM_COUNTERS = LISTS / "dcgm-exporter-4.5.3-4.8.2-default-counters.csv"

# Series Prometheus writes for every target itself (https://prometheus.io/docs/concepts/jobs_instances/).
PROMETHEUS_SYNTHETIC = {"up"}

PROMQL_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_PLACEHOLDER = re.compile(r"\{\{\w+\}\}|\$\{\w+\}|\$\w+")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]|\boffset\s+-?\d+\w*")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_TOKEN = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[a-zA-Z_:][a-zA-Z0-9_:]*(?:\s*\()?")


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions, aggregations,
    keywords, label names, label values, durations or stack/Grafana parameters."""
    text = _PLACEHOLDER.sub(" 0 ", _STRING.sub('""', expression))
    text = _GROUPING.sub(" ", _RANGE.sub(" ", _MATCHERS.sub(" ", text)))
    names: set[str] = set()
    for token in _TOKEN.findall(text):
        if token[0].isdigit() or token.endswith("(") or token in PROMQL_KEYWORDS:
            continue
        names.add(token)
    return names


def dashboard_expressions() -> dict[str, str]:
    panels = json.loads((MONITORING / "dashboard.json").read_text())["panels"]
    return {
        f"dashboard panel {panel['title']!r} query {target['refId']}": target["expr"]
        for panel in panels
        for target in panel.get("targets", [])
    }


def alert_expressions() -> dict[str, str]:
    groups = json.loads((MONITORING / "alerts.json").read_text())["groups"]
    return {f"alert {rule['alert']}": rule["expression"] for group in groups for rule in group["rules"]}


def all_expressions() -> dict[str, str]:
    return {**dashboard_expressions(), **alert_expressions()}


def listed_names(path: Path) -> set[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def dcgm_collected() -> set[str]:
    """The fields the exporter collects: uncommented counters of upstream's file without DCGM_FI_PROF_*,
    and without label-type entries (those become labels, not series)."""
    rows = csv.reader(line for line in DCGM_COUNTERS.read_text().splitlines() if line and not line.startswith("#"))
    return {
        field.strip()
        for field, kind, *_ in rows
        if not field.strip().startswith("DCGM_FI_PROF_") and kind.strip() in {"gauge", "counter"}
    }


def minimal_profile_keeps(target: str, name: str) -> bool:
    keep = json.loads((LISTS / "ama-metrics-minimal-ingestion.json").read_text())["keepRegex"][target]
    return re.fullmatch(keep, name) is not None


def exposition_names(text: str) -> set[str]:
    return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def get_metrics(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        assert response.status == 200, response.status
        return response.read().decode()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def app_metric_names(make_server: MakeServer) -> Iterator[set[str]]:
    """Sample names on the real server's /metrics after a scored request, a refused one and a bad one.
    The app serves /metrics on METRICS_PORT where it supports that port, else on its main port."""
    metrics_port = free_port()
    server: Server = make_server({"METRICS_PORT": str(metrics_port)})
    rows = np.full((8, 784), 0.5)  # any 784 numbers in [0, 1] are a valid seed-format row
    assert server.score(rows[:8]).status == 200
    assert server.score(rows[:1], key="wrong-key").status == 401
    assert server.request("POST", "/score", b"{not json").status == 400
    try:
        text = get_metrics(metrics_port)
    except OSError:
        text = get_metrics(server.port)
    yield exposition_names(text)


def test_the_extractor_finds_metrics_and_nothing_else() -> None:
    expression = (
        'histogram_quantile(0.99, sum by (le, route) (rate(scoring_request_seconds_bucket{namespace="$namespace",'
        'route=~"/score|x"}[$__rate_interval]))) > {{p99LatencySeconds}} and on (node) max by (node) '
        '(kube_node_spec_taint{key="sku"}) or vector(0) < 1e-9 unless absent(up{job="gpu-dcgm"} offset 5m)'
    )
    assert metric_names(expression) == {"scoring_request_seconds_bucket", "kube_node_spec_taint", "up"}


def test_dashboard_and_alerts_query_something() -> None:
    expressions = all_expressions()
    assert len(dashboard_expressions()) >= 20 and len(alert_expressions()) >= 9
    for where, expression in expressions.items():
        assert metric_names(expression), f"{where} names no metric: {expression}"


def test_every_scoring_metric_is_on_the_real_apps_metrics_endpoint(app_metric_names: set[str]) -> None:
    used = {name for expression in all_expressions().values() for name in metric_names(expression)}
    scoring = {name for name in used if name.startswith("scoring_")}
    assert len(scoring) >= 10, scoring
    assert sorted(scoring - app_metric_names) == [], f"the app exposes: {sorted(app_metric_names)}"


def test_every_metric_comes_from_the_app_or_a_documented_exporter(app_metric_names: set[str]) -> None:
    ksm = listed_names(LISTS / "kube-state-metrics-v2.20.0.txt")
    node_exporter = listed_names(LISTS / "node-exporter-v1.12.1.txt")
    dcgm = dcgm_collected()
    problems: list[str] = []
    for where, expression in all_expressions().items():
        for name in sorted(metric_names(expression)):
            if name.startswith("scoring_"):
                ok = name in app_metric_names
                source = "the app's /metrics"
            elif name.startswith("DCGM_"):
                ok = name in dcgm
                source = "the DCGM exporter's collected counters"
            elif name.startswith("kube_"):
                ok = name in ksm and minimal_profile_keeps("kubestate", name)
                source = "kube-state-metrics' docs and Azure's minimal ingestion profile"
            elif name.startswith("node_"):
                ok = name in node_exporter and minimal_profile_keeps("nodeexporter", name)
                source = "node_exporter's output and Azure's minimal ingestion profile"
            else:
                ok = name in PROMETHEUS_SYNTHETIC
                source = "any known source"
            if not ok:
                problems.append(f"{where}: {name} is not in {source}")
    assert problems == []


def test_the_alerts_cover_the_gpu_failure_signals() -> None:
    names = {name for expression in alert_expressions().values() for name in metric_names(expression)}
    assert {"DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_GPU_TEMP", "kube_node_status_condition"} <= names
    assert {"kube_pod_container_status_restarts_total", "kube_deployment_status_replicas_ready"} <= names


def test_a_misspelt_metric_would_be_caught(app_metric_names: set[str]) -> None:
    # The check above is only as good as its lists: a near miss of a real name is absent from each.
    assert "scoring_request_total" not in app_metric_names
    assert "DCGM_FI_DEV_GPU_UTILIZATION" not in dcgm_collected()
    assert "DCGM_FI_PROF_GR_ENGINE_ACTIVE" not in dcgm_collected()  # upstream default, but needs SYS_ADMIN
    assert not minimal_profile_keeps("nodeexporter", "node_memory_Active_bytes")
    assert "kube_deployment_status_ready_replicas" not in listed_names(LISTS / "kube-state-metrics-v2.20.0.txt")
