"""torch is imported by the model side only when something uses it: the server's own modules load
without it, so a server whose entry script never imports torch starts in a fraction of the time
(and the test suite's many servers of torch-free fixture scripts with it)."""

from __future__ import annotations

import subprocess
import sys

from conftest import APP_DIR

# Every module a serving process imports before the entry script, and the torch-free model side.
SERVER_MODULES = (
    "scoring.__main__",
    "scoring.core.settings",
    "scoring.transport.connections",
    "scoring.model.entry",
    "scoring.observability.metrics",
    "scoring.core.pipeline",
    "scoring.transport.server",
    "scoring.protocols.azureml",
    "scoring.protocols.v2",
    "scoring.model.batching",
    "scoring.core.decode",
    "scoring.model.signature",
    "scoring.model.model_shape",
)


def test_the_server_modules_import_without_torch() -> None:
    # In a fresh interpreter: this test process may have imported torch already.
    probe = (
        f"import importlib, sys\n"
        f"for name in {SERVER_MODULES!r}:\n"
        f"    importlib.import_module(name)\n"
        f"from scoring.core.decode import available_decoders, decode_scoring_bodies\n"
        # A batch over the byte parser's size threshold, decoded on CPU, and the CPU decoders listed.
        f"body = b'{{\"data\": [[' + b','.join([b'0.5'] * 784) + b']]}}'\n"
        f"assert len(decode_scoring_bodies([body] * 30, device='cpu')) == 30\n"
        f"assert available_decoders('cpu') == ['cpu:orjson']\n"
        f"print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=APP_DIR, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_model_module_still_offers_the_shape_and_signature() -> None:
    from scoring.model import model, model_shape

    assert model.ROW_LENGTH == model_shape.ROW_LENGTH == 784
    assert model.SIGNATURE is model_shape.SIGNATURE
    assert model.WEIGHTS_FILE == model_shape.WEIGHTS_FILE
    assert model.PARAMETER_SHAPES is model_shape.PARAMETER_SHAPES
