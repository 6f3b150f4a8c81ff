"""`glm-harness record`: send a few representative requests and save each exchange as a
scrubbed transcript (fixtures/transcripts/ by default), ready to replay offline.

Against `--target mock` (the default) it records the embedded twin in-process: no key, no
network, useful for tests and demos. Against `--target live` it spends a few hundred tokens.

`record_sends(client, out, ...)` is the same recorder for `pytest --record DIR`: it makes a
`GLMClient` save every exchange it sends.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._argtypes import at_least, http_url, output_dir
from .client import Exchange, GLMClient
from .contract import DEFAULT_MODEL
from .errors import UsageError
from .scrub import SENSITIVE_CHOICES, Scrubber, parse_fields
from .targets import (
    DEFAULT_KEY_ENV,
    LIVE_BASE_URL,
    MOCK_BASE_URL,
    Target,
    insecure_transport,
    live_target,
    mock_target,
)
from .transcript import from_exchange, save

PROG = "glm-harness record"
DEFAULT_OUT = Path("fixtures/transcripts")
SMALL = 64

_WEATHER = {"type": "function", "function": {
    "name": "weather", "description": "Get weather information for a location",
    "parameters": {"type": "object", "properties": {"location": {"type": "string", "description": "the city"}},
                   "required": ["location"]}}}
_ADD, _MULTIPLY = ({"type": "function", "function": {
    "name": name, "description": f"{verb} two numbers",
    "parameters": {"type": "object", "properties": {"a": {"type": "integer", "description": "first number"},
                                                    "b": {"type": "integer", "description": "second number"}},
                   "required": ["a", "b"]}}} for name, verb in (("add", "Add"), ("multiply", "Multiply")))
_PARALLEL = ("Add and multiply the numbers 2 and 3. CRITICAL: call both the add and the multiply "
             "tools at the same time.")


def _ask(text: str, **params: Any) -> dict[str, Any]:
    return {"messages": [{"role": "system", "content": "You are a helpful assistant"},
                         {"role": "user", "content": text}], **params}


def _quiet(text: str, **params: Any) -> dict[str, Any]:
    return _ask(text, **{"max_tokens": SMALL, "thinking": {"type": "disabled"}, **params})


# scenario -> [(name, request body)]; cheap on purpose: a live run pays for every token
SCENARIOS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "simple": [("simple", _quiet("Say hello in five words."))],
    "stream": [("stream", _quiet("Count from one to ten in words.", stream=True))],
    "thinking": [("thinking", _ask("What is 17 * 23? Answer with the number.", stream=True,
                                   max_tokens=512, thinking={"type": "enabled"}))],
    "tool": [("tool", _ask("What's the weather in Florence, Italy?", tools=[_WEATHER],
                           tool_choice="auto", max_tokens=1024)),
             ("parallel_tools", _ask(_PARALLEL, tools=[_ADD, _MULTIPLY], tool_choice="auto",
                                     max_tokens=1024))],
    "tool_stream": [("tool_stream", _ask(_PARALLEL, tools=[_ADD, _MULTIPLY], tool_choice="auto",
                                         max_tokens=1024, stream=True))],
    "error": [("error", _quiet("Say hello.", temperature=7))],
}


# -- the recorder (record command and pytest --record) --------------------------------------------
# An answer cut off at a size bound (harness.limits) is saved with its first bytes only: the rest is
# what the bound refused to hold, and a transcript of it (escaped, scrubbed) would cost many times more.
TRANSCRIPT_KEEP_BYTES = 1 << 20


def kept_for_transcript(exchange: Exchange) -> Exchange:
    error = exchange.transport_error
    if error is None or error.name not in ("ResponseTooLarge", "EventTooLarge"):
        return exchange
    chunks, size = [], 0
    for at, data in exchange.chunks:
        if size >= TRANSCRIPT_KEEP_BYTES:
            break
        chunks.append((at, data[:TRANSCRIPT_KEEP_BYTES - size]))
        size += len(chunks[-1][1])
    return dataclasses.replace(exchange, chunks=chunks)


def record_sends(client: GLMClient, out: str | Path, scenario: str | None = None,
                 sensitive: str | frozenset[str] | None = None) -> GLMClient:
    """Make `client` save each finished exchange as a transcript in `out`, scrubbed of the
    target's key (and $ZAI_API_KEY) and of the `sensitive` fields."""
    scrubber = Scrubber.for_target(client.target, parse_fields(sensitive))

    def keep(exchange: Exchange) -> None:
        save(from_exchange(kept_for_transcript(exchange), scrubber, scenario), out)

    client.on_exchange = keep
    return client


# -- the command ---------------------------------------------------------------------------------
def _fields(text: str) -> frozenset[str]:
    fields = parse_fields(text)
    unknown = sorted(fields - set(SENSITIVE_CHOICES))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown field(s) {', '.join(unknown)}; choose from {', '.join(SENSITIVE_CHOICES)}")
    return fields


def _scenarios(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if "all" in names:
        return list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown scenario {', '.join(unknown) or text!r}; choose from {', '.join(SCENARIOS)}, all")
    return names


def add_record_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add = parser.add_argument
    add("--target", choices=("mock", "live"), default="mock",
        help="mock: the embedded twin (default, no key); live: the API at --base-url")
    add("--base-url", type=http_url, default=None, help=f"API base URL for --target live (default {LIVE_BASE_URL})")
    add("--model", default=DEFAULT_MODEL, help="model to call (default: %(default)s)")
    add("--api-key-env", default=DEFAULT_KEY_ENV, help="environment variable holding the key")
    add("--out", type=output_dir(), default=DEFAULT_OUT,
        help="directory for the transcripts (default: %(default)s)")
    add("--scenario", type=_scenarios, default=list(SCENARIOS), metavar="NAME[,NAME...]",
        help=f"what to record: {', '.join(SCENARIOS)} or all (default: all)")
    add("--sensitive", type=_fields, default=frozenset(), metavar="FIELD[,FIELD...]",
        help="request fields whose values are scrubbed wherever they appear: user_id, request_id")
    add("--user-id", default=None, help="send this user_id with every request")
    add("--request-id", default=None,
        help="send request_id=<this>-<scenario> with every request (GLM echoes it)")
    add("--ttft-ms", type=at_least(float, 0), default=50.0,
        help="the mock's time to first token (default: %(default)s)")
    add("--itl-ms", type=at_least(float, 0), default=10.0,
        help="the mock's inter-token gap (default: %(default)s)")
    return parser


def _target(args: argparse.Namespace) -> Target:
    if args.target == "mock":
        return mock_target(args.model)
    target = live_target(args.base_url or LIVE_BASE_URL, args.model, args.api_key_env)
    if warning := insecure_transport(target.base_url, bool(target.api_key)):  # raises if TLS is required
        print(f"glm-harness record: warning: {warning}", file=sys.stderr)
    if not target.api_key:
        raise UsageError(f"--target live needs an API key in ${args.api_key_env}, which is not set")
    return target


@contextlib.contextmanager
def _embedded_twin(args: argparse.Namespace) -> Iterator[None]:
    from .mock import GLMTwin, Timing, TwinConfig, twin_router

    timing = Timing(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, jitter=0.3, seed=1)
    with twin_router(GLMTwin(TwinConfig(timing=timing)), base_url=MOCK_BASE_URL):
        yield


def run_record(args: argparse.Namespace) -> int:
    try:
        target = _target(args)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    failed = 0
    with contextlib.ExitStack() as stack:
        if target.kind == "mock":
            stack.enter_context(_embedded_twin(args))
        client = stack.enter_context(GLMClient(target))
        scrubber = Scrubber.for_target(target, args.sensitive, env_names=(args.api_key_env,))
        for scenario in args.scenario:
            for name, body in SCENARIOS[scenario]:
                request = dict(body)
                if args.user_id:
                    request["user_id"] = args.user_id
                if args.request_id:
                    request["request_id"] = f"{args.request_id}-{name}"
                exchange = client.send(request)
                path = save(from_exchange(kept_for_transcript(exchange), scrubber, name), args.out)
                outcome = (f"HTTP {exchange.status}" if exchange.status is not None
                           else f"no response: {scrubber.scrub_text(str(exchange.transport_error or '?'))}")
                if exchange.transport_error and exchange.status is not None:
                    outcome += f", then {scrubber.scrub_text(str(exchange.transport_error))}"
                failed += exchange.transport_error is not None
                print(f"{name}: {outcome}, {len(exchange.chunks)} chunk(s) -> {path}")
    if failed:
        print(f"{PROG}: {failed} exchange(s) ended in a transport error (recorded as such)", file=sys.stderr)
    return 1 if failed else 0


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.record [options]` (the CLI's `glm-harness record`)."""
    parser = add_record_arguments(_OneLineParser(prog=PROG, description=__doc__.splitlines()[0]))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    return run_record(args)


if __name__ == "__main__":
    sys.exit(main())
