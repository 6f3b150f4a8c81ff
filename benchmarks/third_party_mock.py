"""Check a third-party OpenAI-compatible mock server with the openai-compatible profile.

    python benchmarks/third_party_mock.py --python /tmp/mockllm-venv/bin/python [--out reports/mockllm]

The server is MockLLM (PyPI `mockllm`, StacklokLabs; tried with 0.0.8): a FastAPI app that
answers /v1/chat/completions from a YAML file of canned answers, streaming one character per
chunk. Install it into a venv of its own, not the project's (`python -m venv /tmp/mockllm-venv &&
/tmp/mockllm-venv/bin/pip install mockllm`) and pass that venv's python. The script serves its
app with that venv's uvicorn on 127.0.0.1 (`mockllm start` would also watch the working directory
for changes, a reloader process this run does not need), runs the contract suites (`--glm-target
live --glm-profile openai-compatible`, report in OUT/contract.json, output in OUT/suites.txt) and
prints the conformance summary: which rules the server meets and which it breaks. Exits with the
suites' exit code (1 when a rule is broken), 2 when the server does not start.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from _suites import run_suites, serving, summary

ANSWERS = """\
responses:
  "Say hi": "Hi!"
defaults:
  unknown_response: "I don't know the answer to that."
settings:
  lag_enabled: false
"""


@contextlib.contextmanager
def _server(python: str, port: int, out: Path) -> Iterator[str]:
    answers = out / "responses.yml"
    answers.write_text(ANSWERS)
    with serving([python, "-m", "uvicorn", "mockllm.server:app", "--host", "127.0.0.1", "--port", str(port)],
                 port, name="mockllm", probe="/models", log=out / "mockllm.log", within_s=60,
                 env={**os.environ, "MOCKLLM_RESPONSES_FILE": str(answers)}) as base:
        yield base


def _version(python: str) -> str:
    found = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('mockllm'))"],
                           capture_output=True, text=True)
    if found.returncode:
        raise SystemExit(f"error: no mockllm in {python}: pip install mockllm into that venv")
    return found.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", required=True, help="the python of a venv with mockllm installed")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--model", default="gpt-4o-mini", help="a model the mock lists")
    parser.add_argument("--out", type=Path, default=Path("reports/mockllm"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        print(f"mockllm {_version(args.python)}")
        with _server(args.python, args.port, args.out) as base:
            code = run_suites(base, args.model, args.out, read_timeout=30)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    print(summary(args.out))
    return code


if __name__ == "__main__":
    sys.exit(main())
