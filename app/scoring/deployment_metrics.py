"""`scoring_model_deployment_info{deployment, model, model_version} 1`: joins any of this pod's metrics
(by pod/instance) to the model deployment and version it serves, so a traffic split's two sides can be
compared on one dashboard without a label on every request series."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from scoring.deployment import ModelDeployment


def publish_deployment(registry: CollectorRegistry | None, deployment: ModelDeployment | None) -> None:
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
