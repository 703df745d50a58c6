"""The tests run on the stack the image ships: every package of the image's lock
(app/requirements.txt, which app/Dockerfile installs) is installed here at exactly its pinned version,
and the test lock (app/requirements-test.txt) agrees with it package by package."""

from __future__ import annotations

import os
import re
import sys
from importlib import metadata
from pathlib import Path

from conftest import APP_DIR

REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    return {normalised(name): version for name, version in REQUIREMENT.findall(path.read_text())}


def test_the_image_lock_pins_the_runtime_packages() -> None:
    image = pins(APP_DIR / "requirements.txt")
    for needed in ("torch", "numpy", "aiohttp", "uvloop", "orjson", "prometheus-client"):
        assert needed in image, f"{needed} is missing from app/requirements.txt"


def test_the_test_lock_agrees_with_the_image_lock() -> None:
    image = pins(APP_DIR / "requirements.txt")
    tests = pins(APP_DIR / "requirements-test.txt")
    differing = {name: (version, tests.get(name)) for name, version in image.items() if tests.get(name) != version}
    assert differing == {}, "re-lock with scripts/lock-python.sh (image pin, test pin)"


VIA = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==[^\n]*\n(?:\s+--hash[^\n]*\n)*\s+# via ([^\n]+)", re.MULTILINE)


def torch_build(name: str) -> bool:
    """torch's own CUDA build: the torch wheel and the CUDA/Triton wheels it depends on."""
    return name in ("torch", "triton") or name.startswith(("nvidia-", "cuda-"))


def torch_brought(path: Path) -> set[str]:
    """Packages of the lock that are there only for torch's build (its CUDA wheels and its own
    dependencies, e.g. sympy), read from the lock's `# via` annotations."""
    brought = {name for name in pins(path) if torch_build(name)}
    via = {
        normalised(name): {normalised(v.strip()) for v in by.split(",")} for name, by in VIA.findall(path.read_text())
    }
    changed = True
    while changed:
        changed = False
        for name, parents in via.items():
            if name not in brought and parents and parents <= brought:
                brought.add(name)
                changed = True
    return brought


def test_this_environment_has_exactly_the_image_versions() -> None:
    assert sys.version_info[:2] == (3, 12), "the image runs CPython 3.12"
    # The one allowed difference is torch's build: a GPU machine that brings its own CUDA build of
    # torch (the device machine: torch 2.11.0+cu130 preinstalled, with the CUDA wheels and the
    # packages only torch needs) says so with this variable; the torch version itself is checked.
    system_torch = os.environ.get("SCORING_TEST_SYSTEM_TORCH") == "1"
    brought = torch_brought(APP_DIR / "requirements.txt") if system_torch else set()
    differing = {}
    for name, version in pins(APP_DIR / "requirements.txt").items():
        if name in brought and name != "torch":
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if name == "torch" and system_torch:
            installed = installed.split("+")[0]
        if installed != version:
            differing[name] = (version, installed)
    assert differing == {}, "installed versions differ from app/requirements.txt (pinned, installed)"


def test_torch_brought_packages_are_read_from_the_lock() -> None:
    brought = torch_brought(APP_DIR / "requirements.txt")
    assert {"torch", "triton", "nvidia-cudnn-cu13", "sympy", "mpmath", "networkx"} <= brought
    # Used by the app's own packages too, so always checked (jinja2: Flask, for Azure ML's server).
    assert brought.isdisjoint({"numpy", "aiohttp", "typing-extensions", "orjson", "cryptography", "jinja2"})
