"""Which model deployment answered: the version slot this process serves (the program runs one
Deployment per registered model version, behind one weighted route), named on every answer in the
`azureml-model-deployment` header, as Azure ML's managed online endpoints do, on every request log line,
and in the `scoring_model_deployment_info` metric, so a split's two sides can be told apart in logs,
dashboards and by the client.

Environment (set by the program, components/versionDeployments.ts): MODEL_DEPLOYMENT (the slot's name,
e.g. `current` or `candidate`), REGISTERED_MODEL_NAME and REGISTERED_MODEL_VERSION (the workspace's
registration this slot serves). Unset MODEL_DEPLOYMENT: no header, no field (local runs, tests).

It lives with observability, beneath every layer, because the transports (headers, log line), core
(settings, capture partitions) and start-up (the metric) all read it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

DEPLOYMENT_HEADER = "azureml-model-deployment"
# Kubernetes label values and Azure ML deployment names both fit this; it travels in a header unchanged.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")


@dataclass(frozen=True)
class ModelDeployment:
    name: str
    model: str
    version: str

    def headers(self) -> list[tuple[str, str]]:
        return [(DEPLOYMENT_HEADER, self.name)]

    def log_fields(self) -> dict[str, str]:
        return {"deployment": self.name, "model_version": self.version}


def deployment_from_env(env: Mapping[str, str]) -> ModelDeployment | None:
    name = env.get("MODEL_DEPLOYMENT", "").strip()
    if not name:
        return None
    model = env.get("REGISTERED_MODEL_NAME", "").strip()
    version = env.get("REGISTERED_MODEL_VERSION", "").strip()
    for variable, value in (("MODEL_DEPLOYMENT", name), ("REGISTERED_MODEL_NAME", model or "x")):
        if not _NAME.match(value):
            raise ValueError(f"{variable}={value!r} must be 1-63 letters, digits, '-', '_' or '.'")
    if version and not _NAME.match(version):
        raise ValueError(f"REGISTERED_MODEL_VERSION={version!r} must be 1-63 letters, digits, '-', '_' or '.'")
    return ModelDeployment(name=name, model=model, version=version)


def publish_deployment(registry: CollectorRegistry | None, deployment: ModelDeployment | None) -> None:
    """`scoring_model_deployment_info{deployment, model, model_version} 1`: joins any of this pod's series
    (by namespace and pod) to the deployment and version it serves, so a split's two sides compare on one
    dashboard without a label on every request series."""
    if deployment is None:
        return
    info = Gauge(
        "scoring_model_deployment_info",
        "The model deployment (version slot) and registered model version this pod serves",
        ["deployment", "model", "model_version"],
        registry=registry,
        multiprocess_mode="max",
    )
    info.labels(deployment.name, deployment.model, deployment.version).set(1)
