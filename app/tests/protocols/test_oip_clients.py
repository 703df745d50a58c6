"""The Open Inference Protocol routes driven by the protocol's real clients, as a KServe or Triton
user would call them: Triton's `tritonclient.http` and KServe's `InferenceRESTClient` (both pinned
in app/requirements-test.in). Labels are checked against the seed route's answers for the same rows.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from conftest import PRIMARY_KEY, Server
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from tritonclient.utils import InferenceServerException

MODEL = "mnist"


def auth() -> dict[str, str]:
    """A fresh header dict per call: tritonclient adds its Content-Encoding to the dict it is given."""
    return {"Authorization": f"Bearer {PRIMARY_KEY}"}


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[triton.InferenceServerClient]:
    # The key travels as a header on every call, as a Triton user behind an authenticating proxy does.
    with triton.InferenceServerClient(f"127.0.0.1:{server.port}", connection_timeout=30, network_timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def seed_labels(server: Server, heldout: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """What POST /score answers for the first 16 held-out digits: every protocol must agree with it."""
    reply = server.score(heldout[0][:16])
    assert reply.status == 200
    return np.asarray(reply.json(), dtype=np.int64)


def triton_input(rows: np.ndarray, datatype: str, binary: bool) -> triton.InferInput:
    tensor = triton.InferInput("input", list(rows.shape), datatype)
    tensor.set_data_from_numpy(rows.astype(np.float32 if datatype == "FP32" else np.uint8), binary_data=binary)
    return tensor


def test_triton_client_health_and_metadata(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL, headers=auth())
    assert client.is_model_ready(MODEL, model_version="1", headers=auth())
    server = client.get_server_metadata()
    assert "binary_tensor_data" in server["extensions"]
    metadata = client.get_model_metadata(MODEL, headers=auth())
    assert metadata["name"] == MODEL
    assert metadata["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 784]}]
    assert metadata["outputs"] == [{"name": "label", "datatype": "INT64", "shape": [-1]}]
    # The version the metadata advertises is served under /versions/<v> too.
    assert metadata["versions"] == ["1"]
    assert client.get_model_metadata(MODEL, model_version="1", headers=auth()) == metadata


def test_triton_client_unknown_version_and_model_are_404(client: triton.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException) as raised:
        client.get_model_metadata(MODEL, model_version="2", headers=auth())
    assert raised.value.status() == "404"
    assert 'unknown version "2"' in raised.value.message()
    with pytest.raises(InferenceServerException) as raised:
        client.get_model_metadata("resnet", headers=auth())
    assert raised.value.status() == "404"


@pytest.mark.parametrize(
    ("datatype", "binary_input", "binary_output"),
    [("FP32", False, False), ("FP32", True, False), ("FP32", True, True), ("UINT8", True, True)],
    ids=["fp32-json", "fp32-binary-in", "fp32-binary-in-out", "uint8-binary-in-out"],
)
def test_triton_client_infer(
    client: triton.InferenceServerClient,
    heldout: tuple[np.ndarray, np.ndarray],
    seed_labels: np.ndarray,
    datatype: str,
    binary_input: bool,
    binary_output: bool,
) -> None:
    rows = heldout[0][:16]
    if datatype == "UINT8":
        # The seed's digits are pixel/255; UINT8 carries the pixel itself and the server divides.
        rows = np.rint(rows * 255.0)
    result = client.infer(
        MODEL,
        [triton_input(rows, datatype, binary_input)],
        model_version="1",
        request_id=f"req-{datatype}-{binary_input}-{binary_output}",
        outputs=[triton.InferRequestedOutput("label", binary_data=binary_output)],
        headers=auth(),
    )
    labels = result.as_numpy("label")
    assert labels is not None and labels.dtype == np.int64
    if datatype == "FP32":
        np.testing.assert_array_equal(labels, seed_labels)
    else:
        # Rounding pixels to 1/255 may move a label that sits on a decision boundary, rarely.
        assert (labels == seed_labels).mean() >= 0.9
    response = result.get_response()
    assert response["id"] == f"req-{datatype}-{binary_input}-{binary_output}"
    assert response["model_name"] == MODEL and response["model_version"] == "1"


def test_triton_client_gzip_request(
    client: triton.InferenceServerClient, heldout: tuple[np.ndarray, np.ndarray], seed_labels: np.ndarray
) -> None:
    result = client.infer(
        MODEL,
        [triton_input(heldout[0][:16], "FP32", True)],
        headers=auth(),
        request_compression_algorithm="gzip",
    )
    np.testing.assert_array_equal(result.as_numpy("label"), seed_labels)


def test_triton_client_errors(client: triton.InferenceServerClient, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows = heldout[0][:2]
    wrong_type = triton.InferInput("input", [2, 784], "INT32")
    wrong_type.set_data_from_numpy(rows.astype(np.int32), binary_data=True)
    with pytest.raises(InferenceServerException) as raised:
        client.infer(MODEL, [wrong_type], headers=auth())
    assert raised.value.status() == "400"
    assert "INT32" in raised.value.message()
    wrong_name = triton.InferInput("pixels", [2, 784], "FP32")
    wrong_name.set_data_from_numpy(rows.astype(np.float32), binary_data=False)
    with pytest.raises(InferenceServerException) as raised:
        client.infer(MODEL, [wrong_name], headers=auth())
    assert raised.value.status() == "400"
    with pytest.raises(InferenceServerException) as raised:
        client.infer(MODEL, [triton_input(rows, "FP32", True)], headers={"Authorization": "Bearer wrong"})
    assert raised.value.status() == "401"


def test_invalid_gzip_body_is_400_not_500(server: Server) -> None:
    for path in ("/v2/models/mnist/infer", "/score"):
        reply = server.request("POST", path, b"this is not gzip", headers={"Content-Encoding": "gzip"})
        assert reply.status == 400, (path, reply.body)
        key = "error" if path.startswith("/v2") else "message"  # each protocol's error shape
        assert reply.json()[key] == "request body is not valid gzip data (Content-Encoding: gzip)"
    # A valid gzip body is still accepted on the seed route.
    reply = server.request(
        "POST",
        "/score",
        gzip.compress(b'{"data": [[' + b",".join([b"0"] * 784) + b"]]}"),
        headers={"Content-Encoding": "gzip"},
    )
    assert reply.status == 200 and len(reply.json()) == 1


def kserve_request(rows: np.ndarray, binary: bool, request_id: str) -> InferRequest:
    tensor = InferInput("input", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows.astype(np.float32), binary_data=binary)
    return InferRequest(model_name=MODEL, infer_inputs=[tensor], request_id=request_id)


def test_kserve_client(server: Server, heldout: tuple[np.ndarray, np.ndarray], seed_labels: np.ndarray) -> None:
    base = f"http://127.0.0.1:{server.port}"

    async def exchange() -> None:
        async with InferenceRESTClient(RESTConfig(protocol="v2", timeout=30)) as kserve_client:
            assert await kserve_client.is_server_live(base)
            assert await kserve_client.is_server_ready(base)
            assert await kserve_client.is_model_ready(base, MODEL, headers=auth())
            for binary in (False, True):
                response = await kserve_client.infer(
                    base, kserve_request(heldout[0][:16], binary, f"kserve-{binary}"), MODEL, headers=auth()
                )
                assert response.id == f"kserve-{binary}"
                (output,) = response.outputs
                assert output.name == "label" and output.datatype == "INT64" and output.shape == [16]
                np.testing.assert_array_equal(output.as_numpy(), seed_labels)
            bad = InferInput("input", [1, 783], "FP32")
            bad.set_data_from_numpy(np.zeros((1, 783), dtype=np.float32), binary_data=False)
            with pytest.raises(httpx.HTTPStatusError) as raised:
                await kserve_client.infer(
                    base, InferRequest(model_name=MODEL, infer_inputs=[bad], request_id="bad"), MODEL, headers=auth()
                )
            assert raised.value.response.status_code == 400
            assert "784" in raised.value.response.json()["error"]

    asyncio.run(exchange())
