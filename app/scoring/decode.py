"""Decoding the seed's request body, {"data": [[784 numbers], ...]}, into a float32 array.

The contract is exactness: every accepted body gives bit-for-bit what the seed's
`np.asarray(json.loads(body)["data"], dtype=np.float32)` gives, and every rejected body gets a
DecodeError naming the problem (which row, which index, what was expected).

Two paths:
- the exact CPU path (`decode_scoring_body`): the fastest exact JSON parser installed, then shape,
  type and finiteness checks that only walk Python objects when the raw bytes say they must;
- the batch path (`decode_scoring_bodies`): on CUDA, all queued bodies are parsed in one pass on
  the GPU by `scoring.byteparse`; any body it does not accept outright (bad or unusual input) goes
  through the exact CPU path, which produces the answer or the error message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

DEFAULT_ROW_LENGTH = 784


class DecodeError(ValueError):
    """A request body the service cannot score; str() is the message for the user."""


# Values a JSON parser may produce; Any because JSON documents are untyped by nature.
JsonLoads = Callable[[bytes], Any]


def _exact_loaders() -> list[tuple[str, JsonLoads]]:
    """C JSON parsers whose numbers are exactly Python's float() of the text, fastest first.

    Each is only a speed path: whenever one rejects a body, the stdlib parser decides, so the
    result and the message never depend on which libraries the image has.
    """
    loaders: list[tuple[str, JsonLoads]] = []
    try:
        import orjson

        loaders.append(("orjson", orjson.loads))
    except ImportError:
        pass
    try:
        # Not ujson: it accepts text that is not JSON (01, 1., a lone -) that json.loads refuses.
        import rapidjson

        loaders.append(("rapidjson", rapidjson.loads))
    except ImportError:
        pass
    loaders.append(("json", json.loads))
    return loaders


_LOADERS = _exact_loaders()
_FAST_NAME, _FAST_LOADS = _LOADERS[0]


def json_loaders() -> list[str]:
    """Names of the JSON parsers available to the exact CPU path (fastest first)."""
    return [name for name, _ in _LOADERS]


def _loads(body: bytes, loads: JsonLoads) -> Any:  # Any: a JSON document
    try:
        return loads(body)
    except (ValueError, TypeError, OverflowError):
        pass
    # The fast parser refused (or is json itself): the stdlib decides and words the message.
    try:
        return json.loads(body)
    except UnicodeDecodeError as error:
        raise DecodeError(f"body is not valid UTF-8 text: {error.reason} at byte {error.start}") from None
    except json.JSONDecodeError as error:
        raise DecodeError(f"body is not valid JSON: {error.msg} at byte {error.pos}") from None
    except RecursionError:
        raise DecodeError("body is not valid JSON: nested too deeply") from None


def _describe(value: Any) -> str:  # Any: an element of a JSON document
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = json.dumps(value)
        return text if len(text) <= 40 else text[:37] + '..."'
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return repr(value)


def _find_bad_element(data: list[Any], row_length: int) -> DecodeError:
    """The slow, precise scan behind the fast checks: the first element that is not a float32 number."""
    for i, row in enumerate(data):
        for j, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return DecodeError(f"data[{i}][{j}] is {_describe(value)}, expected a number")
            as_float = float(value) if isinstance(value, float) else None
            if as_float is None:
                try:
                    as_float = float(value)
                except OverflowError:
                    return DecodeError(f"data[{i}][{j}] is an integer too large for float32, expected a number in range")
            if as_float != as_float or as_float in (float("inf"), float("-inf")):
                return DecodeError(f"data[{i}][{j}] is NaN/Infinity, expected a finite number")
            if not np.isfinite(np.float32(as_float)):
                return DecodeError(f"data[{i}][{j}] is {value!r}, beyond the float32 range (about 3.4e38)")
    return DecodeError(f'"data" could not be read as rows of {row_length} numbers')


_LITERAL = re.compile(rb"true|false|null")


def _rows_from_document(doc: Any, body: bytes, row_length: int) -> np.ndarray:  # Any: a JSON document
    if not isinstance(doc, dict):
        raise DecodeError(f'body must be a JSON object like {{"data": [[...], ...]}}, got {_describe(doc)}')
    if "data" not in doc:
        raise DecodeError('missing "data"')
    data = doc["data"]
    if not isinstance(data, list):
        raise DecodeError(f'"data" is {_describe(data)}, expected a list of rows of {row_length} numbers')
    if not data:
        raise DecodeError('"data" is empty')
    for i, row in enumerate(data):
        if not isinstance(row, list):
            raise DecodeError(f"row {i} is {_describe(row)}, expected a list of {row_length} numbers")
        if len(row) != row_length:
            raise DecodeError(f"row {i} has {len(row)} numbers, expected {row_length}")
    # numpy turns strings like "1.5" into numbers, true into 1.0 and null into NaN: refuse those.
    # A body whose only quotes are the two around "data" and with no JSON literals cannot hold any,
    # so only other bodies pay for the element-by-element scan.
    if body.count(b'"') != 2 or _LITERAL.search(body) is not None:
        for i, row in enumerate(data):
            kinds = set(map(type, row))
            if not kinds <= {float, int}:
                raise _find_bad_element(data[i : i + 1], row_length) from None
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            rows = np.array(data, dtype=np.float32)
    except (TypeError, ValueError, OverflowError):
        raise _find_bad_element(data, row_length) from None
    if rows.shape != (len(data), row_length):
        raise _find_bad_element(data, row_length)
    if not np.isfinite(rows).all():
        raise _find_bad_element(data, row_length)
    return rows


def decode_scoring_body(body: bytes, row_length: int = DEFAULT_ROW_LENGTH) -> np.ndarray:
    """One request body -> C-contiguous float32 array (n, row_length); raises DecodeError."""
    if not body.strip():
        raise DecodeError('body is empty: expected JSON like {"data": [[...], ...]}')
    doc = _loads(body, _FAST_LOADS)
    return _rows_from_document(doc, body, row_length)


def _decode_or_error(body: bytes, row_length: int) -> np.ndarray | DecodeError:
    try:
        return decode_scoring_body(body, row_length)
    except DecodeError as error:
        return error


def decode_scoring_bodies(
    bodies: Sequence[bytes], row_length: int = DEFAULT_ROW_LENGTH, device: str = "cpu"
) -> list[np.ndarray | DecodeError]:
    """Many bodies -> one result per body, in order: the rows, or the DecodeError for that body."""
    return [_decode_or_error(bytes(body), row_length) for body in bodies]


def available_decoders() -> list[str]:
    """The decoding paths this process uses, for logs and metrics."""
    return [f"cpu:{_FAST_NAME}"]
