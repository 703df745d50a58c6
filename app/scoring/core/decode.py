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

import itertools
import json
import re
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from scoring.model.model_shape import ROW_LENGTH as DEFAULT_ROW_LENGTH

if TYPE_CHECKING:
    # torch is imported where the byte parser runs, never at module level: importing it costs seconds
    # of start-up, and a server on CPU (or whose entry script never uses torch) must not pay for it.
    import torch


class DecodeError(ValueError):
    """A request body the service cannot score; str() is the message for the user."""


# Values a JSON parser may produce; Any because JSON documents are untyped by nature.
JsonLoads = Callable[[bytes], Any]


def _exact_loaders() -> list[tuple[str, JsonLoads]]:
    """The C JSON parser of the shipped stack (orjson, pinned in app/requirements.in), whose numbers
    are exactly Python's float() of the text.

    It is only a speed path: whenever it rejects a body, the stdlib parser decides, so the result
    and the message never depend on the parser. orjson also refuses nesting deeper than 1,024
    instead of recursing (CVE-2025-67221 fixed in 3.11.6).
    """
    return [("orjson", orjson.loads)]


_LOADERS = _exact_loaders()
_FAST_NAME, _FAST_LOADS = _LOADERS[0]


def json_loaders() -> list[str]:
    """Names of the JSON parsers available to the exact CPU path (fastest first)."""
    return [name for name, _ in _LOADERS]


def _loads(body: bytes, loads: JsonLoads) -> Any:  # Any: a JSON document
    try:
        return loads(body)
    except (ValueError, TypeError, OverflowError, RecursionError):
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
    except ValueError as error:
        # Python refuses integer literals over 4,300 digits (int_max_str_digits) with a plain ValueError;
        # no such number fits a float32, so it is the client's error like any other bad number.
        raise DecodeError(f"body holds a number that cannot be read: {error}") from None


def min_row_bytes(row_length: int) -> int:
    """The fewest bytes a valid row takes: row_length one-digit numbers, their commas, the brackets."""
    return 2 * row_length + 1


# Bodies below this size cannot build enough Python objects to matter; the structural check skips them.
_STRUCTURE_CHECK_BYTES = 64 << 10


def check_structure(body: bytes, row_length: int = DEFAULT_ROW_LENGTH) -> None:
    """Refuses, before any Python object is built, a body whose punctuation cannot be a valid batch.

    A valid body has one '[' per row plus one, rows of row_length numbers (so fewer commas than
    numbers), and each row takes at least min_row_bytes. `{"data": [[], [], ...]}` or one row of
    millions of numbers would otherwise make the JSON parser build gigabytes of lists first.
    Counting bytes runs at memory speed and holds no objects.
    """
    if len(body) < _STRUCTURE_CHECK_BYTES:
        return
    # numpy's vectorised compare-and-count: bytes.count of one byte walks the body a byte at a time,
    # and its four passes over 425 KB bodies took most of the event loop's time at 64 rows a request
    # (bench profile, H200, 2026-12).
    view = np.frombuffer(body, dtype=np.uint8)
    opens = int(np.count_nonzero(view == 0x5B))  # [
    most_rows = len(body) // min_row_bytes(row_length) + 1
    if opens - 1 > most_rows:
        raise DecodeError(
            f"body has {opens} '[' but {len(body)} bytes hold at most {most_rows} rows of {row_length} numbers; "
            f'expected {{"data": [[{row_length} numbers], ...]}}'
        )
    rows = max(opens - 1, 1)
    commas = int(np.count_nonzero(view == 0x2C))  # ,
    if commas >= rows * row_length + 8:
        raise DecodeError(
            f"body has {commas} commas, more than {rows} rows of {row_length} numbers hold; "
            f'expected {{"data": [[{row_length} numbers], ...]}}'
        )
    # Objects and strings have no place in a valid batch beyond the one {"data": ...}.
    if np.count_nonzero(view == 0x7B) > 8 or np.count_nonzero(view == 0x22) > 32:  # { and "
        raise DecodeError('body holds objects or strings beyond {"data": ...}; expected rows of numbers only')


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


def _find_bad_element(data: list[Any], row_length: int, first_row: int = 0) -> DecodeError:
    """The slow, precise scan behind the fast checks: the first element that is not a float32 number."""
    for i, row in enumerate(data[first_row:], start=first_row):
        for j, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return DecodeError(f"data[{i}][{j}] is {_describe(value)}, expected a number")
            as_float = float(value) if isinstance(value, float) else None
            if as_float is None:
                try:
                    as_float = float(value)
                except OverflowError:
                    return DecodeError(
                        f"data[{i}][{j}] is an integer too large for float32, expected a number in range"
                    )
            if as_float != as_float or as_float in (float("inf"), float("-inf")):
                return DecodeError(f"data[{i}][{j}] is NaN/Infinity, expected a finite number")
            with np.errstate(over="ignore"):
                in_range = np.isfinite(np.float32(as_float))
            if not in_range:
                # float(): orjson reads a huge integer literal as a float, json.loads as an int; say it one way.
                return DecodeError(f"data[{i}][{j}] is {as_float!r}, beyond the float32 range (about 3.4e38)")
    return DecodeError(f'"data" could not be read as rows of {row_length} numbers')


_NUMBER_AND_PUNCTUATION_BYTES = b"0123456789.-+eE,[] \t\n\r"
_LITERAL_ONLY_LETTERS = (b"r", b"u", b"l", b"s")  # in true/false/null, never in data/NaN/Infinity


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
    # Only bodies that might hold one pay for the element-by-element scan: with the bytes of
    # numbers and punctuation removed, a body of numbers leaves just {"data":} (plus NaN/Infinity
    # letters); a string adds quotes, and true/false/null add letters no number or "data" has.
    rest = body.translate(None, _NUMBER_AND_PUNCTUATION_BYTES)
    if rest.count(b'"') != 2 or any(letter in rest for letter in _LITERAL_ONLY_LETTERS):
        for i, row in enumerate(data):
            kinds = set(map(type, row))
            if not kinds <= {float, int}:
                raise _find_bad_element(data, row_length, first_row=i) from None
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            # The rows' lengths are known (checked above): fromiter over them all skips np.array's walk
            # to discover the shape, 20 -> 16 us for one row, 1.3 -> 0.97 ms for 64 (2026-12); same values,
            # same refusals (a nested list, an int too large for a float).
            count = len(data) * row_length
            flat = np.fromiter(itertools.chain.from_iterable(data), dtype=np.float32, count=count)
            rows: np.ndarray = flat.reshape(len(data), row_length)
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
    check_structure(body, row_length)
    doc = _loads(body, _FAST_LOADS)
    return _rows_from_document(doc, body, row_length)


def _decode_or_error(body: bytes, row_length: int) -> np.ndarray | DecodeError:
    try:
        return decode_scoring_body(body, row_length)
    except DecodeError as error:
        return error


# ---------------------------------------------------------------------------------------------
# The byte-level parser: all bodies of a batch at once, as tensor operations (GPU or CPU).
#
# It accepts only the plain shape {"data": [[n, n, ...], [n, ...]]} (whitespace anywhere JSON
# allows it) with numbers in JSON's grammar without exponents, checks the structure (brackets,
# commas, row lengths) and each number's grammar (sign, leading zeros, one dot with digits on both
# sides), and computes each value the way json.loads + float32 does: the decimal's correctly
# rounded float64, then float32. A body it does not accept outright -- invalid, unusual (other
# keys, exponents, over 18 digits) or one of the rare numbers where float64 -> float32 rounding
# could not be settled -- is decoded by the exact CPU path instead, which also words its error.
# ---------------------------------------------------------------------------------------------

# JSON's whitespace only (not \\s, which also matches \\f and \\v that json.loads refuses).
_HEAD = re.compile(rb'[ \t\n\r]*\{[ \t\n\r]*"data"[ \t\n\r]*:[ \t\n\r]*\[')
_JSON_SPACE = b" \t\n\r"
_MAX_DIGITS = 18  # 10**18 < 2**63: the mantissa stays exact in int64
_MAX_FRACTION = 22  # 10**22 is the largest power of ten that float64 holds exactly
_MAX_TOKEN = 26  # longer numbers (many leading zeros, say) are left to the exact path
_EXACT_MANTISSA = 2**53
# A float64 is settled as a float32 unless its 29 discarded bits lie this close (in float64 ulps)
# to the float32 rounding midpoint; the approximation below is within ~2.5 ulps of the true value.
_MIDPOINT_MARGIN = 8
_LOW29 = (1 << 29) - 1
_MIDPOINT = 1 << 28

# Symbol kinds, in the order the grammar check uses them.
_NUM, _COMMA, _OPEN, _CLOSE = 0, 1, 2, 3


def _array_text(body: bytes) -> memoryview | None:
    """The text between the outer brackets of "data" when the body has the plain shape, else None."""
    head = _HEAD.match(body)
    if head is None:
        return None
    # The closing "]}" found from the end: no scan over (or copy of) the whole body.
    end = _skip_space_backwards(body, len(body))
    if end < 2 or body[end - 1] != 0x7D:  # }
        return None
    end = _skip_space_backwards(body, end - 1)
    if end <= head.end() or body[end - 1] != 0x5D:  # ]
        return None
    return memoryview(body)[head.end() : end - 1]


def _skip_space_backwards(body: bytes, end: int) -> int:
    while end > 0 and body[end - 1] in _JSON_SPACE:
        end -= 1
    return end


class _ByteParser:
    """Parses many array texts in one pass on one device; one call at a time (a lock enforces it)."""

    def __init__(self, device: torch.device) -> None:
        import torch

        self.device = device
        self._lock = threading.Lock()
        self._host: torch.Tensor | None = None
        self._pow10_int = torch.tensor([10**k for k in range(_MAX_DIGITS + 1)], dtype=torch.int64, device=device)
        self._pow10_float = torch.tensor(
            [float(10**k) for k in range(_MAX_FRACTION + 1)], dtype=torch.float64, device=device
        )

    def _staging(self, size: int) -> torch.Tensor:
        """A reused host buffer (pinned for CUDA, so the upload is one DMA without a bounce copy)."""
        if self._host is None or self._host.numel() < size:
            import torch

            capacity = max(size, 1 << 20, 0 if self._host is None else 2 * self._host.numel())
            self._host = torch.empty(capacity, dtype=torch.uint8, pin_memory=self.device.type == "cuda")
        return self._host[:size]

    def parse(self, texts: Sequence[memoryview], row_length: int) -> list[np.ndarray | None]:
        """One float32 (rows, row_length) array per text, or None where the exact CPU path must decide."""
        import torch

        with self._lock, torch.inference_mode():
            return self._parse(texts, row_length)

    def _parse(self, texts: Sequence[memoryview], row_length: int) -> list[np.ndarray | None]:
        import torch

        count = len(texts)
        lengths = [len(text) + 1 for text in texts]  # +1: a space after each keeps tokens apart
        starts = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        total = int(starts[-1])
        # Spaces after the last body let every token's fixed-width window below stay in bounds.
        host = self._staging(total + _MAX_TOKEN + 1)
        host_np = host.numpy()
        for i, text in enumerate(texts):
            host_np[starts[i] : starts[i + 1] - 1] = np.frombuffer(text, dtype=np.uint8)
            host_np[starts[i + 1] - 1] = 32
        host_np[total:] = 32
        data = host.to(self.device, non_blocking=True)
        # Byte offset where each body starts, and one past the end of the last.
        bounds = torch.from_numpy(starts).to(self.device, non_blocking=True)
        dev = self.device

        def per_body(per_byte: torch.Tensor) -> torch.Tensor:
            """How many marked bytes each body holds (a prefix sum read at the body bounds)."""
            through = torch.zeros(total + 1, dtype=torch.int64, device=dev)
            torch.cumsum(per_byte[:total], 0, out=through[1:])
            return through[bounds[1:]] - through[bounds[:-1]]

        is_digit = (data >= 48) & (data <= 57)
        is_minus = data == 45
        is_dot = data == 46
        is_num = is_digit | is_minus | is_dot
        is_ws = (data == 32) | (data == 10) | (data == 13) | (data == 9)
        is_comma = data == 44
        is_open = data == 91
        is_close = data == 93

        def shifted(mask: torch.Tensor, by: int) -> torch.Tensor:
            """mask moved `by` bytes later (positive) or earlier (negative), False at the edges."""
            out = torch.zeros_like(mask)
            if by > 0:
                out[by:] = mask[:-by]
            else:
                out[:by] = mask[-by:]
            return out

        prev_num = shifted(is_num, 1)
        prev_digit, next_digit = shifted(is_digit, 1), shifted(is_digit, -1)
        token_start = is_num & ~prev_num

        # Every problem found is counted at a byte; a body with any is left to the exact path.
        # Per byte: bytes JSON numbers without exponents never hold (exponents, letters, quotes,
        # braces...), '-' other than first and before a digit, '.' not between digits, and a
        # leading zero before more digits.
        bad_at = (~(is_num | is_ws | is_comma | is_open | is_close)).to(torch.int32)
        bad_at += is_minus & ~(token_start & next_digit)
        bad_at += is_dot & ~(prev_digit & next_digit)
        bad_at += (data == 48) & (token_start | shifted(is_minus, 1)) & next_digit

        # Structure: the symbols (number tokens, commas, brackets) of each body must read
        # [ n (, n)* ] ( , [ n (, n)* ] )*
        symbol_pos = torch.nonzero(token_start | is_comma | is_open | is_close).flatten()
        symbol_byte = data[symbol_pos]
        kind = torch.full_like(symbol_pos, _NUM)
        kind.masked_fill_(symbol_byte == 44, _COMMA)
        kind.masked_fill_(symbol_byte == 91, _OPEN)
        kind.masked_fill_(symbol_byte == 93, _CLOSE)
        owner = torch.searchsorted(bounds, symbol_pos, right=True) - 1
        if symbol_pos.numel():
            first = torch.ones_like(kind, dtype=torch.bool)
            first[1:] = owner[1:] != owner[:-1]
            last = torch.ones_like(kind, dtype=torch.bool)
            last[:-1] = owner[1:] != owner[:-1]
            prev_kind = torch.full_like(kind, -1)
            prev_kind[1:] = kind[:-1]
            prev_kind.masked_fill_(first, -1)
            next_kind = torch.full_like(kind, -1)
            next_kind[:-1] = kind[1:]
            next_kind.masked_fill_(last, -1)
            is_number = kind == _NUM
            opens = kind == _OPEN
            closes = kind == _CLOSE
            bad_symbol = (first & ~opens) | (last & ~closes)
            bad_symbol |= opens & (next_kind != _NUM)
            bad_symbol |= is_number & (next_kind != _COMMA) & (next_kind != _CLOSE)
            bad_symbol |= closes & ~last & (next_kind != _COMMA)
            bad_symbol |= (kind == _COMMA) & ~(
                ((prev_kind == _NUM) & (next_kind == _NUM)) | ((prev_kind == _CLOSE) & (next_kind == _OPEN))
            )
            # Row lengths: at each ']', the numbers since the latest '['.
            # (A gather through the list of '[' positions: torch.cummax on CUDA scans a 1-D tensor
            # in one thread block and cost more than the rest of the parse.)
            numbers_through = torch.cumsum(is_number, 0)
            open_index = torch.nonzero(opens).flatten()
            latest_open = (torch.cumsum(opens, 0) - 1).clamp_(min=0)
            if open_index.numel():
                at_latest_open = numbers_through[open_index[latest_open]]
                bad_symbol |= closes & (numbers_through - at_latest_open != row_length)
            else:
                bad_symbol |= closes
            bad_at.index_add_(0, symbol_pos, bad_symbol.to(torch.int32))

        # Values. Each number token is read through a window of its first bytes (a small dense
        # matrix, one row per token), so per-token sums need neither atomics nor long scans.
        token_starts = symbol_pos[kind == _NUM]
        tokens = token_starts.numel()
        if tokens:
            next_symbol = torch.full_like(symbol_pos, total)
            next_symbol[:-1] = symbol_pos[1:]
            longest = int((next_symbol[kind == _NUM] - token_starts).max().clamp(max=_MAX_TOKEN))
        else:
            longest = 1
        # One column more than the longest token allowed: a token filling it is too long.
        window = token_starts.unsqueeze(1) + torch.arange(longest + 1, device=dev)
        chars = data[window]
        in_token = torch.cumsum(~is_num[window], 1) == 0  # the run of number bytes from the start
        digit = in_token & (chars >= 48) & (chars <= 57)
        dot = in_token & (chars == 46)
        digits_after = digit.sum(1, keepdim=True) - torch.cumsum(digit, 1)
        digit_value = (chars.long() - 48) * digit
        mantissa = (digit_value * self._pow10_int[digits_after.clamp(0, _MAX_DIGITS)]).sum(1)
        fraction = (digits_after * dot).sum(1)  # at the '.', the digits after it
        dots = dot.sum(1)

        value = mantissa.double() / self._pow10_float[fraction.clamp(0, _MAX_FRACTION)]
        negative = chars[:, 0] == 45
        # json.loads reads "-0" as the int 0 (+0.0) but "-0.0" as -0.0.
        negative &= (mantissa != 0) | (dots > 0)
        value = torch.where(negative, -value, value)
        low = value.view(torch.int64) & _LOW29
        unsettled = (mantissa >= _EXACT_MANTISSA) & ((low - _MIDPOINT).abs() <= _MIDPOINT_MARGIN)
        unsettled |= (fraction > _MAX_FRACTION) | (dots > 1) | in_token[:, -1]
        # Leading zeros cost nothing; a nonzero digit at 10**18 or above would overflow int64.
        unsettled |= ((digit_value != 0) & (digits_after >= _MAX_DIGITS)).any(1)
        bad_at.index_add_(0, token_starts, unsettled.to(torch.int32))
        values = value.float()

        # One trip back for the per-body facts, one for the values.
        facts = (
            torch.stack(
                [
                    per_body(bad_at),
                    per_body(token_start),
                    per_body(is_open),
                    per_body(token_start | is_comma | is_open | is_close),
                ]
            )
            .cpu()
            .numpy()
        )
        host_values = values.cpu().numpy()
        bad_host = (facts[0] > 0) | (facts[3] == 0)  # no symbols at all: "data": [] -> exact path's message
        tokens_host = facts[1]
        rows_host = facts[2]

        results: list[np.ndarray | None] = []
        offset = 0
        for i in range(count):
            n_tokens = int(tokens_host[i])
            if bad_host[i]:
                results.append(None)
            else:
                results.append(host_values[offset : offset + n_tokens].reshape(int(rows_host[i]), row_length))
            offset += n_tokens
        return results


# device -> its byte parser, or None where the exact CPU path is used (no CUDA): decided once per device.
_parsers: dict[str, _ByteParser | None] = {}
_parsers_lock = threading.Lock()


def _parser_for(device: str) -> _ByteParser | None:
    """The byte parser for a CUDA device, or None when the exact CPU path is the faster choice."""
    if device in _parsers:
        return _parsers[device]
    with _parsers_lock:
        if device not in _parsers:
            # Settings accept only cpu, cuda and cuda:<n>; a device that is not CUDA is decided without
            # importing torch, which a server on CPU would otherwise load for this check alone.
            if device.partition(":")[0] != "cuda":
                _parsers[device] = None
            else:
                import torch

                target = torch.device(device)
                _parsers[device] = _ByteParser(target) if torch.cuda.is_available() else None
        return _parsers[device]


# Below this many bytes in a batch the GPU's fixed launch cost exceeds the CPU parser's work. Measured
# by bench/micro.py on an H200 (2026-12-01, bench/RESULTS.md): one body of 210 KB takes 3.2 ms on the
# orjson path and 5.3 ms on the byte parser, one of 425 KB 6.4 ms against 4.7 ms; the parser's cost is
# nearly flat (~2.5-5 ms) and the CPU's ~15 µs per KB, so they cross at about 320 KB.
GPU_MIN_BATCH_BYTES = 320 * 1024


def decode_scoring_bodies(
    bodies: Sequence[bytes], row_length: int = DEFAULT_ROW_LENGTH, device: str = "cpu", structure_checked: bool = False
) -> list[np.ndarray | DecodeError]:
    """Many bodies -> one result per body, in order: the rows, or the DecodeError for that body.

    structure_checked: the caller already ran check_structure on every body (the pipeline does, on the
    event loop, before it reserves the decoding transient); its four passes over each body are not
    repeated (for a 64-row body, about a tenth of the byte parser's work).
    """
    blobs = [bytes(body) for body in bodies]
    refused: dict[int, DecodeError] = {}
    if not structure_checked:
        for i, blob in enumerate(blobs):
            try:
                check_structure(blob, row_length)
            except DecodeError as error:
                refused[i] = error
    if refused:
        # Refused bodies never reach either parser; the rest are decoded as usual.
        rest = [i for i in range(len(blobs)) if i not in refused]
        decoded = decode_scoring_bodies([blobs[i] for i in rest], row_length, device) if rest else []
        merged: list[np.ndarray | DecodeError] = [
            refused[i] if i in refused else DecodeError("") for i in range(len(blobs))
        ]
        for i, result in zip(rest, decoded):
            merged[i] = result
        return merged
    parser = _parser_for(device) if sum(len(blob) for blob in blobs) >= GPU_MIN_BATCH_BYTES else None
    if parser is None:
        return [_decode_or_error(blob, row_length) for blob in blobs]
    texts = [_array_text(blob) for blob in blobs]
    plain = [(i, text) for i, text in enumerate(texts) if text is not None]
    parsed = parser.parse([text for _, text in plain], row_length) if plain else []
    results: list[np.ndarray | DecodeError | None] = [None] * len(blobs)
    for (i, _), rows in zip(plain, parsed):
        results[i] = rows
    return [
        result if result is not None else _decode_or_error(blobs[i], row_length) for i, result in enumerate(results)
    ]


def parse_bytes_on(
    device: str, bodies: Sequence[bytes], row_length: int = DEFAULT_ROW_LENGTH
) -> list[np.ndarray | None]:
    """The byte parser alone on any device (tests and benchmarks): rows, or None where it defers."""
    import torch

    texts = [_array_text(bytes(body)) for body in bodies]
    parser = _ByteParser(torch.device(device))
    plain = [(i, text) for i, text in enumerate(texts) if text is not None]
    parsed = parser.parse([text for _, text in plain], row_length) if plain else []
    results: list[np.ndarray | None] = [None] * len(bodies)
    for (i, _), rows in zip(plain, parsed):
        results[i] = rows
    return results


def available_decoders(device: str = "cpu") -> list[str]:
    """The decoding paths this process uses on `device`, for logs and metrics."""
    paths = [f"cpu:{_FAST_NAME}"]
    if _parser_for(device) is not None:
        paths.insert(0, f"{device}:byteparse")
    return paths
