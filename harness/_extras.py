"""The optional dependency groups (pyproject.toml's extras) and what needs them. A command whose
extra is missing stops with one line naming the extra, before anything imports it."""

from __future__ import annotations

from importlib.util import find_spec

from .errors import MissingExtraError

# The modules each extra brings that the code imports; pyproject.toml pins their versions.
EXTRAS: dict[str, tuple[str, ...]] = {
    "bench": ("jsonschema_rs", "numpy", "scipy", "rich", "pytest_benchmark"),
    "plots": ("matplotlib",),
    "serve": ("uvicorn",),
}
COMMAND_EXTRAS: dict[str, tuple[str, ...]] = {
    "bench": ("bench",),
    "calibrate": ("bench", "serve"),
    "compare": ("bench",),
    "plot": ("bench", "plots"),
    "report": ("bench",),
    "summary": ("bench",),
    "serve": ("serve",),
    "proxy": ("serve",),
    "agent-bench": ("serve",),
}
# Options that need more than their command does, checked before the command starts its work.
OPTION_EXTRAS: dict[tuple[str, str], str] = {("compare", "--plots"): "plots"}


def missing(extra: str) -> str | None:
    """The first module of `extra` that cannot be imported, or None."""
    return next((module for module in EXTRAS[extra] if find_spec(module) is None), None)


def require(extra: str, what: str) -> None:
    """Raise `MissingExtraError` naming `extra` if any of its modules is absent."""
    if (module := missing(extra)) is not None:
        raise MissingExtraError(extra, what, module)


def require_for_command(argv: list[str]) -> None:
    """`MissingExtraError` if the command in `argv` (or one of its options) needs a missing extra."""
    command = argv[0] if argv else ""
    for extra in COMMAND_EXTRAS.get(command, ()):
        require(extra, f"glm-harness {command}")
    for (name, option), extra in OPTION_EXTRAS.items():
        if command == name and any(arg == option or arg.startswith(f"{option}=") for arg in argv[1:]):
            require(extra, f"glm-harness {command} {option}")
