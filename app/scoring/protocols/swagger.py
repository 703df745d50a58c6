"""This server's own OpenAPI 3 document (GET /openapi.json, and /swagger.json where Azure ML's server
is not installed): composed from the paths and schemas each protocol contributes
(`ProtocolUnit.openapi`), with the pieces they share (the bearer scheme, error responses).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from scoring.core.exchange import ProtocolUnit
from scoring.core.settings import Settings

# JSON Schema fragments are heterogeneous nested dicts; Any is the honest type for them.
Schema = dict[str, Any]


def error(description: str, schema: str) -> Schema:
    """A response whose body is the protocol's error object (`schema`: its name under components)."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def text(description: str, example: str) -> Schema:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string", "example": example}}}}


def security(settings: Settings) -> list[dict[str, list[str]]]:
    return [{"bearer": []}] if settings.auth_enabled else []


def auth_errors(settings: Settings, schema: str) -> Schema:
    return {"401": error("Missing or invalid key (WWW-Authenticate: Bearer)", schema)} if settings.auth_enabled else {}


def scoring_errors(settings: Settings, schema: str) -> Schema:
    """What every scoring route may answer besides success, in the protocol's error shape."""
    return {
        "400": error("Malformed input: the message names the row, index or field", schema),
        **auth_errors(settings, schema),
        "408": error("The body did not arrive within BODY_READ_TIMEOUT_S", schema),
        "413": error(f"Body larger than {settings.max_body_bytes} bytes (MAX_BODY_BYTES)", schema),
        "503": error("Not ready, shutting down, or at capacity; see Retry-After", schema),
        "504": error("Scoring did not finish within SCORING_TIMEOUT_S", schema),
    }


def openapi_document(settings: Settings, protocols: Sequence[ProtocolUnit]) -> Schema:
    paths: Schema = {}
    schemas: Schema = {}
    for protocol in protocols:
        own_paths, own_schemas = protocol.openapi()
        clash = (paths.keys() & own_paths.keys()) | (schemas.keys() & own_schemas.keys())
        if clash:  # a protocol's paths are its own: two protocols on one path is a registration bug
            raise ValueError(f"OpenAPI paths or schemas contributed twice: {sorted(clash)}")
        paths.update(own_paths)
        schemas.update(own_schemas)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"{settings.model_name} scoring service",
            "version": "1.0.0",
            "description": "Azure ML compatible scoring routes and the KServe v2 (Open Inference Protocol) REST routes.",
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": schemas},
        "paths": paths,
    }


class OwnDocument:
    """The document, serialised once, after every protocol is registered (a protocol serves it)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._body: bytes | None = None

    def compose(self, protocols: Sequence[ProtocolUnit]) -> None:
        self._body = orjson.dumps(openapi_document(self._settings, protocols))

    def body(self) -> bytes:
        if self._body is None:
            raise RuntimeError("the OpenAPI document is composed when the protocols are registered")
        return self._body
