"""A command whose extra is not installed stops with one line naming the extra, exit 2."""

from __future__ import annotations

import importlib.util

import pytest

import harness
from harness import _extras, cli


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`without("numpy")`: find_spec says the module is not installed."""
    def hide(*modules: str) -> None:
        real = importlib.util.find_spec
        monkeypatch.setattr(_extras, "find_spec", lambda name: None if name in modules else real(name))
    return hide


@pytest.mark.parametrize(("argv", "hidden", "extra"), [
    (["bench"], "numpy", "bench"),
    (["compare", "a.json", "b.json"], "scipy", "bench"),
    (["plot", "a.json"], "matplotlib", "plots"),
    (["compare", "a.json", "b.json", "--plots", "out"], "matplotlib", "plots"),
    (["serve", "--port", "0"], "uvicorn", "serve"),
    (["calibrate"], "uvicorn", "serve"),
])
def test_a_missing_extra_is_one_line_naming_it(without, capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
                                               argv: list[str], hidden: str, extra: str) -> None:
    without(hidden)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"needs the [{extra}] extra ({hidden} is not installed): pip install 'glm-harness[{extra}]'" in err


def test_help_lists_every_command_and_what_it_needs(without, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    without("uvicorn", "matplotlib")
    assert cli.main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split()).replace("glm- harness", "glm-harness")  # argparse wraps
    assert "run the GLM twin over HTTP on loopback (needs glm-harness[serve])" in out
    assert "plot benchmark reports (PNG) (needs glm-harness[plots])" in out
    assert "drift" in out and "validate" in out


def test_a_report_loader_without_its_extra_is_an_import_error_naming_it(without) -> None:  # type: ignore[no-untyped-def]
    without("numpy")
    harness.__dict__.pop("load_report", None)
    with pytest.raises(ImportError, match=r"harness.load_report needs the \[bench\] extra"):
        harness.load_report  # noqa: B018


def test_every_extra_module_is_declared_in_pyproject() -> None:
    """The modules _extras checks are the ones the extras install (by their import names)."""
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    declared = project["optional-dependencies"]
    for extra, modules in _extras.EXTRAS.items():
        names = " ".join(declared[extra]).replace("-", "_")
        assert all(module in names for module in modules), (extra, modules, declared[extra])
