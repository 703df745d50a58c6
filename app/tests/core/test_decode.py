"""Decoding the seed's JSON: bit-for-bit what json.loads + np.asarray(float32) gives, on every path,
and a DecodeError that names the problem for every bad body.

DEVICE=cuda runs the byte parser on the GPU over all 10,000 real digits; on CPU it checks the same
code on a slice (the parser is built for the GPU and is slow on a CPU).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import cached_digits

from scoring.core import decode
from scoring.core.decode import DecodeError, decode_scoring_bodies, decode_scoring_body, parse_bytes_on

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from payloads import json_body

DEVICE = os.environ.get("DEVICE", "cpu")
ON_GPU = DEVICE.startswith("cuda")
ZEROS = ",".join(["0"] * 784)


def reference(body: bytes) -> np.ndarray:
    return np.asarray(json.loads(body)["data"], dtype=np.float32)


def assert_bits_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == np.float32
    assert actual.shape == expected.shape
    assert actual.flags.c_contiguous
    differ = np.nonzero(actual.view(np.uint32) != expected.view(np.uint32))
    assert differ[0].size == 0, f"first differences at {differ[0][:5]}: {actual[differ][:5]} vs {expected[differ][:5]}"


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return cached_digits("all")[0]


def loader_names() -> list[str]:
    return decode.json_loaders()


@pytest.fixture(params=loader_names())
def cpu_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test once per JSON parser installed, as the exact path's fast parser."""
    loads = dict(decode._LOADERS)[request.param]
    monkeypatch.setattr(decode, "_FAST_LOADS", loads)
    return str(request.param)


def row_text(values: list[str]) -> str:
    return "[" + ",".join(values) + "]"


def body_with(row_values: list[list[str]]) -> bytes:
    return ('{"data": [' + ",".join(row_text(r) for r in row_values) + "]}").encode()


def zeros_row() -> list[str]:
    return ["0"] * 784


def with_value(index: int, text: str) -> list[str]:
    row = zeros_row()
    row[index] = text
    return row


# (body, the message the user gets). Each names the problem: which row, which index, what was expected.
ERROR_CASES: list[tuple[bytes, str]] = [
    (b"", 'body is empty: expected JSON like {"data": [[...], ...]}'),
    (b"   ", 'body is empty: expected JSON like {"data": [[...], ...]}'),
    (b'{"data": [[1, 2', "body is not valid JSON: Expecting ',' delimiter at byte 15"),
    (b'{"data": [[' + ZEROS.encode() + b"]]", "body is not valid JSON: Expecting ',' delimiter at byte 1580"),
    (b"[[0.5]]", 'body must be a JSON object like {"data": [[...], ...]}, got a list'),
    (b'"data"', 'body must be a JSON object like {"data": [[...], ...]}, got "data"'),
    (b'{"rows": [[1]]}', 'missing "data"'),
    (b'{"data": []}', '"data" is empty'),
    (b'{"data": 5}', '"data" is 5, expected a list of rows of 784 numbers'),
    (b'{"data": [5]}', "row 0 is 5, expected a list of 784 numbers"),
    (b'{"data": [[]]}', "row 0 has 0 numbers, expected 784"),
    (body_with([zeros_row()] * 3 + [["0"] * 783]), "row 3 has 783 numbers, expected 784"),
    (body_with([zeros_row(), ["0"] * 785]), "row 1 has 785 numbers, expected 784"),
    (body_with([zeros_row(), zeros_row(), with_value(17, '"abc"')]), 'data[2][17] is "abc", expected a number'),
    (body_with([with_value(3, '"1.5"')]), 'data[0][3] is "1.5", expected a number'),
    (body_with([with_value(0, "true")]), "data[0][0] is true, expected a number"),
    (body_with([with_value(9, "null")]), "data[0][9] is null, expected a number"),
    (body_with([zeros_row(), with_value(4, "[0]")]), "data[1][4] is a list, expected a number"),
    (body_with([with_value(4, '{"a": 1}')]), "data[0][4] is an object, expected a number"),
    (body_with([with_value(5, "NaN")]), "data[0][5] is NaN/Infinity, expected a finite number"),
    (body_with([zeros_row(), with_value(6, "-Infinity")]), "data[1][6] is NaN/Infinity, expected a finite number"),
    (body_with([with_value(7, "1e400")]), "data[0][7] is NaN/Infinity, expected a finite number"),
    (body_with([with_value(8, "1e39")]), "data[0][8] is 1e+39, beyond the float32 range (about 3.4e38)"),
    (body_with([with_value(8, "-4" + "0" * 40)]), "data[0][8] is -4e+40, beyond the float32 range (about 3.4e38)"),
    (body_with([with_value(1, "01")]), "body is not valid JSON: Expecting ',' delimiter at byte 14"),
    (body_with([with_value(1, "1.")]), "body is not valid JSON: Expecting ',' delimiter at byte 14"),
    (body_with([with_value(1, ".5")]), "body is not valid JSON: Expecting value at byte 13"),
    (body_with([with_value(1, "-")]), "body is not valid JSON: Expecting value at byte 13"),
    (body_with([with_value(1, "+1")]), "body is not valid JSON: Expecting value at byte 13"),
    (body_with([with_value(1, "1.2.3")]), "body is not valid JSON: Expecting ',' delimiter at byte 16"),
    (body_with([with_value(1, "0x1")]), "body is not valid JSON: Expecting ',' delimiter at byte 14"),
    (body_with([with_value(1, "1 2")]), "body is not valid JSON: Expecting ',' delimiter at byte 15"),
    (b'{"data": [[0,,0]]}', "body is not valid JSON: Expecting value at byte 13"),
    (b'{"data": [[0],]}', "body is not valid JSON: Expecting value at byte 14"),
    (b'{"data":\x0c[[0]]}', "body is not valid JSON: Expecting value at byte 8"),
    (b'{"data": [[0]]} x', "body is not valid JSON: Extra data at byte 16"),
    (b'{"data": [[\xff]]}', "body is not valid UTF-8 text: invalid start byte at byte 11"),
]


@pytest.mark.parametrize(("body", "message"), ERROR_CASES, ids=[m[:40] for _, m in ERROR_CASES])
def test_bad_bodies_get_a_message_naming_the_problem(cpu_loader: str, body: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as raised:
        decode_scoring_body(body)
    assert str(raised.value) == message
    assert isinstance(raised.value, ValueError)  # the seed's run() contract: bad input raises ValueError


def test_batch_gives_each_bad_body_its_own_error_and_decodes_the_rest(digits: np.ndarray) -> None:
    good = [json_body(digits[i : i + 64]) for i in range(0, 64 * 6, 64)]
    bodies = [good[0], *[body for body, _ in ERROR_CASES], *good[1:]]
    results = decode_scoring_bodies(bodies, device=DEVICE)
    assert len(results) == len(bodies)
    first = results[0]
    assert isinstance(first, np.ndarray)
    assert_bits_equal(first, reference(good[0]))
    for result, (_, message) in zip(results[1:], ERROR_CASES):
        assert isinstance(result, DecodeError)
        assert str(result) == message
    for result, body in zip(results[1 + len(ERROR_CASES) :], good[1:]):
        assert isinstance(result, np.ndarray)
        assert_bits_equal(result, reference(body))


def test_byte_parser_defers_every_bad_body_to_the_exact_path() -> None:
    parsed = parse_bytes_on(DEVICE, [body for body, _ in ERROR_CASES])
    assert parsed == [None] * len(ERROR_CASES)


BODIES_OF_ALL_DIGITS = 10


@pytest.fixture(scope="module")
def all_digit_bodies(digits: np.ndarray) -> Callable[[str], list[tuple[bytes, np.ndarray]]]:
    """Every one of the 10,000 digits as 10 bodies of 1,000 rows (body k holds rows k, k+10, ...,
    so each body spans all ten digits), with json.loads' answer for each: built once per style
    and shared by the tests of every parser."""
    built: dict[str, list[tuple[bytes, np.ndarray]]] = {}

    def bodies(style: str) -> list[tuple[bytes, np.ndarray]]:
        if style not in built:
            texts = [json_body(digits[k::BODIES_OF_ALL_DIGITS], style) for k in range(BODIES_OF_ALL_DIGITS)]
            built[style] = [(body, reference(body)) for body in texts]
        return built[style]

    return bodies


@pytest.mark.parametrize("style", ["short", "float32repr"])
def test_exact_cpu_path_matches_json_loads_on_all_digits(
    cpu_loader: str, all_digit_bodies: Callable[[str], list[tuple[bytes, np.ndarray]]], style: str
) -> None:
    # All 10,000 digits through the parser production uses; 3,000 of them (bodies 0, 4 and 8,
    # each spanning all ten digits) through the fallbacks.
    bodies = all_digit_bodies(style)
    if cpu_loader != decode.json_loaders()[0]:
        bodies = bodies[::4]
    for body, expected in bodies:
        assert_bits_equal(decode_scoring_body(body), expected)


@pytest.mark.parametrize("style", ["short", "float32repr"])
def test_byte_parser_matches_json_loads_on_real_digits(digits: np.ndarray, style: str) -> None:
    rows = digits if ON_GPU else digits[::50]  # every digit on the GPU; 200 spread over all ten on CPU
    per_body = 500 if ON_GPU else 20
    bodies = [json_body(rows[i : i + per_body], style) for i in range(0, rows.shape[0], per_body)]
    parsed = parse_bytes_on(DEVICE, bodies)
    assert all(result is not None for result in parsed), "plain bodies of real digits must not need the CPU path"
    for body, result in zip(bodies, parsed):
        assert result is not None
        assert_bits_equal(result, reference(body))


def ordinary_numbers(rng: np.random.Generator) -> list[str]:
    """Decimals as clients write them, with the digit counts, signs and zeros that stress the parser."""
    texts = [repr(float(v)) for v in rng.random(4000)]
    texts += [repr(float(v)) for v in (rng.random(2000) - 0.5) * 2e6]
    texts += [repr(float(np.float32(v))) for v in rng.random(2000)]  # float64 expansions of float32
    texts += [f"{v:.17f}" for v in rng.random(1000)]
    texts += [str(int(v)) for v in rng.integers(-(10**18), 10**18, 1000)]
    texts += ["0", "-0", "0.0", "-0.0", "1", "-1", "1.0", "0.5", "100", "255", "0.00390625"] * 20
    return [t for t in texts if "e" not in t]


def rounding_edge_numbers(rng: np.random.Generator) -> list[str]:
    """float32 rounding midpoints (exact ties in float64), their float64 neighbours, and decimals
    longer than float64 or int64 hold: where a naive float64 -> float32 conversion goes wrong."""
    below = rng.random(3000).astype(np.float32)
    above = np.nextafter(below, np.float32(2))
    midpoints = (below.astype(np.float64) + above.astype(np.float64)) / 2
    texts = []
    for m in midpoints:
        texts += [repr(float(m)), repr(float(np.nextafter(m, 0.0))), repr(float(np.nextafter(m, 2.0)))]
    texts += [f"{v:.25f}" for v in rng.random(500)]
    texts += ["12345678901234567890123", "-98765432109876543210", "0.000000000000000000000001"] * 10
    return [t for t in texts if "e" not in t]


def bodies_of(texts: list[str], rng: np.random.Generator) -> list[bytes]:
    rng.shuffle(texts)
    rows = [texts[i : i + 784] for i in range(0, len(texts) - 783, 784)]
    return [body_with(rows[i : i + 2]) for i in range(0, len(rows), 2)]


def test_byte_parser_matches_json_loads_on_ordinary_numbers() -> None:
    rng = np.random.default_rng(20261125)
    bodies = bodies_of(ordinary_numbers(rng), rng)
    parsed = parse_bytes_on(DEVICE, bodies)
    for body, result in zip(bodies, parsed):
        assert result is not None, "ordinary decimals must not need the CPU path"
        assert_bits_equal(result, reference(body))


def test_rounding_edge_cases_are_exact_on_the_batch_path() -> None:
    rng = np.random.default_rng(7)
    bodies = bodies_of(rounding_edge_numbers(rng), rng)
    # The byte parser may defer these bodies (and does when a tie can't be settled), but whatever
    # it accepts is exact, and the batch path answers every one exactly.
    for body, result in zip(bodies, parse_bytes_on(DEVICE, bodies)):
        if result is not None:
            assert_bits_equal(result, reference(body))
    for body, decoded in zip(bodies, decode_scoring_bodies(bodies, device=DEVICE)):
        assert isinstance(decoded, np.ndarray)
        assert_bits_equal(decoded, reference(body))


def test_byte_parser_settles_float32_ties_exactly_when_the_mantissa_is_exact() -> None:
    # Each lies exactly halfway between two float32s and has under 16 digits, so its float64 is
    # exact: the parser must not defer it and must round half to even, as numpy does.
    texts = [repr(0.5 + 2.0**-25), "16777217", "16777219", "-16777217", "0.75", "-0.5"]
    body = body_with([texts + ["0"] * (784 - len(texts))])
    (result,) = parse_bytes_on(DEVICE, [body])
    assert result is not None
    assert_bits_equal(result, reference(body))


UNUSUAL_BUT_VALID = [
    body_with([with_value(3, "1e-3"), with_value(4, "2.5E+1")]),
    b'{"id": "abc", "data": [' + row_text(zeros_row()).encode() + b"]}",
    b'{"data": [' + row_text(zeros_row()).encode() + b'], "meta": {"x": [1, 2]}}',
    b'\n\t{ "data" :\r\n [ [ ' + b" , ".join([b"0.25"] * 784) + b" ] ,\n" + row_text(zeros_row()).encode() + b" ] }\n",
    body_with([with_value(0, "-0"), with_value(1, "-0.0")]),
    body_with([with_value(2, "123456789012345678901234567890")]),
    ('{"note": "\u00e9t\u00e9", "data": [[0.5' + ",0" * 783 + "]]}").encode(),
]


@pytest.mark.parametrize("body", UNUSUAL_BUT_VALID, ids=range(len(UNUSUAL_BUT_VALID)))
def test_unusual_valid_bodies_decode_exactly_on_every_path(cpu_loader: str, body: bytes) -> None:
    expected = reference(body)
    assert_bits_equal(decode_scoring_body(body), expected)
    (batched,) = decode_scoring_bodies([body] * 1, device=DEVICE)
    assert isinstance(batched, np.ndarray)
    assert_bits_equal(batched, expected)
    many = decode_scoring_bodies([body] * 40, device=DEVICE)  # over the size where the GPU path is used
    for result in many:
        assert isinstance(result, np.ndarray)
        assert_bits_equal(result, expected)


def test_row_length_is_a_parameter() -> None:
    body = b'{"data": [[1, 2, 3], [4.5, -6, 0.25]]}'
    assert_bits_equal(decode_scoring_body(body, row_length=3), reference(body))
    with pytest.raises(DecodeError, match="row 0 has 3 numbers, expected 784"):
        decode_scoring_body(body)
    (parsed,) = parse_bytes_on(DEVICE, [body], row_length=3)
    assert parsed is not None
    assert_bits_equal(parsed, reference(body))


def test_decode_scoring_bodies_is_safe_from_several_threads(digits: np.ndarray) -> None:
    bodies = [json_body(digits[i : i + 32]) for i in range(0, 32 * 8, 32)]
    expected = [reference(body) for body in bodies]
    failures: list[str] = []

    def work() -> None:
        for _ in range(3):
            for result, want in zip(decode_scoring_bodies(bodies, device=DEVICE), expected):
                if not isinstance(result, np.ndarray) or not np.array_equal(
                    result.view(np.uint32), want.view(np.uint32)
                ):
                    failures.append("wrong result")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_available_decoders_names_the_paths_in_use() -> None:
    paths = decode.available_decoders(DEVICE)
    assert paths[-1] == f"cpu:{decode.json_loaders()[0]}"
    if ON_GPU and torch.cuda.is_available():
        assert paths[0] == f"{DEVICE}:byteparse"
    else:
        assert len(paths) == 1


def test_deeply_nested_bodies_are_refused_not_crashed(cpu_loader: str) -> None:
    body = b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    # Refused by the structural check (far more '[' than rows fit) before any parser sees it.
    with pytest.raises(DecodeError, match="rows of 784 numbers"):
        decode_scoring_body(body)
    (result,) = decode_scoring_bodies([body], device=DEVICE)
    assert isinstance(result, DecodeError)
