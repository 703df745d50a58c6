"""Which model deployment answered: the version slot this process serves (the program runs one
Deployment per registered model version, behind one weighted route), named on every answer in the
`azureml-model-deployment` header, as Azure ML's managed online endpoints do, on every request log line,
and in the `scoring_model_deployment_info` metric, so a split's two sides can be told apart in logs,
dashboards and by the client.

Environment (set by the program, components/versionDeployments.ts): MODEL_DEPLOYMENT (the slot's name,
e.g. `current` or `candidate`), REGISTERED_MODEL_NAME and REGISTERED_MODEL_VERSION (the workspace's
registration this slot serves). Unset MODEL_DEPLOYMENT: no header, no field (local runs, tests).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

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
