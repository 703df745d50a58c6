"""The Azure ML inference server's routes: GET / (liveness), GET /ready, POST /score, GET /swagger.json.

Only translation: a /score request becomes a pipeline call (JSON body -> validated rows) and the
labels become the seed's JSON list. A run()-only entry script gets the body text, as on Azure ML.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial

import numpy as np
from aiohttp import web

from scoring.decode import DecodeError, check_structure, decode_scoring_bodies
from scoring.encoding import labels_json, result_json
from scoring.errors import BadRequest, ScoringFailed, UnsupportedMedia
from scoring.keys import PIPELINE, SWAGGER
from scoring.pipeline import Pipeline

routes = web.RouteTableDef()


@routes.get("/")
async def liveness(request: web.Request) -> web.Response:
    return web.Response(text="Healthy")


@routes.get("/ready")
async def readiness(request: web.Request) -> web.Response:
    request.app[PIPELINE].check_ready()
    return web.Response(text="Ready")


@routes.get("/swagger.json")
async def swagger(request: web.Request) -> web.Response:
    return web.Response(body=request.app[SWAGGER], content_type="application/json")


@cache
def _decoder(row_length: int, device: str) -> Callable[[bytes], np.ndarray]:
    """The seed's body -> validated float32 rows (the GPU byte parser for large bodies on CUDA)."""

    def decode(raw: bytes) -> np.ndarray:
        (result,) = decode_scoring_bodies([raw], row_length, device)
        if isinstance(result, DecodeError):
            raise result
        return result

    return decode


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


@routes.post("/score")
async def score(request: web.Request) -> web.Response:
    pipeline: Pipeline = request.app[PIPELINE]
    pipeline.gate(request)
    declared = request.headers.get("Content-Type")
    if declared is not None and not _is_json(request.content_type):
        raise UnsupportedMedia(
            f"Content-Type {declared!r} is not supported; send Content-Type: application/json", close=True
        )
    async with pipeline.admitted(request) as reservation:
        body = await pipeline.read(request, reservation)
        if not pipeline.batched:
            return await _score_unbatched(pipeline, body)
        row_length = pipeline.signature.row_length
        decode = _decoder(row_length, pipeline.settings.device)
        rows = await pipeline.decode(reservation, decode, body, partial(check_structure, row_length=row_length))
        del body  # the decoded rows are all that is held from here on
        request["rows"] = rows.shape[0]
        labels = await pipeline.score(reservation, rows)
    return web.Response(body=labels_json(labels), content_type="application/json")


async def _score_unbatched(pipeline: Pipeline, body: bytes) -> web.Response:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body is not valid UTF-8 text: {exc.reason} at byte {exc.start}") from None
    result = await pipeline.run_script(text)
    try:
        payload = result_json(result)
    except (TypeError, ValueError) as exc:
        raise ScoringFailed(f"the entry script's result is not JSON: {exc}") from None
    return web.Response(body=payload, content_type="application/json")
