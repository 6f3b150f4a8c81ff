"""Issue 21's "Secrets", "Gates and inputs that lie" and "Trust in the checks" findings, one row
each, in the style of tests/test_hostile_inputs.py: the command, its exit status, the line it
must give, and what must not be written (or sent).

- A server that reflects the key in another encoding (case, percent, JSON escapes, base64 at an
  offset, split over stream events): `record` against it writes transcripts that hold no form.
- A base URL with `user:pass@`: no Basic auth goes out, the password reaches no output.
- A key bound for plain http to a host that is not loopback: a warning, or with TLS required a
  usage error before anything is sent (every request goes through respx, which refuses any
  host but the twin's: no traffic leaves this machine).
- A live run without a key: with --glm-require-key a usage error, without it a clean skip.
- `compare` on rows it could not test, and on reports that lie.
- The client-bound rule on a shared machine; the checks on absent values.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from compare.conftest import make_report  # tests/ is on sys.path (rootdir-relative imports)
from test_hostile_inputs import Case, _check

from harness.cli import main
from harness.mock import GLMTwin, KeyState, Reply, TwinConfig, WireRequest, twin_router
from harness.mock.server import running_twin

ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "suites" / "contract"
KEY = "glm-hostile-0123456789abcdef.H0stileS3cretHalfForTh1sTable"
PASSWORD = "url-Passw0rd-4242"


# -- secrets: a server that reflects the key ------------------------------------------------------------
def _percent(text: str, case: str) -> str:
    return "".join(f"%{b:02{case}}" for b in text.encode())


def _escaped(text: str, every: int) -> str:
    return "".join(f"\\u{ord(c):04x}" if i % every == 0 else c for i, c in enumerate(text))


def _b64(text: str, offset: int, encode: Callable[[bytes], bytes]) -> str:
    return encode(b"{" * offset + text.encode() + b"}").decode()


# name -> (how the server writes the key into the raw JSON of its content, whether it splits it)
REFLECTIONS: dict[str, Callable[[str], str]] = {
    "upper case": str.upper,
    "lower case": str.lower,
    "percent-encoded, upper hex": lambda k: _percent(k, "X"),
    "percent-encoded, lower hex": lambda k: _percent(k, "x"),
    "JSON-escaped, every character": lambda k: _escaped(k, 1),
    "JSON-escaped, one character in three": lambda k: _escaped(k, 3),
    "base64 at byte offset 1": lambda k: _b64(k, 1, base64.b64encode),
    "base64 at byte offset 2, URL-safe": lambda k: _b64(k, 2, base64.urlsafe_b64encode),
    "split over stream events, 4 characters each": lambda k: k,
}


class ReflectingTwin(GLMTwin):
    """Puts the key it was sent into the first content of every answer, in one encoding (or
    split over events, one piece each)."""

    def __init__(self, form: str) -> None:
        super().__init__(TwinConfig(keys={KEY: KeyState.ACTIVE}))
        self.form = form
        self.reflected = 0
        self.authorizations: list[str] = []

    def handle(self, request: WireRequest) -> Reply:
        reply = super().handle(request)
        auth = next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")
        self.authorizations.append(auth)
        key = auth.partition(" ")[2]
        if key != KEY:
            return reply
        text = REFLECTIONS[self.form](key).encode()
        if reply.script is not None:
            for n, step in enumerate(reply.script):
                if b'"content":"' in step.data:
                    if self.form.startswith("split"):
                        pieces = [text[i:i + 4] for i in range(0, len(text), 4)]
                        reply.script[n:n + 1] = [dataclasses.replace(step, data=re.sub(
                            rb'"content":"(?:[^"\\]|\\.)*"', b'"content":"' + piece + b'"', step.data, count=1))
                            for piece in pieces] + [step]
                    else:
                        reply.script[n] = dataclasses.replace(
                            step, data=step.data.replace(b'"content":"', b'"content":"' + text + b" ", 1))
                    self.reflected += 1
                    break
        elif reply.body and b'"content":"' in reply.body:
            reply.body = reply.body.replace(b'"content":"', b'"content":"' + text + b" ", 1)
            self.reflected += 1
        return reply


def _lowered_unescaped(data: bytes) -> bytes:
    return re.sub(rb"%([0-9A-Fa-f]{2})|\\+u([0-9A-Fa-f]{4})",
                  lambda m: chr(int(m[1] or m[2], 16)).encode(), data).lower()


def _forms(secret: str) -> list[bytes]:
    """Every needle of `secret` this table plants, as bytes in a file."""
    found = [secret.encode(), secret.lower().encode(), secret.upper().encode()]
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            found.append(encode(b"\0" * offset + secret.encode())[4 if offset else 0:(offset + len(secret)) // 3 * 4])
    return found


def _leaks(folder: Path, *texts: str) -> list[str]:
    secret = KEY.split(".")[1]
    blobs = [(str(p.relative_to(folder)), p.read_bytes()) for p in folder.rglob("*") if p.is_file()]
    blobs += [(f"output {n}", text.encode()) for n, text in enumerate(texts)]
    found = []
    for name, data in blobs:
        plain = _lowered_unescaped(data)
        joined = b"".join(re.findall(rb'content\\*"\s*:\s*\\*"([^"\\]*)', data)).lower()
        for needle in (*_forms(KEY), *_forms(secret)):
            if needle in data:
                found.append(f"{name}: {needle!r}")
        for needle in (KEY.lower().encode(), secret.lower().encode()):
            if needle in plain or needle in joined:
                found.append(f"{name}: {needle!r} (escaped, re-cased or split)")
    return found


@pytest.mark.parametrize("form", list(REFLECTIONS))
def test_a_reflected_key_reaches_no_transcript_or_output(
        form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZAI_API_KEY", KEY)
    twin = ReflectingTwin(form)
    with running_twin(twin) as running:
        code = main(["record", "--target", "live", "--base-url", running.base_url, "--out", str(tmp_path / "out"),
                     "--scenario", "simple,stream"])
    out, err = capsys.readouterr()
    _check(Case(("record",), 0, r"^simple: ", "out"), code, out, err)
    assert twin.reflected >= 2, "the twin must really have reflected the key"
    found = _leaks(tmp_path, out, err)
    assert not found, f"the key, {form}, leaked:\n" + "\n".join(found)


def test_the_reflection_table_can_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from harness import scrub

    monkeypatch.setenv("ZAI_API_KEY", KEY)
    with running_twin(ReflectingTwin("split over stream events, 4 characters each")) as running, scrub.disabled():
        main(["record", "--target", "live", "--base-url", running.base_url, "--out", str(tmp_path / "out"),
              "--scenario", "stream"])
    capsys.readouterr()
    assert _leaks(tmp_path), "with the scrubber off the split key must be found"


# -- secrets: user:pass@ and plain http ------------------------------------------------------------------
def test_userinfo_in_the_base_url_is_never_sent_as_basic_auth_nor_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZAI_API_KEY", KEY)
    twin = ReflectingTwin("upper case")
    with running_twin(twin) as running:
        url = running.base_url.replace("http://", f"http://operator:{PASSWORD}@")
        code = main(["record", "--target", "live", "--base-url", url, "--out", str(tmp_path / "out"),
                     "--scenario", "simple"])
    out, err = capsys.readouterr()
    _check(Case(("record",), 0, r"^simple: ", "out"), code, out, err)
    assert twin.authorizations == [f"Bearer {KEY}"], "the userinfo went out in place of the key"
    written = [p for p in tmp_path.rglob("*") if p.is_file() and PASSWORD.encode() in p.read_bytes()]
    assert not written and PASSWORD not in out + err
    assert "127.0.0.1" in next((tmp_path / "out").iterdir()).read_text(), "the host is kept"


INSECURE = "http://api.example.invalid/api/paas/v4"  # never resolved: respx answers, or refuses
WARNING = r"the API key would be sent over plain http to api\.example\.invalid, which is not this machine"


@pytest.fixture
def no_network_but_the_twin() -> Iterator[GLMTwin]:
    """Every request of the process goes to respx: the twin at INSECURE answers, any other
    host is refused (assert_all_mocked), so nothing leaves this machine."""
    twin = GLMTwin(TwinConfig(keys={KEY: KeyState.ACTIVE}))
    with twin_router(twin, base_url=INSECURE):
        yield twin


def test_a_key_over_plain_http_off_this_machine_is_a_warning(
        no_network_but_the_twin: GLMTwin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZAI_API_KEY", KEY)
    code = main(["record", "--target", "live", "--base-url", INSECURE, "--out", str(tmp_path), "--scenario", "simple"])
    _, err = capsys.readouterr()
    assert code == 0 and re.search(r"^glm-harness record: warning: " + WARNING, err), err
    assert len(no_network_but_the_twin.requests) == 1


@pytest.mark.parametrize("argv", [
    ("record", "--target", "live", "--base-url", INSECURE, "--scenario", "simple"),
    ("bench", "--target", "live", "--base-url", INSECURE, "--requests", "1", "--concurrency", "1",
     "--tasks", "none", "--no-progress"),
], ids=["record", "bench"])
def test_with_tls_required_a_key_over_plain_http_is_refused_before_sending(
        argv: tuple[str, ...], no_network_but_the_twin: GLMTwin, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZAI_API_KEY", KEY)
    monkeypatch.setenv("GLM_HARNESS_REQUIRE_TLS", "1")
    out_arg = ("--out", str(tmp_path / ("x.json" if argv[0] == "bench" else "rec")))
    code = main([*argv, *out_arg])
    out, err = capsys.readouterr()
    _check(Case(argv, 2, WARNING + r".*\(TLS is required\)$"), code, out, err)
    assert len(no_network_but_the_twin.requests) == 0, "refused before anything was sent"
    assert not list(tmp_path.iterdir()), "nothing written"


def test_loopback_and_https_need_no_warning() -> None:
    from harness.targets import insecure_transport

    for url in ("http://127.0.0.1:8000/v4", "http://localhost/v4", "http://[::1]:9/v4", "http://127.9.9.9/v4",
                "https://api.z.ai/api/paas/v4", "http://user:pw@127.0.0.1/v4"):
        assert insecure_transport(url, True, True) is None, url
    assert insecure_transport(INSECURE, False, True) is None, "no key, nothing to protect"


# -- pytest: a live run without a key, and TLS required ----------------------------------------------------
PYTEST_CASES = [
    Case(("--glm-target", "live", "--glm-require-key"), 4,
         r"^ERROR: --glm-require-key: --glm-target live needs an API key in \$ZAI_API_KEY, which is not set"),
    Case(("--glm-target", "live"), 0, r"skipped", "out-grep"),  # interactive: a clean skip, with a reason
    Case(("--glm-target", "live", "--glm-base-url", INSECURE, "--glm-require-tls"), 4,
         r"^ERROR: --glm-require-tls: " + WARNING),
    Case(("--glm-target", "live", "--glm-base-url", INSECURE, "--collect-only"), 0, WARNING, "out-grep"),
]


@pytest.mark.parametrize("case", PYTEST_CASES, ids=str)
def test_pytest_live_options(case: Case, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    if "--glm-base-url" in case.argv:
        monkeypatch.setenv("ZAI_API_KEY", KEY)
    else:
        monkeypatch.delenv("ZAI_API_KEY", raising=False)
    with twin_router(GLMTwin(), base_url=INSECURE):  # refuses any other host: no traffic leaves
        result = pytester.runpytest_inprocess(str(SUITES / "test_schemas.py"), "-q", "-rs", "-p",
                                              "no:cacheprovider", *case.argv)
    _check(case, int(result.ret), "\n".join(result.outlines), "\n".join(result.errlines) + "\n")
    if case.code == 0 and "--collect-only" not in case.argv:
        outcomes = result.parseoutcomes()
        assert outcomes.get("skipped", 0) >= 1 and not outcomes.get("passed") and not outcomes.get("failed")
        assert "needs an API key in $ZAI_API_KEY, which is not set" in "\n".join(result.outlines)


def test_scheduled_live_runs_require_the_key() -> None:
    import configparser

    import yaml

    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini")
    assert "--glm-require-key" in tox["testenv:live"]["commands"]
    nightly = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yml").read_text())
    steps = nightly["jobs"]["live"]["steps"]
    assert "exit 1" in steps[0]["run"] and "::error" in steps[0]["run"], "no key fails the nightly"
    suites = next(s for s in steps if "pytest --pyargs" in s.get("run", ""))
    assert "--glm-require-key" in suites["run"]


# -- gates and inputs that lie: compare --------------------------------------------------------------------
def _report_file(root: Path, name: str, edit: Callable[[dict[str, Any]], None] | None = None, *,
                 n: int = 20, bound: bool = False) -> str:
    from harness.bench.report import write_report

    path = root / f"{name}.json"
    write_report(make_report(1 if name == "base" else 2, n=n, levels=(1,), efficiency=False), path, markdown=False)
    data = json.loads(path.read_text())
    if bound:
        for level in data["levels"]:
            level["health"] = {"cpu_percent": 99.0, "wall_s": 1.0, "loop_lag_ms": {"n": 0}, "lateness_ms": {"n": 0},
                               "client_bound": True, "reasons": ["client CPU 99% of one core"]}
    if edit is not None:
        edit(data)
    path.write_text(json.dumps(data))
    return str(path)


def _sample(value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["levels"][0]["samples"]["ttft_ms"][0] = value
    return edit


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("lies")
    made = {
        "base": _report_file(root, "base"),
        "big_base": _report_file(root, "big_base", n=120),
        "big_new": _report_file(root, "big_new", n=120),
        "bound_base": _report_file(root, "bound_base", n=120, bound=True),
        "bound_new": _report_file(root, "bound_new", n=120, bound=True),
        "nan": _report_file(root, "nan", _sample(float("nan"))),
        "inf": _report_file(root, "inf", _sample(float("inf"))),
        "negative": _report_file(root, "negative", _sample(-3.0)),
        "string": _report_file(root, "string", _sample("120.5")),
        "no_samples": _report_file(root, "no_samples", lambda d: d["levels"][0].update(
            samples={k: [] for k in d["levels"][0]["samples"]})),
    }
    # written by hand: json.dumps writes NaN and Infinity, as a lying report would
    assert "NaN" in Path(made["nan"]).read_text() and "Infinity" in Path(made["inf"]).read_text()
    return made


COMPARE_CASES = [
    Case(("compare", "{bound_base}", "{bound_new}"), 3,
         r"INCONCLUSIVE: 8 row\(s\) a --fail-on rule covers were not tested: ttft\.p50@c1, ttft\.p95@c1",
         "out-grep"),
    Case(("compare", "{base}", "{base}", "--fail-on", "ttft.p95:+10%"), 3,
         r"INCONCLUSIVE: 1 row\(s\) a --fail-on rule covers were not tested: ttft\.p95@c1 "
         r"\(not tested: p95 needs n >= 100 per side\)", "out-grep"),
    Case(("compare", "{base}", "{base}", "--fail-on", "ttft.p95:+10%", "--allow-untested"), 0,
         r"no regression beyond the --fail-on thresholds \(accepted with --allow-untested: 1 row", "out-grep"),
    Case(("compare", "{big_base}", "{big_new}", "--fail-on", "ttft.p50:+10%,ttft.p95:+10%"), 0,
         r"^no regression beyond the --fail-on thresholds; ", "out-grep"),
    Case(("compare", "{base}", "{no_samples}"), 2,
         r"no_samples\.json: invalid bench report at levels/0: level c1 claims 20 successful request\(s\) "
         r"but holds no samples$"),
    Case(("compare", "{base}", "{nan}"), 2,
         r"nan\.json: invalid bench report at levels/0/samples/ttft_ms/0 is nan: NaN and Infinity are not "
         r"measurements$"),
    Case(("compare", "{inf}", "{base}"), 2, r"inf\.json: invalid bench report at levels/0/samples/ttft_ms/0 is inf"),
    Case(("compare", "{base}", "{negative}"), 2,
         r"negative\.json: invalid bench report at levels/0/samples/ttft_ms: a negative value \(-3\)$"),
    Case(("compare", "{base}", "{string}"), 2,
         r"string\.json: invalid bench report at levels/0/samples/ttft_ms/0: Input should be a valid number"),
    Case(("plot", "{nan}"), 2, r"nan\.json: invalid bench report at levels/0/samples/ttft_ms/0 is nan"),
]


@pytest.mark.parametrize("case", COMPARE_CASES, ids=str)
def test_compare_input(case: Case, reports: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main([arg.format(**reports) for arg in case.argv])
    out, err = capsys.readouterr()
    _check(case, code, out, err)
    if case.code == 3:  # the line says why (the terminal table may wrap it)
        why = r"\((client-bound in base and new|not tested: p95 needs n >= 100 per side)"
        assert re.search(why, " ".join(out.split())), out


# -- the client-bound rule on a shared machine --------------------------------------------------------------
def test_a_shared_machine_does_not_make_every_level_client_bound() -> None:
    from harness.bench.health import HealthMonitor

    monitor = HealthMonitor()
    monitor._wall0, monitor._wall1, monitor._cpu0, monitor._cpu1 = 0.0, 10.0, 0.0, 0.4
    monitor.lags_ms = [1.0, 25.0, 40.0, 70.0] * 250  # late by tens of ms: other work holds the CPU
    monitor.own_lags_ms = [0.2, 0.4, 0.5, 0.9] * 250  # the client's own work: under a ms
    monitor.waited_s = 4.0
    health = monitor.report([2.0] * 50, succeeded=50)
    assert not health.client_bound
    assert health.reasons == [
        "not client-bound: event-loop lag p99 70.0 ms, of which the client's own work 0.9 ms: other processes "
        "held the CPU (the loop waited for a CPU 40% of the level)"]


# -- trust in the checks: absent values, one finding per rule ---------------------------------------------
@pytest.fixture
def real_exchanges(monkeypatch: pytest.MonkeyPatch) -> Any:
    """tests/checks/check_exchanges.py: real GLM exchanges to change one thing in."""
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "checks"))
    import check_exchanges

    return check_exchanges


def test_a_tool_call_without_its_index_is_a_violation(real_exchanges: Any) -> None:
    from harness.checks import Expect, run_checks

    answer = real_exchanges.answer

    def drop(body: dict[str, Any]) -> None:
        del body["choices"][0]["message"]["tool_calls"][0]["index"]

    found = [v.line() for v in run_checks(answer("tool", drop), Expect(tool_calls=("weather",)))]
    assert found == ["[tool_call_conformance] tool_calls[0].index: expected the call's index (clients place "
                     "each call by it); got none"]


def test_a_stream_without_usage_is_reported_once(real_exchanges: Any) -> None:
    from harness.checks import run_checks

    stream = real_exchanges.stream

    found = [(v.check, v.rule) for v in run_checks(stream("simple_streaming", lambda c: c[-1].pop("usage")))]
    assert [f for f in found if "usage" in f[0] + f[1]] == [("stream_invariants", "missing_usage")]
