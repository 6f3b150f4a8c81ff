"""Where the data that ships with the package lives: in a checkout the top-level fixtures/, in an
installed wheel `harness/fixtures/`; both are the package `harness.fixtures`, so
importlib.resources finds them the same way (pyproject.toml maps the folder)."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

FIXTURES_ENV = "GLM_HARNESS_FIXTURES"


def fixtures_dir() -> Path:
    """`$GLM_HARNESS_FIXTURES`, else the fixtures that ship with the package."""
    if env := os.environ.get(FIXTURES_ENV):
        return Path(env)
    return _on_disk(files("harness.fixtures"))


def _on_disk(resource: object) -> Path:
    # Wheels install unpacked and editable installs point at the checkout: a real folder either
    # way. A zipped install would need as_file(); say so rather than fail later on a path.
    if not isinstance(resource, Path):
        raise RuntimeError(f"glm-harness must be installed unpacked; its fixtures are in {resource}")
    return resource
