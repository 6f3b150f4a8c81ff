"""What each official Python client does on a 429, with its default `max_retries`: how many
requests it sends, how long it waits between them, and how the call ends.

Run: ``python benchmarks/client_429_behaviour.py [--zhipuai-python PATH] [--json OUT]``

The twin runs over HTTP in this process and stamps each request as it arrives (server side, so a
client in another process, zhipuai, is measured the same way). Each scenario uses a short window
(1 request per 2 s) so a client that waits long enough gets through:

- ``1302``: rate limit, no ``Retry-After`` (what the real API sends, as far as it is recorded);
- ``1302+RA``: the same with ``Retry-After`` (the twin's ``--retry-after``);
- ``1113``: balance empty, a 429 that must never be retried (no ``Retry-After``).

Each client first spends the window with one call (``max_retries=0``), then makes the measured
call with its default retries. ``zhipuai`` pins ``pyjwt<2.9``, which zai-sdk cannot share, so it
runs from its own environment: ``python -m venv /tmp/zhipuai-venv &&
/tmp/zhipuai-venv/bin/pip install zhipuai sniffio`` (zhipuai 2.1.5 imports sniffio without
declaring it), then ``--zhipuai-python /tmp/zhipuai-venv/bin/python``
(or ``ZHIPUAI_PYTHON``); it is skipped when neither is given and /tmp/zhipuai-venv is absent.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.mock import EMPTY_BALANCE_KEY, TWIN_KEY, GLMTwin, Limits, TwinConfig
from harness.mock.engine import Reply, WireRequest
from harness.mock.server import running_twin

MODEL = "glm-4.6"
UNKNOWN_KEY = "00000000000000000000000000000000.glmHarnessNoSuchKey"
DEFAULT_ZHIPUAI_PYTHON = Path("/tmp/zhipuai-venv/bin/python")
HELLO = [{"role": "user", "content": "Say hi"}]

SCENARIOS: dict[str, tuple[Limits, str]] = {
    "1302": (Limits(requests=1, per_seconds=2), TWIN_KEY),
    "1302+RA": (Limits(requests=1, per_seconds=2, retry_after=True), TWIN_KEY),
    "1113": (Limits(), EMPTY_BALANCE_KEY),
}


class StampingTwin(GLMTwin):
    """The twin, noting when each request arrives (time.monotonic)."""

    def __init__(self, config: TwinConfig) -> None:
        super().__init__(config)
        self.arrivals: list[float] = []

    def handle(self, request: WireRequest) -> Reply:
        self.arrivals.append(time.monotonic())
        return super().handle(request)


@dataclass
class Row:
    client: str
    scenario: str
    attempts: int
    gaps_s: list[float]
    outcome: str

    def markdown(self) -> str:
        gaps = ", ".join(f"{g:.2f}" for g in self.gaps_s) or "-"
        return f"| {self.client} | {self.scenario} | {self.attempts} | {gaps} | {self.outcome} |"


# -- the in-process clients -------------------------------------------------------------------------
def _openai_call(base_url: str, key: str, max_retries: int | None) -> str:
    import openai

    kwargs = {} if max_retries is None else {"max_retries": max_retries}
    with openai.OpenAI(base_url=base_url, api_key=key, **kwargs) as sdk:
        try:
            sdk.chat.completions.create(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
        except openai.APIError as error:
            return type(error).__name__
    return "ok"


def _zai_call(base_url: str, key: str, max_retries: int | None) -> str:
    import zai
    from zai.core import ZaiError

    kwargs = {} if max_retries is None else {"max_retries": max_retries}
    with zai.ZaiClient(base_url=base_url, api_key=key, **kwargs) as sdk:
        try:
            sdk.chat.completions.create(model=MODEL, messages=HELLO)
        except ZaiError as error:
            return type(error).__name__
    return "ok"


# -- zhipuai, in its own interpreter ---------------------------------------------------------------
ZHIPUAI_SCRIPT = r'''
import json, sys
from zhipuai import ZhipuAI
from zhipuai.core import ZhipuAIError

cfg = json.loads(sys.argv[1])
base, key, model = cfg["base_url"], cfg["key"], cfg["model"]
hello = [{"role": "user", "content": "Say hi"}]


def client(k=key, **kw):
    return ZhipuAI(api_key=k, base_url=base, **kw)


def outcome(fn):
    try:
        fn()
    except ZhipuAIError as e:
        return type(e).__name__
    return None


def ask(sdk, **kw):
    return sdk.chat.completions.create(**{"model": model, "messages": hello, **kw})


if cfg["mode"] == "call":
    outcome(lambda: ask(client(max_retries=0)))
    print(json.dumps({"outcome": outcome(lambda: ask(client())) or "ok"}))
    sys.exit(0)

result = {}
sdk = client(max_retries=0)
plain = sdk.chat.completions.create(model=model, messages=hello, temperature=1.0, top_p=1.0)
result["plain"] = {"content": plain.choices[0].message.content, "finish_reason": plain.choices[0].finish_reason}
chunks = list(sdk.chat.completions.create(model=model, messages=hello, stream=True))
result["stream"] = {"chunks": len(chunks), "usage": chunks[-1].usage is not None,
                    "content": "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)}
thought = sdk.chat.completions.create(model=model, messages=hello, thinking={"type": "enabled"})
result["thinking"] = {"reasoning": bool(getattr(thought.choices[0].message, "reasoning_content", None))}
tools = [{"type": "function", "function": {"name": n, "description": n,
          "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                         "required": ["a", "b"]}}} for n in ("add", "multiply")]
parallel = sdk.chat.completions.create(model=model, tools=tools, messages=[
    {"role": "user", "content": "Add and multiply 2 and 3 with the add and multiply tools"}])
result["parallel"] = {"names": [c.function.name for c in parallel.choices[0].message.tool_calls or []]}
result["errors"] = {
    "400": outcome(lambda: ask(sdk, model="glm-nonexistent")),
    "401": outcome(lambda: ask(client(cfg["unknown_key"], max_retries=0))),
    "429": outcome(lambda: ask(client(cfg["empty_key"], max_retries=0))),
}
result["jwt"] = {"error": outcome(lambda: ask(client(max_retries=0, disable_token_cache=False)))}
print(json.dumps(result))
'''


def zhipuai_probe(python: str | Path, base_url: str, key: str, mode: str) -> dict[str, Any]:
    """Run the zhipuai script in `python`; `mode` "features" (plain, stream, thinking, tools,
    errors, JWT) or "call" (spend the window, then one call with default retries)."""
    cfg = {"base_url": base_url, "key": key, "model": MODEL, "mode": mode,
           "unknown_key": UNKNOWN_KEY, "empty_key": EMPTY_BALANCE_KEY}
    done = subprocess.run([str(python), "-c", ZHIPUAI_SCRIPT, json.dumps(cfg)], capture_output=True,
                          text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"zhipuai probe failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- measuring ------------------------------------------------------------------------------------
def measure(client: str, scenario: str, zhipuai_python: Path | None = None) -> Row:
    limits, key = SCENARIOS[scenario]
    twin = StampingTwin(TwinConfig(limits=limits))
    with running_twin(twin) as running:
        if client == "zhipuai":
            assert zhipuai_python is not None
            try:
                outcome = zhipuai_probe(zhipuai_python, running.base_url, key, "call")["outcome"]
            except RuntimeError as error:
                outcome = str(error).splitlines()[-1]
        else:
            call = _openai_call if client == "openai" else _zai_call
            call(running.base_url, key, 0)  # spend the window
            outcome = call(running.base_url, key, None)
    arrivals = twin.arrivals[1:]
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(arrivals)]
    return Row(client, scenario, len(arrivals), gaps, outcome)


def _zhipuai_python(given: str | None) -> Path | None:
    for candidate in (given, os.environ.get("ZHIPUAI_PYTHON"), DEFAULT_ZHIPUAI_PYTHON):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zhipuai-python", default=None, help="python of an environment with zhipuai")
    parser.add_argument("--json", default=None, metavar="OUT", help="also write the rows as JSON")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), default=None)
    args = parser.parse_args(argv)
    zhipuai_python = _zhipuai_python(args.zhipuai_python)
    clients = ["openai", "zai-sdk"] + (["zhipuai"] if zhipuai_python else [])
    if not zhipuai_python:
        print("zhipuai: skipped (no --zhipuai-python, ZHIPUAI_PYTHON or /tmp/zhipuai-venv)", file=sys.stderr)
    rows = []
    print("| client | 429 | requests sent | gaps between them (s) | outcome |")
    print("|---|---|---|---|---|")
    for scenario in args.scenario or list(SCENARIOS):
        for client in clients:
            row = measure(client, scenario, zhipuai_python)
            rows.append(row)
            print(row.markdown(), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
