"""The pytest plugin's settings. Each has one name in three spellings: `--glm-target` on the command
line, `GLM_HARNESS_TARGET` in the environment, `glm_target` in the ini file (pytest.ini,
pyproject.toml's [tool.pytest.ini_options], tox.ini, setup.cfg); the first that is set wins, in
that order. Nothing here imports more than the standard library, so the plugin costs nothing in
a session that does not use it; bad values are one `pytest.UsageError` at startup."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pytest

GROUP = "glm"
ENV_PREFIX = "GLM_HARNESS_"
TARGETS = ("mock", "live")
SURFACES = ("openai", "anthropic")  # harness.surface.Surface (not imported: this module loads nothing)
# Against a hung server a test waits this long per read, not pytest's forever or httpx's 120 s;
# long enough for a thinking model's first byte on the suites' small requests.
DEFAULT_READ_TIMEOUT_S = 30.0
# The bounds on one answer (harness.limits, not imported: this module loads nothing); a test pins
# these to that module's constants.
DEFAULT_DEADLINE_S = 300.0
DEFAULT_MAX_BODY_BYTES = 64 << 20
DEFAULT_MAX_EVENT_BYTES = 8 << 20


@dataclass(frozen=True)
class Option:
    name: str  # "base_url": --glm-base-url, GLM_HARNESS_BASE_URL, glm_base_url
    help: str
    metavar: str | None = None
    kind: Literal["text", "flag", "seconds", "list", "bytes"] = "text"
    choices: tuple[str, ...] | None = None

    @property
    def flag(self) -> str:
        return "--glm-" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def ini(self) -> str:
        return "glm_" + self.name


# The defaults named in the help texts are pinned to the code's constants by tests/test_plugin.py;
# importing those constants here would load the contract in every pytest session.
OPTIONS = (
    Option("target", "run against the embedded twin (mock, default) or a live endpoint (live)",
           choices=TARGETS),
    Option("surface", "the API to hold to its contract: openai (default, POST {base}/chat/completions) "
                      "or anthropic (POST {base}/v1/messages, what Claude Code calls); tests only one "
                      "surface has are skipped on the other", choices=SURFACES),
    Option("base_url", "live endpoint base URL (default https://api.z.ai/api/paas/v4); any "
                       "OpenAI-compatible server; with --glm-surface anthropic, default "
                       "https://api.z.ai/api/anthropic", metavar="URL"),
    Option("model", "model to call (default glm-4.6)", metavar="MODEL"),
    Option("profile", "glm (default): hold the target to all of GLM's contract; openai-compatible: "
                      "a server that is not GLM (vLLM, SGLang, llama.cpp): GLM-only rules are "
                      "reported as not applied and streams ask for usage",
           choices=("glm", "openai-compatible")),
    Option("api_key_env", "environment variable holding the API key (default ZAI_API_KEY)",
           metavar="VAR"),
    Option("require_key", "with --glm-target live: no API key is a usage error (exit 4), not 48 "
                          "skipped tests; for scheduled runs (nightly, tox -e live)", kind="flag"),
    Option("require_tls", "refuse (usage error) to send the key over plain http to a host that is "
                          "not loopback; without it, that is a warning", kind="flag"),
    Option("strict_schema", "also flag unknown fields, nulls and missing always-sent fields (drift)",
           kind="flag"),
    Option("report", "write each test's contract outcome as JSON to this file", metavar="FILE"),
    Option("read_timeout", f"seconds to wait for the next byte of an answer before the request "
                           f"counts as stalled (default {DEFAULT_READ_TIMEOUT_S:g})",
           metavar="S", kind="seconds"),
    Option("deadline", f"seconds the whole answer may take, from the request to its last byte, "
                       f"however steadily bytes trickle in (default {DEFAULT_DEADLINE_S:g})",
           metavar="S", kind="seconds"),
    Option("max_body_bytes", f"bytes an answer's body may hold once decompressed; a gzip bomb stops "
                             f"there (default {DEFAULT_MAX_BODY_BYTES >> 20}M; K, M, G suffixes)",
           metavar="N", kind="bytes"),
    Option("max_event_bytes", f"bytes one SSE line, or one event's data, may hold (default "
                              f"{DEFAULT_MAX_EVENT_BYTES >> 20}M; K, M, G suffixes)", metavar="N", kind="bytes"),
    Option("twin_fault", "arm the twin with a fault for every request (e.g. missing_done, "
                         "stall:0:5): shows what the suites catch; repeatable", metavar="FAULT",
           kind="list"),
    Option("twin_profile", "the era the embedded twin speaks: 2026 (default) or 2025, the shapes of the "
                           "2025 recordings", choices=("2026", "2025")),
    Option("record", "save every exchange of glm_client / glm_client_with_key as a scrubbed "
                     "transcript in DIR (replay: glm-harness serve --replay DIR)", metavar="DIR"),
    Option("record_sensitive", "with --glm-record: request fields to scrub too (user_id,request_id)",
           metavar="FIELDS"),
)


@dataclass(frozen=True)
class PluginSettings:
    target: str = "mock"
    surface: str = "openai"
    base_url: str | None = None
    model: str | None = None  # None: the contract's DEFAULT_MODEL
    profile: str = "glm"  # profiles.PROFILES (not imported: this module loads nothing)
    api_key_env: str | None = None  # None: targets.DEFAULT_KEY_ENV
    require_key: bool = False
    require_tls: bool = False
    strict_schema: bool = False
    report: str | None = None
    read_timeout: float = DEFAULT_READ_TIMEOUT_S
    deadline: float = DEFAULT_DEADLINE_S
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    twin_fault: tuple[str, ...] = ()
    twin_profile: str | None = None  # None: the twin's default, today's API
    record: str | None = None
    record_sensitive: str = ""

    @property
    def live(self) -> bool:
        return self.target == "live"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "GLM API contract suites (glm-harness); each option also reads "
                                   f"{ENV_PREFIX}<NAME> and the ini key glm_<name>")
    for option in OPTIONS:
        # No defaults here: None means "not given", so the environment and the ini file get a say.
        how: dict[str, Any] = (
            {"action": "store_true"} if option.kind == "flag"
            else {"action": "append", "metavar": option.metavar} if option.kind == "list"
            else {"metavar": option.metavar, "choices": option.choices})
        group.addoption(option.flag, dest=f"glm_{option.name}", help=option.help, default=None, **how)
        ini_kind: Literal["args", "string"] = "args" if option.kind == "list" else "string"
        parser.addini(option.ini, help=f"{option.help} (as {option.flag})", type=ini_kind)


def read(config: pytest.Config) -> PluginSettings:
    """The settings from the command line, the environment and the ini file; UsageError when a
    value is unusable, naming where it came from."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw, origin = _raw(config, option)
        if raw is not None:
            values[option.name] = _PARSERS[option.kind](option, raw, origin)
    return dataclasses.replace(PluginSettings(), **values)


def _raw(config: pytest.Config, option: Option) -> tuple[Any, str]:
    given = config.getoption(f"glm_{option.name}")
    if given is not None:
        return given, option.flag
    if (env := os.environ.get(option.env)) is not None and env.strip():
        return (env.split(",") if option.kind == "list" else env.strip()), f"${option.env}"
    ini = config.getini(option.ini)
    if ini not in (None, "", []):
        return ini, f"ini {option.ini}"
    return None, ""


def _text(option: Option, raw: Any, origin: str) -> str:
    value = str(raw).strip()
    if option.choices and value not in option.choices:
        raise pytest.UsageError(f"{origin}: expected one of {', '.join(option.choices)}, got {value!r}")
    return value


def _flag(option: Option, raw: Any, origin: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise pytest.UsageError(f"{origin}: expected true or false, got {raw!r}")


def _seconds(option: Option, raw: Any, origin: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise pytest.UsageError(f"{origin}: expected a number of seconds > 0, got {raw!r}")
    return value


_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _bytes(option: Option, raw: Any, origin: str) -> int:
    text = str(raw).strip().upper().removesuffix("IB").removesuffix("B")
    unit = text[-1:] if text[-1:] in _SUFFIXES else ""
    try:
        value = int(text.removesuffix(unit)) * _SUFFIXES[unit]
    except ValueError:
        value = -1
    if value < 1024:
        raise pytest.UsageError(f"{origin}: expected a number of bytes >= 1024 (K, M, G suffixes allowed), "
                                f"got {raw!r}")
    return value


def _list(option: Option, raw: Any, origin: str) -> tuple[str, ...]:
    return tuple(str(item).strip() for item in raw if str(item).strip())


_PARSERS: dict[str, Callable[[Option, Any, str], Any]] = {
    "text": _text, "flag": _flag, "seconds": _seconds, "list": _list, "bytes": _bytes,
}
