"""The fast lane's head parsing against httptools (llhttp, the parser aiohttp itself uses), on the
same one-row /score head: the lane's own parser (`parse_head`, the protocols' routes included) and
httptools' with the callbacks the lane would need (URL, each header into a CIMultiDict, the method,
keep-alive), plus the same checks the lane makes after parsing. Prints microseconds per head.

`httptools syntax + lane split` is the variant that keeps every hand-over rule of `parse_head`: llhttp
decides the syntax (no callbacks: each would be a Python call per field), then the head is split and
checked as the lane must to build its headers. It is the one to compare with `lane parse_head`: the
lane kept its own parser because llhttp's pass comes on top of that Python work (December 2026:
about 0.6 us more per head here, 3-6 % more loop CPU per one-row request in bench/loop_cost.py).

    cd app && python ../bench/head_parse.py

    cd app && python ../bench/head_parse.py
"""

from __future__ import annotations

import re
import sys
import timeit
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from scoring.core.exchange import ProtocolUnit
from scoring.core.pipeline import Pipeline
from scoring.protocols.azureml import AzureMLProtocol
from scoring.protocols.azureml_http import AzureML
from scoring.protocols.v2 import V2Protocol

# The lane's own hand-over sets, so the llhttp variant applies exactly its rules.
from scoring.transport.fast_lane import _NOT_THE_LANES, parse_head
from scoring.transport.fast_lane import _SINGLETONS as _ALL_SINGLETONS

HEAD = (
    b"POST /score HTTP/1.1\r\nHost: 10.0.0.4:5001\r\nUser-Agent: python-requests/2.32.3\r\n"
    b"Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n"
    b"Authorization: Bearer 0123456789abcdef0123456789abcdef\r\nContent-Type: application/json\r\n"
    b"Content-Length: 5123"
)


class _Collect:
    __slots__ = ("headers", "url")

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[str, str]] = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("utf-8", "surrogateescape")))


def httptools_head(head: bytes, routes: tuple[ProtocolUnit, ...]) -> object:
    collect = _Collect()
    parser = httptools.HttpRequestParser(collect)
    parser.feed_data(head + b"\r\n\r\n")
    if parser.get_method() != b"POST" or parser.get_http_version() != "1.1":
        return None
    headers = CIMultiDictProxy(CIMultiDict(collect.headers))
    for route in routes:
        matched = route.lane_match(collect.url, headers)
        if matched is not None:
            return (matched, parser.should_keep_alive())
    return None


class _Reused:
    """One parser per connection, as the lane would keep it: heads of consecutive requests fed in turn
    (here with their bodies, which llhttp only counts)."""

    def __init__(self) -> None:
        self.collect = _Collect()
        self.parser = httptools.HttpRequestParser(self.collect)

    def head(self, data: bytes, routes: tuple[ProtocolUnit, ...]) -> object:
        collect = self.collect
        collect.url, collect.headers = b"", []
        self.parser.feed_data(data)
        headers = CIMultiDictProxy(CIMultiDict(collect.headers))
        for route in routes:
            matched = route.lane_match(collect.url, headers)
            if matched is not None:
                return matched
        return None


_SINGLETONS = frozenset(("content-length", "content-type", "host", "user-agent", "transfer-encoding", "etag", "server"))


def httptools_checked(head: bytes, routes: tuple[ProtocolUnit, ...]) -> object:
    """httptools with what the lane must still check itself to hand over exactly what aiohttp refuses
    or treats differently: printable values without tabs, no singleton twice, one Host, none of
    Transfer-Encoding/Content-Encoding/Expect/Upgrade, a plain path."""
    collect = _Collect()
    parser = httptools.HttpRequestParser(collect)
    try:
        parser.feed_data(head + b"\r\n\r\n")
    except httptools.HttpParserError:
        return None
    if parser.get_method() != b"POST" or parser.get_http_version() != "1.1" or b"?" in collect.url:
        return None
    seen: set[str] = set()
    for name, value in collect.headers:
        if not value.isprintable():
            return None
        lower = name.lower()
        if lower in _SINGLETONS:
            if lower in seen:
                return None
            seen.add(lower)
    if "host" not in seen:
        return None
    headers = CIMultiDictProxy(CIMultiDict(collect.headers))
    if "transfer-encoding" in headers or "content-encoding" in headers or "expect" in headers or "upgrade" in headers:
        return None
    for route in routes:
        matched = route.lane_match(collect.url, headers)
        if matched is not None:
            return matched
    return None


class _Syntax:
    __slots__ = ()


_SYNTAX = _Syntax()
_PATH = re.compile(rb"/[!$&'()*+,\-./0-9:;=@A-Z_a-z~]*")


def httptools_lane(head: bytes, routes: tuple[ProtocolUnit, ...]) -> object:
    """llhttp for the syntax, then exactly the lane's rules (parse_head's) on the split head."""
    whole = head + b"\r\n\r\n"
    try:
        httptools.HttpRequestParser(_SYNTAX).feed_data(whole)
    except (httptools.HttpParserError, httptools.HttpParserUpgrade):
        return None
    request_line, _, rest = head.partition(b"\r\n")
    raw_path = request_line[5:-9]
    if request_line[:5] != b"POST " or request_line[-9:] != b" HTTP/1.1" or _PATH.fullmatch(raw_path) is None:
        return None
    plain = rest.isascii() and b"\t" not in rest
    lines = rest.decode("utf-8", "surrogateescape").split("\r\n")
    if len(lines) > 128:
        return None
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    length = ""
    connection: list[str] = []
    for line in lines:
        name, _, value = line.partition(":")
        value = value.strip(" \t")
        if not plain and not value.isprintable():
            return None
        lower = name.lower()
        if lower in _ALL_SINGLETONS:
            if lower in seen:
                return None
            seen.add(lower)
            if lower == "content-length":
                length = value
        elif lower in _NOT_THE_LANES:
            return None
        elif lower == "connection":
            connection.append(value)
        pairs.append((name, value))
    if "host" not in seen or "transfer-encoding" in seen or not (length.isascii() and length.isdigit()):
        return None
    if connection:
        tokens = {t.strip(" \t").lower() for t in ",".join(connection).split(",") if t.strip(" \t")}
        if not tokens <= {"close", "keep-alive"}:
            return None
    headers = CIMultiDictProxy(CIMultiDict(pairs))
    for route in routes:
        matched = route.lane_match(raw_path, headers)
        if matched is not None:
            return matched
    return None


def main() -> None:
    pipeline = cast(Pipeline, SimpleNamespace(batched=True))
    routes: tuple[ProtocolUnit, ...] = (
        AzureMLProtocol(pipeline, cast(AzureML, SimpleNamespace(cors=None, server_version=None)), lambda: b"{}"),
        V2Protocol(pipeline, "mnist"),
    )
    assert parse_head(HEAD, routes) is not None and httptools_head(HEAD, routes) is not None
    reused = _Reused()
    whole = HEAD + b"\r\n\r\n" + b"x" * 5123
    assert reused.head(whole, routes) is not None and httptools_checked(HEAD, routes) is not None
    assert httptools_lane(HEAD, routes) is not None
    cases = (
        ("lane parse_head", lambda: parse_head(HEAD, routes)),
        ("httptools, new parser", lambda: httptools_head(HEAD, routes)),
        ("httptools, reused", lambda: reused.head(whole, routes)),
        ("httptools + lane checks", lambda: httptools_checked(HEAD, routes)),
        ("httptools syntax + lane split", lambda: httptools_lane(HEAD, routes)),
        ("route match alone", lambda: routes[0].lane_match(b"/score", CIMultiDictProxy(CIMultiDict()))),
    )
    for name, call in cases:
        best = min(timeit.repeat(call, number=20000, repeat=7)) / 20000
        print(f"{name:30} {best * 1e6:6.2f} us per head")
    print(f"httptools {httptools.__version__}")


if __name__ == "__main__":
    main()
