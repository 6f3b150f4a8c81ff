"""Run the contract suites at a live OpenAI-compatible server the way a user would, for the
scripts that check a server nobody here wrote (llama_server.py, third_party_mock.py)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

KEY_ENV = "SELF_HOSTED_KEY"  # such servers take any key; the harness wants one named
# A key that no answer contains: every artifact is scrubbed of the key, and "none" would turn
# "None" and "nonexistent" in the reports into "<scrubbed>".
KEY = "self-hosted-placeholder-key"


@contextlib.contextmanager
def serving(command: list[str], port: int, *, name: str, probe: str, log: Path, within_s: float,
            env: dict[str, str] | None = None) -> Iterator[str]:
    """Start `command` (a server on 127.0.0.1:`port`, its output to `log`), wait until `probe`
    answers 200, yield its OpenAI base URL, stop it; one line and exit if it dies or stays
    silent."""
    with log.open("w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_answering(proc, base + probe, name, log, within_s)
            yield base + "/v1"
        finally:
            proc.terminate()
            proc.wait(10)


def _wait_until_answering(proc: subprocess.Popen[bytes], probe: str, name: str, log: Path,
                          within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(probe, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"error: {name} exited; see {log}")
        time.sleep(0.5)
    raise SystemExit(f"error: {name} did not answer {probe} within {within_s:g} s; see {log}")


def run_suites(base: str, model: str, out: Path, read_timeout: float = 120) -> int:
    """`pytest suites` with the openai-compatible profile; the output goes to out/suites.txt,
    the report to out/contract.json (conformance summary included). Prints the exit code, the
    wall time and pytest's tally, and returns the exit code."""
    started = time.monotonic()
    suites = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q", "-rfs",
         "--glm-target", "live", "--glm-base-url", base, "--glm-model", model,
         "--glm-api-key-env", KEY_ENV, "--glm-profile", "openai-compatible",
         "--glm-read-timeout", str(read_timeout), "-m", "not glm_live_cost",
         "--glm-report", str(out / "contract.json")],
        env={**os.environ, KEY_ENV: KEY}, capture_output=True, text=True)
    (out / "suites.txt").write_text(suites.stdout + suites.stderr)
    lines = suites.stdout.strip().splitlines()
    print(f"suites exit {suites.returncode} in {time.monotonic() - started:.0f} s: "
          f"{lines[-1] if lines else 'no output'}; output in {out / 'suites.txt'}")
    return suites.returncode


def summary(out: Path) -> str:
    """The conformance summary as pytest printed it (also `conformance` in contract.json)."""
    text = (out / "suites.txt").read_text()
    start = text.find("glm-harness conformance summary")
    if start < 0:
        return "no conformance summary (no answer was checked)"
    block = text[text.rfind("\n", 0, start) + 1:]
    return block.split("\n=", 1)[0]
