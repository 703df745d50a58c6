"""The user's entry script, loaded from a file path with the Azure ML contract.

`init()` is called once before the server reports ready; `run(raw_data: str)` scores one request
body, exactly as the seed's score.py did. An optional `run_batch(rows)` (float32 or uint8 array of
shape (n, row_length) -> one label per row) lets the server batch many requests into one device call.
An optional `signature` (a scoring.signature.Signature, or a function returning one) says what the
model takes; without it the default model's signature applies.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from scoring.azureml_contract import ContractError, analyze_run, install_legacy_aliases, script_functions
from scoring.model import SIGNATURE as DEFAULT_SIGNATURE
from scoring.signature import Signature

RunBatch = Callable[[np.ndarray], Sequence[int] | np.ndarray]


class EntryScriptError(RuntimeError):
    """The entry script cannot be loaded or lacks the contract; the message says what is wrong."""


@dataclass(frozen=True)
class EntryScript:
    path: Path
    init: Callable[[], object]
    run: Callable[[str], object]
    run_batch: RunBatch | None
    signature: Signature

    @property
    def batched(self) -> bool:
        return self.run_batch is not None


def _import(path: Path) -> ModuleType:
    if not path.is_file():
        raise EntryScriptError(f"entry script {path} does not exist: set ENTRY_SCRIPT to the path of your score.py")
    # The script's folder goes first on sys.path so it can import its neighbours (as Azure ML allows).
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(f"entry_script_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise EntryScriptError(f"entry script {path} is not a Python module (expected a .py file)")
    module = importlib.util.module_from_spec(spec)
    install_legacy_aliases()  # azureml.contrib.services.aml_request / aml_response, as on Azure ML
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise EntryScriptError(f"entry script {path} failed to import: {type(exc).__name__}: {exc}") from exc
    return module


def load_entry_script(path: Path) -> EntryScript:
    """Imports the script (without calling init) and checks that it has the contract's functions."""
    module = _import(path)
    init = getattr(module, "init", None)
    run = getattr(module, "run", None)
    missing = [name for name, fn in (("init", init), ("run", run)) if not callable(fn)]
    if missing or init is None or run is None:
        raise EntryScriptError(
            f"entry script {path} must define {' and '.join(missing)}() (the Azure ML init()/run(raw_data) contract)"
        )
    try:
        _, run = script_functions(module, str(path))  # a driver module's run(), as Azure ML calls it
        analyze_run(run)  # refuses what Azure ML refuses to start with
    except ContractError as exc:
        raise EntryScriptError(f"entry script {path}: {exc}") from None
    run_batch = getattr(module, "run_batch", None)
    return EntryScript(
        path=path,
        init=init,
        run=run,
        run_batch=run_batch if callable(run_batch) else None,
        signature=_signature(module, path),
    )


def _signature(module: ModuleType, path: Path) -> Signature:
    declared = getattr(module, "signature", None)
    if declared is None:
        return DEFAULT_SIGNATURE
    try:
        value = declared() if callable(declared) and not isinstance(declared, Signature) else declared
    except Exception as exc:
        raise EntryScriptError(f"entry script {path}: signature() failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(value, Signature):
        raise EntryScriptError(
            f"entry script {path}: signature must be a scoring.signature.Signature (or a function returning one), "
            f"got {type(value).__name__}"
        )
    return value
