"""This server's own OpenAPI document (scoring/protocols/swagger.py): composed from what each registered
protocol contributes, every reference resolved, every documented path a route of the protocol that
documents it, and each protocol's errors in its own shape. (The served /swagger.json is Azure ML's
document, compared with Azure ML's server in test_azureml_differential.py.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from scoring.core.exchange import ProtocolUnit
from scoring.core.pipeline import Pipeline
from scoring.core.settings import load_settings
from scoring.model.entry import load_entry_script
from scoring.observability.metrics import Metrics
from scoring.protocols.azureml import AzureMLProtocol
from scoring.protocols.swagger import openapi_document
from scoring.protocols.v2 import V2Protocol
from scoring.transport.server import protocols

APP = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def registered() -> tuple[ProtocolUnit, ...]:
    settings = load_settings(
        {"SCORING_PRIMARY_KEY": "k", "ENTRY_SCRIPT": str(APP / "score.py"), "MODEL_DIR": str(APP / "model")},
        detect_device=lambda: "cpu",
    )
    return protocols(Pipeline(settings, load_entry_script(settings.entry_script), Metrics()), "mnist")


def _refs(node: Any) -> Iterator[str]:  # Any: a JSON document
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _template(path: str) -> re.Pattern[str]:
    """A route template ({name}: one segment) as a pattern for a documented path."""
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)))


def test_each_protocol_documents_its_own_routes(registered: tuple[ProtocolUnit, ...]) -> None:
    for protocol in registered:
        paths, schemas = protocol.openapi()
        routes = {(route.method.lower(), route.path) for route in protocol.routes()}
        for path, operations in paths.items():
            for method in operations:
                assert any(m == method and _template(p).fullmatch(path) for m, p in routes), (method, path)
        # Every reference a protocol makes is to a schema it contributes itself.
        for ref in _refs(paths):
            assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_the_served_document_is_the_composition(registered: tuple[ProtocolUnit, ...]) -> None:
    azureml, v2 = registered
    assert isinstance(azureml, AzureMLProtocol) and isinstance(v2, V2Protocol)
    document = orjson.loads(azureml.own_document())
    assert document["openapi"] == "3.0.3"
    for protocol in registered:
        paths, schemas = protocol.openapi()
        assert {path: document["paths"][path] for path in paths} == paths
        assert {name: document["components"]["schemas"][name] for name in schemas} == schemas
    defined = document["components"]["schemas"]
    assert all(ref.removeprefix("#/components/schemas/") in defined for ref in _refs(document))
    # Each protocol's errors in its own body shape.
    score_400 = document["paths"]["/score"]["post"]["responses"]["400"]["content"]["application/json"]["schema"]
    infer_400 = document["paths"]["/v2/models/mnist/infer"]["post"]["responses"]["400"]["content"]["application/json"]
    assert defined[score_400["$ref"].rsplit("/", 1)[1]]["required"] == ["message"]
    assert defined[infer_400["schema"]["$ref"].rsplit("/", 1)[1]]["required"] == ["error"]


def test_two_protocols_on_one_path_is_a_registration_error(registered: tuple[ProtocolUnit, ...]) -> None:
    azureml = registered[0]
    assert isinstance(azureml, AzureMLProtocol)
    with pytest.raises(ValueError, match="/score"):
        openapi_document(azureml.pipeline.settings, (azureml, azureml))
