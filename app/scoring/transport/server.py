"""Assembles the aiohttp application: the two protocol modules' routes, the typed state they read,
and two middlewares, the observer's (scoring/transport/observer.py: request id, in-flight count, metrics, one JSON
log line, typed errors as JSON) and Azure ML's (scoring/protocols/azureml_http.py). No route logic lives here;
/metrics is served on its own port. The scoring routes' common case is served below this app by the
fast lane (scoring/transport/fast_lane.py), through the same protocol functions.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from scoring.core.exchange import LaneRoutes
from scoring.core.keys import MODEL_NAME, PIPELINE, SWAGGER
from scoring.core.pipeline import Pipeline
from scoring.model.script_contract import analyze_run
from scoring.observability.metrics import Metrics
from scoring.protocols import azureml, azureml_http, v2
from scoring.protocols.swagger import openapi_document
from scoring.transport.observer import Observer


def build_app(pipeline: Pipeline, observer: Observer, model_name: str) -> web.Application:
    settings = pipeline.settings
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[observer.middleware, azureml_http.middleware],
    )
    app[PIPELINE] = pipeline
    app[MODEL_NAME] = model_name
    app[SWAGGER] = orjson.dumps(openapi_document(settings, pipeline.signature))
    azureml_http.setup_app(app, analyze_run(pipeline.entry.run))
    azureml_http.register_routes(app, azureml.routes)
    app.add_routes(v2.routes)
    return app


def lane_routes(app: web.Application) -> tuple[LaneRoutes, ...]:
    """The protocols' routes the fast lane serves, one entry per protocol, over the same pipeline and
    protocol state as build_app's routes."""
    pipeline = app[PIPELINE]
    return (azureml.AzureMLLane(pipeline, app[azureml_http.AZUREML]), v2.V2Lane(pipeline, app[MODEL_NAME]))


def build_metrics_app(metrics: Metrics, pipeline: Pipeline, observer: Observer) -> web.Application:
    """The metrics port's application: GET /metrics only (scraped from inside the cluster)."""

    async def metrics_text(request: web.Request) -> web.Response:
        observer.sample_gauges(pipeline)
        return web.Response(body=metrics.render(), headers={"Content-Type": metrics.content_type})

    app = web.Application()
    app.router.add_get("/metrics", metrics_text)
    return app
