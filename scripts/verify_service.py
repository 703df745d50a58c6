#!/usr/bin/env python3
"""Checks a deployed scoring service end to end, as a user would, and prints a short report
(scripts/verify.sh gathers the inputs: the stack's outputs and, unless skipped, the pods and nodes).

Checks, each one line, "ok" or "FAIL":
- the certificate at the scoring URI is valid for its hostname (the system trust store, plus
  VERIFY_CA_FILE when set, for a private CA);
- /score with the primary and with the secondary key labels real held-out MNIST digits (the same split
  as app/mnist_digits.py, read through app/client.py) with at least VERIFY_MIN_ACCURACY accuracy;
- no key and a wrong key are refused with 401;
- (kubectl) every replica is Ready, on a GPU node of the pool, running the stack's image and the
  registered model version (MODEL_URI and MODEL_SHA256 of the pod equal the stack's modelBlobUrl and
  modelSha256, and the URI names modelVersion);
- a short burst of load (VERIFY_BURST_REQUESTS requests, VERIFY_BURST_CONCURRENCY at a time) passes
  without errors; p50 and p99 latency are printed.
Standard library only: it runs on a CI runner's python3. Exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import socket
import ssl
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))
from client import digits_dir, heldout_digits  # noqa: E402  (app/ is not a package)

GPU_NODE_LABEL = ("workload", "gpu-inference")  # components/appContract.ts GPU_NODE_LABEL
SAMPLE_ROWS = 20


class Report:
    def __init__(self) -> None:
        self.failed = False

    def line(self, ok: bool | None, text: str) -> None:
        mark = "ok  " if ok else ("skip" if ok is None else "FAIL")
        if ok is False:
            self.failed = True
        print(f"{mark} {text}", flush=True)


def tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca_file = os.environ.get("VERIFY_CA_FILE")
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def check_certificate(report: Report, uri: str, context: ssl.SSLContext) -> bool:
    parsed = urllib.parse.urlsplit(uri)
    host, port = parsed.hostname or "", parsed.port or 443
    try:
        with (
            socket.create_connection((host, port), timeout=15) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            cert = tls.getpeercert() or {}
    except (ssl.SSLError, ssl.CertificateError, OSError) as error:
        report.line(False, f"certificate for {host}: {error}")
        return False
    expires = str(cert.get("notAfter", "?"))
    # getpeercert's issuer: a tuple of RDNs, each a tuple of (name, value) pairs.
    issuer = {str(pair[0]): str(pair[1]) for rdn in cert.get("issuer", ()) for pair in rdn}
    days = (ssl.cert_time_to_seconds(expires) - time.time()) / 86400 if expires != "?" else 0
    report.line(
        days > 0,
        f"certificate valid for {host}, issued by {issuer.get('organizationName', issuer.get('commonName', '?'))}, "
        f"expires {expires} ({days:.0f} days)",
    )
    return days > 0


def post(
    uri: str, key: str | None, body: bytes, context: ssl.SSLContext, timeout: float = 30
) -> tuple[int, Any, float]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(uri, data=body, headers=headers, method="POST")
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    elapsed = time.perf_counter() - start
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return status, parsed, elapsed


def check_scoring(report: Report, outputs: dict[str, Any], context: ssl.SSLContext) -> None:
    uri = str(outputs["scoringUri"])
    samples = heldout_digits(digits_dir())
    step = max(1, len(samples) // SAMPLE_ROWS)
    chosen = samples[::step][:SAMPLE_ROWS]
    body = json.dumps({"data": [row for row, _ in chosen]}).encode()
    expected = [label for _, label in chosen]
    minimum = float(os.environ.get("VERIFY_MIN_ACCURACY", "0.9"))
    for which in ("primaryKey", "secondaryKey"):
        try:
            status, answer, _ = post(uri, str(outputs[which]), body, context)
        except OSError as error:
            report.line(False, f"/score with the {which}: {error}")
            continue
        if status != 200 or not isinstance(answer, list) or len(answer) != len(expected):
            report.line(False, f"/score with the {which}: HTTP {status}, {str(answer)[:200]}")
            continue
        right = sum(1 for got, want in zip(answer, expected, strict=True) if got == want)
        report.line(
            right / len(expected) >= minimum,
            f"/score with the {which}: {right}/{len(expected)} real digits labelled correctly (needs {minimum:.0%})",
        )
    # One row: a refused request should not have to send a large body the server will not read.
    small = json.dumps({"data": [chosen[0][0]]}).encode()
    for what, key in (("no key", None), ("a wrong key", "wrong-" + str(outputs["primaryKey"])[::-1])):
        try:
            status, answer, _ = post(uri, key, small, context)
        except OSError as error:
            report.line(False, f"/score with {what}: {error}")
            continue
        report.line(status == 401, f"/score with {what}: HTTP {status} (401 expected)")


def check_replicas(report: Report, outputs: dict[str, Any], pods: dict[str, Any], nodes: dict[str, Any]) -> None:
    gpu_nodes = {
        node["metadata"]["name"]
        for node in nodes.get("items", [])
        if node["metadata"].get("labels", {}).get(GPU_NODE_LABEL[0]) == GPU_NODE_LABEL[1]
        and int(node.get("status", {}).get("allocatable", {}).get("nvidia.com/gpu", "0")) > 0
    }
    items = [pod for pod in pods.get("items", []) if pod.get("metadata", {}).get("deletionTimestamp") is None]
    wanted = int(outputs["replicas"])
    problems: list[str] = []
    model_problems: list[str] = []
    version = str(outputs["modelVersion"])
    for pod in items:
        name = pod["metadata"]["name"]
        conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        if conditions.get("Ready") != "True":
            problems.append(f"{name} not Ready")
        node = pod.get("spec", {}).get("nodeName")
        if node not in gpu_nodes:
            problems.append(f"{name} on {node}, not a GPU node")
        container = pod["spec"]["containers"][0]
        if container.get("image") != outputs["imageRef"]:
            problems.append(f"{name} runs {container.get('image')}, not {outputs['imageRef']}")
        env = {item["name"]: item.get("value") for item in container.get("env", [])}
        if env.get("MODEL_URI") != outputs["modelBlobUrl"] or env.get("MODEL_SHA256") != outputs["modelSha256"]:
            model_problems.append(f"{name} serves {env.get('MODEL_URI')} ({env.get('MODEL_SHA256')})")
        elif f"/{version}/" not in str(env.get("MODEL_URI")):
            model_problems.append(f"{name} serves {env.get('MODEL_URI')}, not version {version}")
    if len(items) != wanted:
        problems.append(f"{len(items)} pods, {wanted} replicas wanted")
    report.line(
        not problems,
        f"{len(items)}/{wanted} replicas Ready on GPU nodes ({', '.join(sorted(gpu_nodes)) or 'none found'})"
        + (f": {'; '.join(problems)}" if problems else ""),
    )
    report.line(
        not model_problems and bool(items),
        f"served model {outputs['modelName']} version {version} (sha256 {str(outputs['modelSha256'])[:12]}...) "
        f"is the registered one on every replica" + (f": {'; '.join(model_problems)}" if model_problems else ""),
    )


def check_burst(report: Report, outputs: dict[str, Any], context: ssl.SSLContext) -> None:
    total = int(os.environ.get("VERIFY_BURST_REQUESTS", "200"))
    concurrency = int(os.environ.get("VERIFY_BURST_CONCURRENCY", "16"))
    row, _ = heldout_digits(digits_dir())[0]
    body = json.dumps({"data": [row]}).encode()
    uri, key = str(outputs["scoringUri"]), str(outputs["primaryKey"])

    def one(_: int) -> tuple[int, float]:
        try:
            status, _answer, elapsed = post(uri, key, body, context)
        except OSError:
            return 0, 0.0
        return status, elapsed

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(total)))
    wall = time.perf_counter() - start
    errors = [status for status, _ in results if status != 200]
    latencies = sorted(elapsed for status, elapsed in results if status == 200)
    if len(latencies) >= 2:
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        p50, p99 = cuts[49] * 1000, cuts[98] * 1000
    else:
        p50 = p99 = float("nan")
    report.line(
        not errors,
        f"burst of {total} requests, {concurrency} at a time: {total - len(errors)} answered 200 in {wall:.1f} s "
        f"({total / wall:.0f} req/s), p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        + (f"; errors: {sorted(set(errors))}" if errors else ""),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outputs", required=True, help="pulumi stack output --json --show-secrets, as a file")
    parser.add_argument("--pods", help="kubectl get pods -o json of the scoring pods; omit to skip the replica checks")
    parser.add_argument("--nodes", help="kubectl get nodes -o json")
    args = parser.parse_args()
    outputs = json.loads(Path(args.outputs).read_text())
    report = Report()
    context = tls_context()
    print(f"Verifying {outputs['scoringUri']}", flush=True)
    if check_certificate(report, str(outputs["scoringUri"]), context):
        check_scoring(report, outputs, context)
    if args.pods and args.nodes:
        check_replicas(
            report, outputs, json.loads(Path(args.pods).read_text()), json.loads(Path(args.nodes).read_text())
        )
    else:
        report.line(None, "replicas on GPU nodes and the served model version (kubectl checks skipped)")
    if not report.failed:
        check_burst(report, outputs, context)
    print("verify: FAILED" if report.failed else "verify: passed", flush=True)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
