"""pyproject.toml lists the packages by hand (it maps suites/ and fixtures/ into `harness`): no
package or data file of the checkout may be left out of the wheel. The wheel itself is built and
run in tests/test_installed_wheel.py."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
MAPPED = {"harness": REPO / "harness", **{name: REPO / path for name, path in SETUPTOOLS["package-dir"].items()}}


def _folders(package: str) -> dict[str, Path]:
    root = MAPPED[package]
    found = {package: root}
    for folder in sorted(p for p in root.rglob("*") if p.is_dir() and p.name != "__pycache__"):
        found[".".join([package, *folder.relative_to(root).parts])] = folder
    return found


def test_every_folder_is_a_listed_package() -> None:
    listed = set(SETUPTOOLS["packages"])
    for package in MAPPED:
        missing = sorted(set(_folders(package)) - listed)
        assert not missing, f"add to [tool.setuptools] packages: {missing}"


def test_every_fixture_file_is_package_data() -> None:
    root = MAPPED["harness.fixtures"]
    shipped = {p for pattern in SETUPTOOLS["package-data"]["harness.fixtures"] for p in root.glob(pattern)}
    data = {p for p in root.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")}
    assert not data - shipped, f"add to package-data: {sorted(str(p.relative_to(root)) for p in data - shipped)}"


def test_the_build_backend_can_read_the_metadata() -> None:
    """An SPDX `license` string needs setuptools 77."""
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    assert "setuptools>=77" in requires
