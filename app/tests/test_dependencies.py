"""The tests run on the stack the image ships: every package of the image's lock
(app/requirements.txt, which app/Dockerfile installs) is installed here at exactly its pinned version,
and the test lock (app/requirements-test.txt) agrees with it package by package."""

from __future__ import annotations

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


def test_this_environment_has_exactly_the_image_versions() -> None:
    assert sys.version_info[:2] == (3, 12), "the image runs CPython 3.12"
    differing = {}
    for name, version in pins(APP_DIR / "requirements.txt").items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if name == "torch":
            # The one allowed difference is torch's build variant: a machine with its own CUDA build
            # of the same version (e.g. 2.11.0+cu130) tests the same code.
            installed = installed.split("+")[0]
        if installed != version:
            differing[name] = (version, installed)
    assert differing == {}, "installed versions differ from app/requirements.txt (pinned, installed)"
