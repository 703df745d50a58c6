"""The user's entry script, loaded from a file path with the Azure ML contract.

`init()` is called once before the server reports ready; `run(raw_data: str)` scores one request
body, exactly as the seed's score.py did. An optional `run_batch(rows)` (float32 or uint8 array of
shape (n, row_length) -> one label per row) lets the server batch many requests into one device call.
An optional `signature` (a scoring.model.signature.Signature, or a function returning one) says what the
model takes; without it the default model's signature applies.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from scoring.model.model_shape import SIGNATURE as DEFAULT_SIGNATURE
from scoring.model.script_contract import (
    ContractError,
    analyze_run,
    install_legacy_aliases,
    script_functions,
    source_path_entries,
)
from scoring.model.signature import Signature

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


def _extend_sys_path(path: Path, env: Mapping[str, str], cwd: Path) -> None:
    """sys.path as Azure ML extends it before importing the script: AML_APP_ROOT (default: the working
    directory) and AZUREML_SOURCE_DIRECTORY, appended in its order. Then the script's own folder,
    last: this server's extension (a script outside those folders can still import its neighbours),
    which never changes what an import Azure ML resolves finds. The working directory is already
    first (`python -m`, as gunicorn puts it first on Azure ML)."""
    for folder in (*source_path_entries(env, cwd), path.parent):
        entry = str(folder)
        if entry not in sys.path:
            sys.path.append(entry)


def _import(path: Path, env: Mapping[str, str], cwd: Path) -> ModuleType:
    if not path.is_file():
        raise EntryScriptError(f"entry script {path} does not exist: set ENTRY_SCRIPT to the path of your score.py")
    spec = importlib.util.spec_from_file_location(f"entry_script_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise EntryScriptError(f"entry script {path} is not a Python module (expected a .py file)")
    module = importlib.util.module_from_spec(spec)
    # azureml.contrib.services.aml_request / aml_response, as on Azure ML; importing the package also
    # appends its server/ folder to sys.path (its __init__), before the app root as there.
    install_legacy_aliases()
    _extend_sys_path(path, env, cwd)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise EntryScriptError(f"entry script {path} failed to import: {type(exc).__name__}: {exc}") from exc
    return module


def load_entry_script(path: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> EntryScript:
    """Imports the script (without calling init) and checks that it has the contract's functions.
    `env` and `cwd` (default: the process's) name the folders Azure ML puts on sys.path."""
    module = _import(path, os.environ if env is None else env, Path.cwd() if cwd is None else cwd)
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
            f"entry script {path}: signature must be a scoring.model.signature.Signature (or a function returning one), "
            f"got {type(value).__name__}"
        )
    return value


# ---- stopping a run() that overran its time ----

# int PyThreadState_SetAsyncExc(unsigned long id, PyObject *exc): schedules `exc` to be raised in the
# thread `id` when it next runs Python bytecode (https://docs.python.org/3/c-api/init.html); NULL
# clears a scheduled one. PYFUNCTYPE keeps the GIL held during the call, which the function needs.
# Two prototypes: py_object cannot pass NULL (None becomes Py_None).
_SET_ASYNC_EXC = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)
_CLEAR_ASYNC_EXC = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


class InterruptibleCall[T]:
    """`fn()` run in a worker thread (call the object there) that another thread can stop with
    `interrupt()`: TimeoutError is raised inside `fn` at its next Python bytecode, as Azure ML's
    SIGALRM handler raises TimeoutError inside run() (azureml_inference_server_http/server/utils.py,
    `timeout`). Native code (time.sleep, a long CUDA kernel, a C extension's loop) finishes its call
    first; a run() that catches the TimeoutError and goes on is not stopped (on Azure ML neither).

    Safe against the races that matter for a shared executor thread: the exception is scheduled only
    while `fn` runs (under a lock), at most once, and a scheduled one that `fn` did not receive is
    absorbed or cleared before `__call__` returns, so it can never strike the executor's own code or
    the next call. A call interrupted before it started raises TimeoutError without calling `fn`."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._lock = threading.Lock()
        self._thread: int | None = None  # the worker thread while fn runs, else None
        self._finished = False
        self.interrupted = False

    def __call__(self) -> T:
        try:
            with self._lock:
                if self.interrupted:
                    raise TimeoutError("interrupted before it started")
                self._thread = threading.get_ident()
            return self._fn()
        finally:
            with self._lock:
                self._finished = True  # from here on interrupt() schedules nothing
                scheduled = self.interrupted and self._thread is not None
            if scheduled:
                self._absorb()

    def _absorb(self) -> None:
        # A TimeoutError scheduled but not yet raised: clear it. If it is raised first (at any
        # bytecode of this loop) it is caught here; only one was ever scheduled, so after one catch
        # or one clear nothing is pending.
        while True:
            try:
                _CLEAR_ASYNC_EXC(threading.get_ident(), None)
                return
            except TimeoutError:
                continue

    def interrupt(self) -> bool:
        """Stops fn (from another thread): True if a TimeoutError was scheduled in the running call
        or the call will not start; False if it had already finished."""
        with self._lock:
            if self._finished or self.interrupted:
                return False
            self.interrupted = True
            if self._thread is None:
                return True  # not started: __call__ raises without calling fn
            scheduled: int = _SET_ASYNC_EXC(self._thread, TimeoutError)
            if scheduled > 1:
                # More than one thread state had the id: the C API's docs say to revert the call.
                _CLEAR_ASYNC_EXC(self._thread, None)
                return False
            return scheduled == 1
