"""The Azure ML inference server's routes: GET / (liveness), GET /ready, GET/POST/OPTIONS /score,
GET /swagger.json (Azure ML's document), GET /openapi.json (this server's).

Only translation: a /score request becomes a pipeline call (what run() would get on Azure ML ->
validated rows) and the labels become the seed's JSON list. A script without run_batch is served by
scoring.protocols.azureml_http exactly as Azure ML serves it (scoring.protocols.azureml_contract has the rules).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from functools import cache, partial

import numpy as np
from aiohttp import web
from multidict import CIMultiDictProxy

from scoring.core.admission import Reservation
from scoring.core.decode import DecodeError, check_structure, decode_scoring_bodies, decode_scoring_body
from scoring.core.encoding import labels_json
from scoring.core.errors import BadRequest, ServiceError
from scoring.core.exchange import Answer, Matched, NoteRows
from scoring.core.keys import PIPELINE, SWAGGER
from scoring.core.pipeline import Pipeline, ReadBody
from scoring.protocols import azureml_contract as contract
from scoring.protocols import azureml_http

log = logging.getLogger("scoring")

routes = web.RouteTableDef()


@routes.get("/")
async def liveness(request: web.Request) -> web.Response:
    return azureml_http.health()


@routes.route("OPTIONS", "/")
@routes.route("OPTIONS", "/swagger.json")
async def default_options(request: web.Request) -> web.Response:
    """Flask's automatic OPTIONS answer on Azure ML's GET routes (a browser's CORS preflight)."""
    return azureml_http.default_options()


@routes.get("/ready")
async def readiness(request: web.Request) -> web.Response:
    request.app[PIPELINE].check_pod_ready()
    return web.Response(text="Ready")


@routes.get("/swagger.json")
async def swagger(request: web.Request) -> web.Response:
    return azureml_http.swagger(request, request.app[SWAGGER])


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """This server's own OpenAPI 3.0.3 document of every route (/swagger.json is Azure ML's)."""
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


@cache
def _many_decoder(row_length: int, device: str) -> Callable[[list[bytes]], list[np.ndarray | DecodeError]]:
    """Several large bodies at once: one GPU byte-parser call for all of them on CUDA. The pipeline ran
    check_structure on each of them already (it is their precheck)."""
    return partial(decode_scoring_bodies, row_length=row_length, device=device, structure_checked=True)


@routes.post("/score")
@routes.get("/score")
@routes.route("OPTIONS", "/score")
async def score(request: web.Request) -> web.Response:
    pipeline: Pipeline = request.app[PIPELINE]
    if not pipeline.batched:
        # Served exactly as Azure ML serves the script (scoring.protocols.azureml_http).
        return await azureml_http.score_unbatched(request, pipeline)
    if request.method not in ("GET", "POST"):  # answered without run(), and so without the key
        return azureml_http.to_response(azureml_http.unsupported_method(request.method))

    async def read_payload(reservation: Reservation) -> bytes:
        return azureml_http.batched_payload(request, await pipeline.read(request, reservation))

    def note_rows(rows: int) -> None:
        request["rows"] = rows

    labels, headers = await score_batched(pipeline, request.headers, read_payload, note_rows)
    return web.Response(body=labels, content_type="application/json", headers=headers)


async def score_batched(
    pipeline: Pipeline, headers: Mapping[str, str], read_payload: ReadBody, note_rows: Callable[[int], None]
) -> tuple[bytes, dict[str, str]]:
    """A /score request through the batcher: the labels' JSON and Azure ML's headers; raises ServiceError.
    read_payload gives what run() would get on Azure ML (any Content-Type; GET: the query as JSON).
    Shared by the aiohttp route above and the fast lane (scoring/transport/fast_lane.py)."""
    pipeline.gate(headers)
    with pipeline.admitted() as reservation:
        payload = await read_payload(reservation)
        row_length = pipeline.signature.row_length
        decode = _decoder(row_length, pipeline.settings.device)
        try:
            rows = await pipeline.decode(
                reservation,
                decode,
                payload,
                partial(check_structure, row_length=row_length),
                _many_decoder(row_length, pipeline.settings.device),
                process_decode=partial(decode_scoring_body, row_length=row_length),
            )
        except BadRequest:
            azureml_http.check_utf8(payload)  # Azure ML's own 400 for a body that is not UTF-8
            raise
        del payload  # the decoded rows are all that is held from here on
        note_rows(rows.shape[0])
        started = time.perf_counter()
        labels = await pipeline.score(reservation, rows)
    return labels_json(labels), azureml_http.scored_headers(started)


# ---- on a transport's own path (the fast lane) ----

_SCORE = b"/score"


class AzureMLLane:
    """POST /score for the fast lane: Azure ML's request ids, answer and error shapes, and headers, as
    the aiohttp route above and azureml_http's middleware give them. Only while /score is batched and
    CORS is off (an unbatched script and CORS are served by azureml_http on aiohttp)."""

    def __init__(self, pipeline: Pipeline, azureml: azureml_http.AzureML) -> None:
        self.pipeline = pipeline
        self.azureml = azureml

    def match(self, raw_path: bytes, headers: CIMultiDictProxy[str]) -> Matched | None:
        if raw_path != _SCORE or not self.pipeline.batched or self.azureml.cors is not None:
            return None
        ids, refusal = contract.request_ids(azureml_http.JoinedHeaders(headers))
        if refusal is not None:  # Azure ML's 431 for an over-long id: aiohttp's path answers it
            return None
        return Matched("/score", ids.request_id, partial(self._answer, headers, ids))

    async def _answer(
        self, headers: Mapping[str, str], ids: contract.RequestIds, read_body: ReadBody, note_rows: NoteRows
    ) -> Answer:
        async def read_payload(reservation: Reservation) -> bytes:
            # What run() would get on Azure ML from a POST (empty for the form types).
            return contract.request_data(await read_body(reservation), headers.get("Content-Type"))

        try:
            labels, extra = await score_batched(self.pipeline, headers, read_payload, note_rows)
            answer = Answer(200, labels, [*extra.items(), ("Content-Type", "application/json")])
        except ServiceError as error:
            refused = azureml_http.error_answer(error)
            answer = Answer(refused.status, refused.body, list(refused.headers), error.close, error.reason)
        except Exception:
            log.exception("unhandled error on POST /score")
            failed = contract.error_answer(500, contract.INTERNAL_ERROR)
            answer = Answer(500, failed.body, list(failed.headers))
        answer.headers.extend(ids.headers())
        if self.azureml.server_version:
            answer.headers.append((contract.SERVER_VERSION_HEADER, self.azureml.server_version))
        return answer
