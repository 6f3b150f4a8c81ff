"""Root conftest. The glm-harness plugin itself comes from the `pytest11` entry point of the
installed package (pyproject.toml), so suites run the same way here and in other projects;
pytester is loaded for the proofs in tests/ that run the suites against a broken twin."""

import os

import pytest

pytest_plugins = ["pytester"]


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """The `-n auto` of pyproject's addopts is for the outer run: a pytest started by one of the
    tests (pytester, a subprocess) runs in that one process."""
    return 0 if os.environ.get("PYTEST_CURRENT_TEST") else None
