"""Azure ML's rules for loading and calling an entry script, as `azureml-inference-server-http` 1.5.1
implements them (server/user_script.py, amlserver.py, config.py): which init()/run() it finds, how it
calls run() and where it refuses to start, and the folders it puts on sys.path first. Pure functions;
the model layer (entry.py) loads the script with them, and the Azure ML protocol
(protocols/azureml_contract.py) builds run()'s inputs from the call style chosen here.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import ModuleType


class ContractError(RuntimeError):
    """The entry script cannot be served the way Azure ML serves it (Azure ML refuses to start too)."""


# ---- (a) the entry script's call style ----


class RunStyle(StrEnum):
    JSON_STRING = "json_string"  # undecorated: the body (or the GET query as JSON) as a str
    RAWHTTP = "rawhttp"  # @rawhttp: the Flask request itself
    SCHEMA = "schema"  # inference-schema: the body's fields as keyword arguments


@dataclass(frozen=True)
class RunContract:
    """How Azure ML calls this run(): user_script.UserScript._analyze_run's decision."""

    run: Callable[..., object]
    style: RunStyle
    # The parameter the input goes to (JSON_STRING, RAWHTTP): the first one other than request_headers.
    input_name: str
    # SCHEMA: every parameter but request_headers, each filled from the body by name.
    parameters: tuple[inspect.Parameter, ...] = field(default=())
    wants_headers: bool = False

    def call(self, inputs: Mapping[str, object], request_headers: Mapping[str, str]) -> object:
        """run(**inputs[, request_headers=...]): always by keyword, as Azure ML calls it."""
        if self.wants_headers:
            return self.run(**inputs, request_headers=dict(request_headers))
        return self.run(**inputs)


def loaded(name: str) -> ModuleType | None:
    """A module only if something (the entry script) already imported it."""
    return sys.modules.get(name)


def rawhttp_requested() -> bool:
    """The module global the real @rawhttp decorator sets (Azure ML reads it after importing the script)."""
    module = loaded("azureml_inference_server_http.api.aml_request")
    return bool(getattr(module, "_rawHttpRequested", False)) if module is not None else False


def schema_decorated(run: Callable[..., object]) -> bool:
    """inference_schema.schema_util.is_schema_decorated(run), when the script uses inference-schema."""
    module = loaded("inference_schema.schema_util")
    return bool(module.is_schema_decorated(run)) if module is not None else False


def install_legacy_aliases() -> bool:
    """Makes `azureml.contrib.services.aml_request` / `.aml_response` importable as on Azure ML, whose
    server package aliases them to its own api modules (server/__init__.py) before loading the script.
    Call before importing the entry script; False when azureml-inference-server-http is not installed."""
    if importlib.util.find_spec("azureml_inference_server_http") is None:
        return False
    importlib.import_module("azureml_inference_server_http.server")  # its __init__ sets the aliases
    return "azureml.contrib.services.aml_request" in sys.modules


def script_functions(module: ModuleType, where: str) -> tuple[Callable[[], object], Callable[..., object]]:
    """(init, run) as UserScript.load_script finds them, including a driver module's run()."""
    if not hasattr(module, "init"):
        raise ContractError(f"User script at {where} does not have a init() function defined.")
    if not hasattr(module, "run"):
        raise ContractError(f"User script at {where} does not have a run() function defined.")
    driver = getattr(module, "driver_module", None)
    run = driver.run if isinstance(driver, ModuleType) and hasattr(driver, "run") else module.run
    init: Callable[[], object] = module.init
    return init, run


def analyze_run(run: Callable[..., object], *, rawhttp: bool | None = None) -> RunContract:
    """Azure ML's check of run()'s signature at start, and the call style it picks; raises
    ContractError with Azure ML's message where Azure ML refuses to start. `rawhttp`: whether @rawhttp
    was applied (default: the real decorator's module global)."""
    params = list(inspect.signature(run).parameters.values())
    allowed = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind not in allowed for p in params):
        raise ContractError("run() cannot accept positional-only arguments, *args, or **kwargs.")
    wants_headers = any(p.name == "request_headers" for p in params)
    params = [p for p in params if p.name != "request_headers"]
    if not params:
        if wants_headers:
            raise ContractError('run() needs to accept an argument other than "request_headers".')
        raise ContractError("run() needs to accept an argument for input data.")
    raw = rawhttp_requested() if rawhttp is None else rawhttp
    decorated = schema_decorated(run)
    if raw and decorated:
        raise ContractError("run() cannot be decorated with both @rawhttp and @input_schema")
    style = RunStyle.RAWHTTP if raw else RunStyle.SCHEMA if decorated else RunStyle.JSON_STRING
    return RunContract(run, style, params[0].name, tuple(params), wants_headers)


# ---- the folders Azure ML puts on sys.path ----


def app_root(env: Mapping[str, str], cwd: Path) -> Path:
    """AML_APP_ROOT, else the working directory (azmlinfsrv sets it so)."""
    return Path(env.get("AML_APP_ROOT", "").strip() or cwd)


def source_path_entries(env: Mapping[str, str], cwd: Path) -> tuple[Path, ...]:
    """The folders Azure ML appends to sys.path before it imports the entry script, in its order:
    AML_APP_ROOT (amlserver.set_path_variable and aml_blueprint), then AZUREML_SOURCE_DIRECTORY joined
    onto it (an absolute one stands alone, as os.path.join makes it). Appended, not inserted: an
    installed package of the same name wins, as on Azure ML."""
    root = app_root(env, cwd)
    entries = [root]
    source = env.get("AZUREML_SOURCE_DIRECTORY", "")
    if source:  # config.source_dir: a non-empty value only
        entries.append(root / source)
    return tuple(entries)
