"""`glm-harness report`: the page's content, its escaping, its scrubbing, bad input, and the
nightly's trend page from three synthetic nights of two models. What a browser makes of the page
is tests/compare/test_report_page_browser.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.cli import main
from harness.page._text import POLICY

from .conftest import contract_doc, make_report

Write = Callable[..., Path]
FAILING = {"suites/contract/test_streaming.py::test_stream_conforms": "failed",
           "suites/contract/test_errors.py::test_unknown_model_is_1211": "failed",
           "suites/contract/test_schemas.py::test_answer_conforms": "passed"}
CHECKS = {"suites/contract/test_streaming.py::test_stream_conforms": ["stream_invariants"],
          "suites/contract/test_errors.py::test_unknown_model_is_1211": ["error_body_conformance"]}


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["report", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def two_runs(write: Write) -> tuple[Path, Path, Path]:
    """A base run, the same twin 40% slower to its first token, and a contract run with two failures."""
    base = write("base.json", make_report(1, n=60, tokens=12, levels=(1, 4)))
    slow = write("slow.json", make_report(2, n=60, tokens=12, levels=(1, 4), ttft_ms=170))
    contract = write("contract.json", contract_doc(FAILING, CHECKS))
    return base, slow, contract


def test_the_page_shows_the_regressed_metrics_and_the_contract_failures(
        two_runs: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, slow, contract = two_runs
    out = tmp_path / "page.html"
    code, said, err = report(capsys, str(base), str(slow), str(contract), "--out", str(out))
    assert (code, err) == (0, "")
    assert said.startswith(f"{out} (") and said.rstrip().endswith("KB)")
    page = out.read_text(encoding="utf-8")
    regressed = set(re.findall(r'data-metric="([^"]+)" data-scope="([^"]+)" data-verdict="worse"', page))
    assert {("ttft.p50", "c1"), ("ttft.p50", "c4")} <= regressed
    assert 'data-verdict="failed"' in page  # the comparison's headline: a regression beyond thresholds
    for nodeid in (n for n, o in FAILING.items() if o == "failed"):
        assert nodeid in page
    assert ">stream_invariants<" in page and ">error_body_conformance<" in page
    assert "test_answer_conforms" not in page.split('class="failures"')[1]  # passed: not a failure
    parsed = Elements(page)
    assert len(parsed.named("figure")) >= 6 + 2  # 3 CDFs per level, 2 throughput charts
    assert all(svg.get("role") == "img" and svg.get("aria-label") for svg in parsed.named("svg"))
    assert len(parsed.named("table")) >= 4


def test_the_page_is_self_contained(two_runs: tuple[Path, Path, Path], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "page.html"
    assert report(capsys, *map(str, two_runs), "--out", str(out))[0] == 0
    page = out.read_text(encoding="utf-8")
    parsed = Elements(page)
    links = [attrs[a] for _, attrs in parsed.tags for a in ("src", "href", "xlink:href", "action", "data")
             if attrs.get(a) is not None]
    assert links and all(str(link).startswith("#") for link in links), links
    assert "url(" not in page and "@import" not in page
    assert parsed.named("meta")[1] == {"http-equiv": "Content-Security-Policy", "content": POLICY}
    assert "default-src 'none'" in POLICY and "unsafe-inline" not in POLICY
    assert len(parsed.named("script")) == 1 and len(parsed.named("style")) == 1


def test_a_typical_two_level_run_stays_under_2_mb(write: Write, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # 200 measured requests of 64 tokens per level (the nightly measures 24): 12,600 chunk gaps
    # per level; a chart draws at most svg.MAX_POINTS of them per series, so the page stays small
    base = write("base.json", make_report(1, n=200, tokens=64, levels=(1, 8)))
    new = write("new.json", make_report(2, n=200, tokens=64, levels=(1, 8), ttft_ms=150))
    out = tmp_path / "page.html"
    assert report(capsys, str(base), str(new), "--out", str(out))[0] == 0
    assert out.stat().st_size < 2 * 2**20


HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def test_report_contents_are_text_never_markup(write: Write, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    bench = make_report(1, n=30, tokens=8, levels=(1,), model=f"glm{HOSTILE}",
                        task_ids=(f"task{HOSTILE}", "b"))
    bench.notes.append(f"note {HOSTILE}")
    doc = contract_doc({f"suites/x.py::test{HOSTILE}": "failed"}, {f"suites/x.py::test{HOSTILE}": [f"c{HOSTILE}"]},
                       model=f"glm{HOSTILE}")
    doc["tests"][0]["message"] = f"</pre></td></table>{HOSTILE}"
    doc["tests"][0]["violations"] = [f"[c] {HOSTILE}\n    reproduce: curl {HOSTILE}"]
    proxy = {"exchanges": [{"model": HOSTILE, "status": 200}]}
    agent = {"model": HOSTILE, "tasks": [{"id": HOSTILE, "solved": True, "usage": {"input_tokens": 3}}]}
    paths = [write("bench.json", bench), write("contract.json", doc), write("proxy.json", proxy),
             write("agent.json", agent)]
    out = tmp_path / "page.html"
    assert report(capsys, *map(str, paths), "--out", str(out), "--title", HOSTILE)[0] == 0
    page = out.read_text(encoding="utf-8")
    parsed = Elements(page)
    assert len(parsed.named("script")) == 1 and not parsed.named("img")
    assert not [attrs for _, attrs in parsed.tags if any(name.startswith("on") for name in attrs)]
    text = "".join(parsed.text)
    assert text.count("<script>alert(1)</script>") >= 6  # shown, as text, wherever it was
    assert "alert(1)" not in page.replace("&lt;script&gt;alert(1)&lt;/script&gt;", "")


def test_non_finite_numbers_are_bad_input(write: Write, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """JSON as Python reads it may hold NaN and Infinity: a report that does is refused in one
    line, as compare refuses it (issue 21), and no page is written."""
    docs = [make_report(seed, n=30, tokens=8, levels=(1, 4)).model_dump(mode="json") for seed in (1, 2)]
    docs[0]["levels"][0]["samples"]["ttft_ms"][0] = float("inf")
    paths = [str(write(f"r{i}.json", d)) for i, d in enumerate(docs)]
    for argv in ((*paths, "--out", str(tmp_path / "p.html")), ("--trend", *paths, "--out", str(tmp_path / "t.html"))):
        code, _, err = report(capsys, *argv)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "r0.json" in err, err
        assert re.search(r"(?i)infinity|non-finite|not a finite", err), err
    assert not (tmp_path / "p.html").exists() and not (tmp_path / "t.html").exists()


PLANTED = "0123456789abcdef0123456789abcdef.PlantedSecretHalf1234"


def test_the_key_never_reaches_the_page(write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZAI_API_KEY", PLANTED)
    doc = contract_doc({"suites/x.py::test_a": "failed"}, {"suites/x.py::test_a": ["status_code_conformance"]})
    doc["tests"][0]["violations"] = [f"[status_code_conformance] got 401\n    reproduce: curl -H "
                                     f"'Authorization: Bearer {PLANTED}'"]
    doc["model"] = f"glm {PLANTED}"
    out = tmp_path / "page.html"
    assert report(capsys, str(write("contract.json", doc)), "--out", str(out))[0] == 0
    page = out.read_text(encoding="utf-8")
    assert PLANTED not in page and "PlantedSecretHalf1234" not in page
    assert "&lt;scrubbed&gt;" in page


def test_compare_results_proxy_and_agent_reports_are_shown(
        two_runs: tuple[Path, Path, Path], write: Write, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    base, slow, _ = two_runs
    result = tmp_path / "compare.json"
    assert main(["compare", "--resamples", "300", str(base), str(slow), "--json", str(result),
                 "--format", "json"]) == 1
    compared = json.loads(result.read_text())
    proxy = write("proxy.json", {"kind": "glm-harness.proxy", "exchanges": [
        {"surface": "anthropic", "status": 200, "ttft_ms": 81.5}, {"surface": "openai", "status": 429}]})
    agent = write("agent.json", {"kind": "glm-harness.agent-bench", "model": "glm-5", "tasks": [
        {"task_id": "fix-bug", "solved": True, "usage": {"input_tokens": 1200, "output_tokens": 340}},
        {"task_id": "add-test", "solved": False, "usage": {"input_tokens": 900, "output_tokens": 120}}]})
    capsys.readouterr()
    out = tmp_path / "page.html"
    assert report(capsys, str(result), str(proxy), str(agent), "--out", str(out))[0] == 0
    page = out.read_text(encoding="utf-8")
    worse = {(r["metric"], r["scope"]) for r in compared["comparisons"][0]["rows"] if r["verdict"] == "worse"}
    shown = set(re.findall(r'data-metric="([^"]+)" data-scope="([^"]+)" data-verdict="worse"', page))
    assert worse and shown == worse
    assert "2 exchange(s)" in page and "anthropic" in page and "81.5" in page
    assert "1 of 2 task(s) solved" in page and "usage.output_tokens" in page and "1,200" in page


@pytest.mark.parametrize(("content", "said"), [
    (None, "no such file"),
    ("{", "not a JSON report"),
    ("[1]", "the JSON is not an object"),
    ('{"kind": "something"}', "not a report glm-harness can show (kind 'something'"),
    ('{"kind": "glm-harness.bench", "schema_version": "9"}', "bench report schema version '9'"),
    ('{"tasks": []}', "not a report glm-harness can show"),
    ('{"kind": "glm-harness.compare", "comparisons": 3}', "without a list of comparisons"),
])
def test_bad_input_is_one_line_and_exit_2(content: str | None, said: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.json"
    if content is not None:
        path.write_text(content)
    code, out, err = report(capsys, str(path), "--out", str(tmp_path / "p.html"))
    assert code == 2 and out == "" and said in err and err.count("\n") == 1
    assert not (tmp_path / "p.html").exists()


def test_an_output_that_is_a_folder_or_not_html_is_refused(two_runs: tuple[Path, Path, Path], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dir.html").mkdir()
    for out, said in ((tmp_path / "dir.html", "it is a directory"), (tmp_path / "page.txt", "must end in .html")):
        code, _, err = report(capsys, str(two_runs[0]), "--out", str(out))
        assert code == 2 and said in err and err.count("\n") == 1


def test_without_out_the_page_goes_next_to_the_first_report(two_runs: tuple[Path, Path, Path],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert report(capsys, str(two_runs[2]))[0] == 0
    assert (two_runs[2].parent / "report.html").is_file()


# -- the nightly's trend page -------------------------------------------------------------------------
NIGHTS = ("2026-11-01", "2026-11-02", "2026-11-03")


def three_nights(write: Write) -> list[Path]:
    """Two models over three nights; glm-5's third night is 50% slower to its first token and
    breaks one more contract test."""
    paths = []
    for index, night in enumerate(NIGHTS):
        for model, slow in (("glm-4.6", False), ("glm-5", index == 2)):
            started = f"{night}T03:17:00.000Z"
            bench = make_report(10 * index + len(model), model=model, n=60, tokens=12, levels=(1, 4),
                                ttft_ms=180 if slow else 120, started_at=started)
            outcomes = {f"suites/contract/t.py::test_{i}": "passed" for i in range(8)}
            if slow:
                outcomes["suites/contract/t.py::test_3"] = "failed"
            contract = contract_doc(outcomes, model=model, started_at=started)
            paths += [write(f"bench-{model}-{night}.json", bench), write(f"contract-{model}-{night}.json", contract)]
    return paths


def test_the_trend_page_from_three_nights_of_two_models(write: Write, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "trend.html"
    code, _, err = report(capsys, "--trend", *map(str, three_nights(write)), "--out", str(out))
    assert (code, err) == (0, "")
    page = out.read_text(encoding="utf-8")
    verdicts = dict(((m, k), v) for m, k, v in re.findall(
        r'<tr data-model="([^"]+)" data-kind="([^"]+)" data-verdict="([^"]+)">', page))
    assert verdicts == {("glm-4.6", "bench"): "passed", ("glm-4.6", "contract"): "passed",
                        ("glm-5", "bench"): "regressed", ("glm-5", "contract"): "regressed"}
    assert 'class="verdict bad" data-verdict="failed">2026-11-03' in page
    # the contract's conformance per night: 8 of 8, then 7 of 8 for glm-5 on the last night
    rows = re.findall(r'<tr data-model="(glm-5)" data-night="([^"]+)"><td>[^<]+</td><td>[^<]+</td>'
                      r'<td class="n">(\d+)</td><td class="n">(\d+)</td>', page)
    assert rows == [("glm-5", NIGHTS[0], "8", "0"), ("glm-5", NIGHTS[1], "8", "0"), ("glm-5", NIGHTS[2], "7", "1")]
    parsed = Elements(page)
    # per level (c1, c4) 6 metrics, per thinking mode 3, each a chart with a line per model; the contract's
    assert len(parsed.named("figure")) == 2 * 6 + 2 * 3 + 1
    assert len(parsed.named("polyline")) == 2 * (2 * 6 + 2 * 3 + 1)
    solved = re.search(r'data-metric="pass rate" data-level="thinking on">.*?</table>', page, re.S)
    assert solved is not None and len(re.findall(r'<td class="n">\d+(\.\d+)?</td>', solved.group(0))) == 2 * 3
    ttft = re.search(r'data-metric="TTFT p50" data-level="c1">.*?</table>', page, re.S)
    assert ttft is not None
    cells = re.findall(r'<td class="n">([^<]+)</td>', ttft.group(0))
    assert len(cells) == 2 * 3 and all(c != "-" for c in cells)
    glm5 = [float(c.replace(",", "")) for c in cells[3:]]
    assert glm5[2] > 1.3 * glm5[1]  # the slow night shows


def test_the_trend_page_takes_bench_and_contract_reports_only(write: Write, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    proxy = write("proxy.json", {"exchanges": []})
    code, _, err = report(capsys, "--trend", str(proxy), "--out", str(tmp_path / "t.html"))
    assert code == 2 and "no place on the trend page" in err




# -- the nightly's own steps, run on synthetic artifacts ------------------------------------------------
NIGHTLY = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "nightly.yml"


def _step(job: str, name: str) -> str:
    import yaml

    steps = yaml.safe_load(NIGHTLY.read_text())["jobs"][job]["steps"]
    return next(str(s["run"]) for s in steps if s.get("name") == name)


def _bash(script: str, cwd: Path, **env: str) -> dict[str, str]:
    output = cwd / "github-output"
    output.write_text("")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(["bash", "-e", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PATH": path, "GITHUB_OUTPUT": str(output),
                               "GITHUB_STEP_SUMMARY": str(cwd / "summary"), **env}, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)


def test_the_nightly_carries_each_models_history_from_baseline_to_baseline(tmp_path: Path) -> None:
    script = _step("live", "The model's history for the trend page")
    (tmp_path / "baseline" / "history").mkdir(parents=True)
    for name in ("run7-bench-glm-5.json", "run7-contract-glm-5.json", "run8-bench-glm-5.json"):
        (tmp_path / "baseline" / "history" / name).write_text("{}")
    (tmp_path / "baseline" / "bench-glm-5.json").write_text("{}")
    _bash(script, tmp_path, MODEL="glm-5", RUN="12", KEEP_NIGHTS="60")
    assert sorted(p.name for p in (tmp_path / "reports" / "history").iterdir()) == [
        "run12-bench-glm-5.json", "run7-bench-glm-5.json", "run7-contract-glm-5.json", "run8-bench-glm-5.json"]
    _bash(script, tmp_path, MODEL="glm-5", RUN="12", KEEP_NIGHTS="2")  # the oldest bench report goes
    assert sorted(p.name for p in (tmp_path / "reports" / "history").iterdir()) == [
        "run12-bench-glm-5.json", "run7-contract-glm-5.json", "run8-bench-glm-5.json"]


def test_the_nightly_trend_step_makes_the_page_from_three_nights_of_two_models(
        write: Write, tmp_path: Path) -> None:
    """The workflow's own step, on artifacts laid out as the models job downloads them: two nights
    of history per model, tonight's reports beside them."""
    work = tmp_path / "job"
    for path in three_nights(write):
        kind, model, night = re.fullmatch(r"(bench|contract)-(glm-[\d.]+)-(\d{4}-\d\d-\d\d)\.json", path.name).groups()
        folder = work / "night" / f"nightly-reports-{model}"
        index = NIGHTS.index(night)
        target = (folder / f"{kind}-{model}.json" if index == 2
                  else folder / "history" / f"run{index}-{kind}-{model}.json")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    outputs = _bash(_step("models", "Trend page"), work)
    assert outputs == {"made": "true"}
    page = (work / "trend" / "trend.html").read_text(encoding="utf-8")
    assert re.findall(r'<tr data-model="([^"]+)" data-kind="bench" data-verdict="([^"]+)">', page) == [
        ("glm-4.6", "passed"), ("glm-5", "regressed")]
    assert f"{NIGHTS[0]} to {NIGHTS[2]}" in page


def test_two_contract_reports_are_compared(write: Write, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write("base.json", contract_doc({"suites/t.py::test_a": "passed", "suites/t.py::test_b": "passed"}))
    new = write("new.json", contract_doc({"suites/t.py::test_a": "failed", "suites/t.py::test_b": "passed"},
                                         {"suites/t.py::test_a": ["usage_conformance"]}))
    out = tmp_path / "page.html"
    assert report(capsys, str(base), str(new), "--out", str(out))[0] == 0
    page = out.read_text(encoding="utf-8")
    flipped = re.findall(r'data-metric="([^"]+)" data-scope="suites/t.py::test_a" data-verdict="worse"', page)
    assert flipped == ["contract.flipped", "contract.new_violations"]
    assert '<div class="verdict bad" data-verdict="failed">' in page
