"""Typed application state (aiohttp AppKey): what the protocol modules read from the app."""

from __future__ import annotations

from aiohttp import web

from scoring.core.pipeline import Pipeline

PIPELINE = web.AppKey("pipeline", Pipeline)
# The OpenAPI document, serialised once at start-up.
SWAGGER = web.AppKey("swagger", bytes)
MODEL_NAME = web.AppKey("model_name", str)
