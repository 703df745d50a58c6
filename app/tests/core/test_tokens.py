"""Entra ID-style token auth, verified in the app (scoring/core/tokens.py says why not at the gateway), against
a test issuer whose signing keys are served locally as a JWKS document, the way Entra ID serves
https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys.

The real server is started with AUTH_MODE=both (tokens and keys on the same Authorization header) and
with AUTH_MODE=tokens; a valid token is accepted on both transports (the fast lane and aiohttp), and a
wrong audience, an expired token, a wrong signature, an unknown signing key and a wrong issuer are each
refused with 401 and a reason naming what is wrong. The same server also names its model deployment
(azureml-model-deployment header, request log fields, info metric).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import numpy as np
import pytest
from conftest import PRIMARY_KEY, MakeServer, Server, free_port, run_client, seed_body
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from scoring.core.tokens import TokenRefused, TokenSettings, TokenVerifier, entra_issuers, is_jwt

TENANT = "00000000-0000-4000-8000-000000000001"
ISSUER = entra_issuers(TENANT)[0]
AUDIENCE = "api://gpu-inference-aks-test"
ROWS = np.zeros((2, 784), dtype=np.float32)


class Issuer:
    """A signing key pair and the JWKS document that publishes its public half under kid `k1`."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.jwks = {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}

    def token(self, *, kid: str = "k1", signer: Any = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 3600, "oid": "caller"}
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(claims, signer or self.key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture(scope="module")
def jwks_uri(issuer: Issuer) -> Iterator[str]:
    body = json.dumps(issuer.jwks).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/discovery/v2.0/keys"
    httpd.shutdown()


def token_env(jwks_uri: str, mode: str) -> dict[str, str]:
    return {
        "AUTH_MODE": mode,
        "TOKEN_ISSUERS": ",".join(entra_issuers(TENANT)),
        "TOKEN_AUDIENCES": AUDIENCE,
        "TOKEN_JWKS_URI": jwks_uri,
        "MODEL_DEPLOYMENT": "candidate",
        "REGISTERED_MODEL_NAME": "mnist-mlp",
        "REGISTERED_MODEL_VERSION": "2",
    }


def wait_for_keys(server: Server, token: str) -> None:
    """The key set loads in the background after start: until then a token gets 503, never 200 or 401."""
    deadline = time.monotonic() + 30
    while True:
        reply = server.score(ROWS, key=token)
        if reply.status != 503:
            return
        assert time.monotonic() < deadline, f"signing keys not loaded in 30 s: {reply.body!r}\n{server.log()}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def both(make_server: MakeServer, jwks_uri: str, issuer: Issuer) -> Server:
    server = make_server(token_env(jwks_uri, "both"))
    wait_for_keys(server, issuer.token())
    return server


@pytest.fixture(scope="module")
def tokens_only(make_server: MakeServer, jwks_uri: str, issuer: Issuer) -> Server:
    server = make_server(token_env(jwks_uri, "tokens"))
    wait_for_keys(server, issuer.token())
    return server


def test_a_valid_token_is_accepted_on_score_and_v2(both: Server, issuer: Issuer) -> None:
    token = issuer.token()
    reply = both.score(ROWS, key=token)
    assert reply.status == 200, reply.body
    assert reply.json() == [int(label) for label in reply.json()] and len(reply.json()) == 2
    v2 = both.request(
        "POST",
        "/v2/models/mnist/infer",
        json.dumps(
            {"inputs": [{"name": "input", "shape": [1, 784], "datatype": "FP32", "data": [0.0] * 784}]}
        ).encode(),
        key=token,
    )
    assert v2.status == 200, v2.body


def test_keys_keep_working_beside_tokens(both: Server) -> None:
    assert both.score(ROWS, key=PRIMARY_KEY).status == 200
    reply = both.score(ROWS, key="not-the-key")
    assert reply.status == 401 and b"invalid key" in reply.body


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong audience", b"token audience is not this service's"),
        ("expired", b"token has expired"),
        ("wrong signature", b"token signature does not verify"),
        ("unknown key", b"token signing key 'k9' is not in the issuer's key set"),
        ("wrong issuer", b"token issuer is not accepted here"),
        ("no exp", b"token lacks the 'exp' claim"),
    ],
)
def test_a_bad_token_is_refused_with_401_and_the_reason(both: Server, issuer: Issuer, case: str, reason: bytes) -> None:
    token = {
        "wrong audience": lambda: issuer.token(aud="api://someone-else"),
        "expired": lambda: issuer.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200, nbf=None),
        "wrong signature": lambda: issuer.token(signer=issuer.other),
        "unknown key": lambda: issuer.token(kid="k9"),
        "wrong issuer": lambda: issuer.token(iss="https://login.microsoftonline.com/another-tenant/v2.0"),
        "no exp": lambda: issuer.token(exp=None),
    }[case]()
    for path in ("/score", "/v2/models/mnist/infer"):
        body = seed_body(ROWS) if path == "/score" else b"{}"
        reply = both.request("POST", path, body, key=token)
        assert reply.status == 401, (path, reply.body)
        assert reason in reply.body, (path, reply.body)
        challenge = reply.header("WWW-Authenticate") or ""
        assert 'error="invalid_token"' in challenge and reason.decode().replace('"', "'") in challenge
    assert token.encode() not in both.log().encode()


def test_tokens_mode_refuses_keys(tokens_only: Server, issuer: Issuer) -> None:
    assert tokens_only.score(ROWS, key=issuer.token()).status == 200
    reply = tokens_only.score(ROWS, key=PRIMARY_KEY)
    assert reply.status == 401 and b"malformed token" in reply.body


def test_the_answering_deployment_is_named_in_the_header_the_log_and_the_metrics(both: Server) -> None:
    for path, body in (("/score", seed_body(ROWS)), ("/", None)):
        reply = both.request("POST" if body else "GET", path, body)
        assert reply.header("azureml-model-deployment") == "candidate", (path, reply.headers)
    lines = [json.loads(line) for line in both.log().splitlines() if '"event":"request"' in line]
    assert lines and all(line["deployment"] == "candidate" and line["model_version"] == "2" for line in lines)
    info = 'deployment="candidate",model="mnist-mlp",model_version="2"'
    assert both.metric("scoring_model_deployment_info", info) == 1.0


def test_the_verifier_refuses_unsigned_and_hmac_tokens(issuer: Issuer) -> None:
    verifier = TokenVerifier(TokenSettings(issuers=(ISSUER,), audiences=(AUDIENCE,), jwks_uri="https://x/keys"))
    verifier.set_keys(issuer.jwks)
    verifier.verify(issuer.token())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60}
    for forged in (
        jwt.encode(claims, "", algorithm="none", headers={"kid": "k1"}),
        jwt.encode(claims, "k" * 32, algorithm="HS256", headers={"kid": "k1"}),
    ):
        with pytest.raises(TokenRefused, match="algorithm"):
            verifier.verify(forged)
    assert is_jwt(issuer.token()) and not is_jwt(PRIMARY_KEY)


def test_the_client_sends_a_token_and_shows_which_deployment_answered(both: Server, issuer: Issuer) -> None:
    uri = f"http://127.0.0.1:{both.port}/score"
    result = run_client("--uri", uri, "--token", issuer.token(), "--count", "5", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert "(answered by model deployment candidate)" in result.stdout
    expired = issuer.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200, nbf=None)
    refused = run_client("--uri", uri, "--token", expired, "--count", "1")
    assert refused.returncode != 0
    assert "401" in refused.stderr and "token has expired" in refused.stderr


def test_tokens_only_is_not_ready_until_the_signing_keys_load_and_both_still_serves_keys(
    make_server: MakeServer, issuer: Issuer
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/discovery/v2.0/keys"  # nothing listens there
    tokens_only = make_server(token_env(unreachable, "tokens"), wait_ready=False)
    both = make_server(token_env(unreachable, "both"))  # ready: keys work without the issuer
    assert both.score(ROWS, key=PRIMARY_KEY).status == 200
    refused = both.score(ROWS, key=issuer.token())
    assert refused.status == 503 and b"signing keys are not loaded yet" in refused.body
    deadline = time.monotonic() + 30
    while (ready := tokens_only.request("GET", "/ready", key=None)).status != 503 or b"signing keys" not in ready.body:
        assert time.monotonic() < deadline, f"/ready never named the missing keys: {ready.status} {ready.body!r}"
        time.sleep(0.1)
    assert unreachable.encode() in ready.body and ready.header("Retry-After")
    assert "jwks_failed" in tokens_only.log()
