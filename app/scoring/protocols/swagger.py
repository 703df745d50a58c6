"""The OpenAPI 3 document served at /swagger.json, describing the routes this server really has."""

from __future__ import annotations

from typing import Any

from scoring.core.settings import Settings
from scoring.model.signature import Signature

# JSON Schema fragments are heterogeneous nested dicts; Any is the honest type for them.
Schema = dict[str, Any]


def _error(description: str) -> Schema:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _text(description: str, example: str) -> Schema:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string", "example": example}}}}


def openapi_document(settings: Settings, signature: Signature) -> Schema:
    row_length = signature.row_length
    name = settings.model_name
    secured: list[dict[str, list[str]]] = [{"bearer": []}] if settings.auth_enabled else []
    auth_errors = {"401": _error("Missing or invalid key (WWW-Authenticate: Bearer)")} if settings.auth_enabled else {}
    scoring_errors = {
        "400": _error("Malformed input: the message names the row, index or field"),
        **auth_errors,
        "408": _error("The body did not arrive within BODY_READ_TIMEOUT_S"),
        "413": _error(f"Body larger than {settings.max_body_bytes} bytes (MAX_BODY_BYTES)"),
        "503": _error("Not ready, shutting down, or at capacity; see Retry-After"),
        "504": _error("Scoring did not finish within SCORING_TIMEOUT_S"),
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"{name} scoring service",
            "version": "1.0.0",
            "description": "Azure ML compatible scoring routes and the KServe v2 (Open Inference Protocol) REST routes.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "ScoringRequest": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {
                        "data": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "array",
                                "minItems": row_length,
                                "maxItems": row_length,
                                "items": {"type": "number"},
                            },
                            "description": f"Rows of {row_length} finite pixel values in [0, 1]",
                        }
                    },
                },
                "ScoringResponse": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "description": "One label per row, in order",
                },
                "InferRequest": {
                    "type": "object",
                    "required": ["inputs"],
                    "properties": {
                        "id": {"type": "string"},
                        "parameters": {"type": "object", "properties": {"binary_data_output": {"type": "boolean"}}},
                        "inputs": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 1,
                            "items": {
                                "type": "object",
                                "required": ["name", "shape", "datatype"],
                                "properties": {
                                    "name": {"type": "string", "enum": [signature.input_name]},
                                    "shape": {
                                        "type": "array",
                                        "items": {"type": "integer"},
                                        "example": [1, row_length],
                                    },
                                    "datatype": {"type": "string", "enum": list(signature.input_datatypes)},
                                    "parameters": {
                                        "type": "object",
                                        "properties": {"binary_data_size": {"type": "integer"}},
                                    },
                                    "data": {"type": "array", "items": {}},
                                },
                            },
                        },
                        "outputs": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string", "enum": [signature.output_name]},
                                    "parameters": {
                                        "type": "object",
                                        "properties": {"binary_data": {"type": "boolean"}},
                                    },
                                },
                            },
                        },
                    },
                },
                "InferResponse": {
                    "type": "object",
                    "properties": {
                        "model_name": {"type": "string"},
                        "model_version": {"type": "string"},
                        "id": {"type": "string"},
                        "outputs": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
        "paths": {
            "/": {
                "get": {"summary": "Liveness (Azure ML compatible)", "responses": {"200": _text("Alive", "Healthy")}}
            },
            "/ready": {
                "get": {
                    "summary": "Readiness: 200 once the model is loaded and warmed up",
                    "responses": {"200": _text("Ready", "Ready"), "503": _error("Loading or shutting down")},
                }
            },
            "/score": {
                "post": {
                    "summary": "Predict one label per row (the seed's request and response format)",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScoringRequest"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "Labels",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/ScoringResponse"}}
                            },
                        },
                        **scoring_errors,
                        "415": _error("Content-Type is not JSON"),
                    },
                }
            },
            "/swagger.json": {
                "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3 document"}}}
            },
            "/v2": {
                "get": {
                    "summary": "KServe v2 server metadata",
                    "responses": {"200": {"description": "Server metadata"}},
                }
            },
            "/v2/health/live": {
                "get": {"summary": "KServe v2 liveness", "responses": {"200": {"description": "Live"}}}
            },
            "/v2/health/ready": {
                "get": {
                    "summary": "KServe v2 readiness",
                    "responses": {"200": {"description": "Ready"}, "503": _error("Loading or shutting down")},
                }
            },
            f"/v2/models/{name}": {
                "get": {
                    "summary": "KServe v2 model metadata",
                    "security": secured,
                    "responses": {"200": {"description": "Inputs and outputs"}, **auth_errors},
                }
            },
            f"/v2/models/{name}/ready": {
                "get": {
                    "summary": "KServe v2 model readiness",
                    "security": secured,
                    "responses": {"200": {"description": "Ready"}, "503": _error("Not ready"), **auth_errors},
                }
            },
            f"/v2/models/{name}/infer": {
                "post": {
                    "summary": "KServe v2 inference (JSON tensors or the binary tensor data extension)",
                    "security": secured,
                    "parameters": [
                        {
                            "name": "Inference-Header-Content-Length",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "integer"},
                            "description": "Length of the JSON header when binary tensor data follows it",
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/InferRequest"}},
                            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Labels as an INT64 tensor (JSON, or binary after the JSON header)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferResponse"}}},
                        },
                        **scoring_errors,
                        "404": _error("Unknown model name"),
                    },
                }
            },
        },
    }
