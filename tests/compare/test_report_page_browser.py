"""`glm-harness report`'s page in a real browser: Chromium from the system's packages, driven by
Playwright's Python API (`executable_path`: Playwright's own browser download is never used).

Two real bench runs against the embedded twin, the second with a twin twice as slow, and a real
contract run against a twin that drops `data: [DONE]`, become one page. In the browser: every
chart is drawn, the comparison's verdicts and numbers are those of `glm-harness compare --json`
on the same two reports, the contract's failures are listed with their check names, hovering a
point shows its value, nothing is logged to the console and no request leaves the page. Without
JavaScript the tables and the charts' captions are still there. Skipped, with the reason, where
Playwright or Chromium is missing (`.ci/run` installs both).

`GLM_HARNESS_SCREENSHOT=docs/report-page.png pytest -n 0 tests/compare/test_report_page_browser.py`
also writes the README's screenshot (the top of the synthetic pair's page).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.bench.report import write_report
from harness.cli import main
from harness.compare.render import fmt_p, fmt_value

from .conftest import make_report
from .test_report_page import three_nights

ROOT = Path(__file__).resolve().parents[2]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str | None:
    for candidate in (os.environ.get("GLM_HARNESS_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


CHROMIUM = _chromium()
try:
    from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra brings it
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="playwright not installed (pip install -e '.[dev]')"),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)"),
]


def _run(*argv: str, expect: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ZAI_API_KEY"}
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == expect, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """a.json (the twin as it is), b.json (the twin twice as slow), contract.json (five failures),
    and their page; base.json and slow.json (synthetic: TTFT +40%, seeded) and theirs."""
    root = tmp_path_factory.mktemp("page")
    bench = ["-m", "harness.cli", "bench", "--concurrency", "1,4", "--requests", "16", "--no-progress"]
    _run(*bench, "--ttft-ms", "30", "--itl-ms", "2", "--out", str(root / "a.json"), expect=0)
    _run(*bench, "--ttft-ms", "60", "--itl-ms", "4", "--out", str(root / "b.json"), expect=0)
    _run("-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-q", "suites/contract/test_streaming.py",
         "--glm-twin-fault", "missing_done", "--glm-report", str(root / "contract.json"), expect=1)
    write_report(make_report(1, n=60, tokens=12, levels=(1, 4)), root / "base.json", markdown=False)
    write_report(make_report(2, n=60, tokens=12, levels=(1, 4), ttft_ms=170), root / "slow.json", markdown=False)
    for name, pair in (("twin", ("a", "b")), ("synthetic", ("base", "slow"))):
        paths = [str(root / f"{n}.json") for n in pair]
        main(["compare", *paths, "--json", str(root / f"compare-{name}.json"), "--format", "json"])
        assert main(["report", *paths, str(root / "contract.json"), "--out", str(root / f"{name}.html")]) == 0
    return {path.stem: path for path in root.iterdir() if path.suffix in (".json", ".html")}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert sync_playwright is not None and CHROMIUM is not None
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


class Opened:
    """A page opened from its file, with what it logged and every request it made."""

    def __init__(self, browser: Browser, path: Path, *, javascript: bool = True) -> None:
        self.url = path.resolve().as_uri()
        self.context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1200, "height": 1400})
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.left: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.route("**/*", self._route)
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text}")

    def _route(self, route: Any) -> None:
        if route.request.url == self.url:
            route.continue_()
        else:
            self.left.append(route.request.url)
            route.abort()

    def assert_quiet(self) -> None:
        assert self.errors == [], self.errors
        assert self.left == [] and self.requests == [self.url], self.requests
        loads = self.page.evaluate(
            "Array.from(document.querySelectorAll('[src],[href],[action],[srcset],[poster]'))"
            ".map(e => e.getAttribute('src') || e.getAttribute('href') || e.getAttribute('action') || "
            "e.getAttribute('srcset') || e.getAttribute('poster'))")
        assert loads and all(link.startswith("#") for link in loads), loads

    def assert_charts_drawn(self, at_least: int) -> None:
        charts = self.page.locator("figure.chart svg")
        assert charts.count() >= at_least
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100
            assert charts.nth(i).locator("polyline, rect.pt").count() >= 1
            assert charts.nth(i).locator("[data-tip]").count() >= 2


@pytest.fixture
def opened(browser: Browser) -> Iterator[Callable[..., Opened]]:
    made: list[Opened] = []

    def _open(path: Path, **kwargs: Any) -> Opened:
        made.append(Opened(browser, path, **kwargs))
        return made[-1]

    yield _open
    for o in made:
        o.context.close()


@pytest.mark.parametrize("pair", ["twin", "synthetic"])
def test_the_comparison_and_the_contract_failures_in_a_browser(
        pair: str, reports: dict[str, Path], opened: Callable[..., Opened]) -> None:
    """The page's verdicts and numbers are `compare --json`'s, row by row. The slower twin's
    regressions show unless a run was client-bound (this machine too busy to time the twin: the
    comparison then shows those rows untested, as `compare` does); the synthetic pair's always do."""
    page = opened(reports[pair])
    view = page.page
    page.assert_charts_drawn(at_least=3 * 2 + 2)

    compared = json.loads(reports[f"compare-{pair}"].read_text())["comparisons"][0]
    rows = [r for r in compared["rows"] if r["section"] != "contract"]
    regressed = {(r["metric"], r["scope"]) for r in rows if r["verdict"] == "worse"}
    client_bound = pair == "twin" and any(json.loads(reports[n].read_text())["client_bound"] for n in ("a", "b"))
    if not client_bound:
        assert {("ttft.p50", "c1"), ("ttft.p50", "c4"), ("e2e.p50", "c1")} <= regressed
        headline = view.locator('#verdict .verdict[data-verdict="failed"]')
        assert headline.is_visible()
        assert f"{len(compared['failures'])} regression(s) beyond the thresholds" in headline.inner_text()
    else:
        assert view.locator("#latency h3 .bound").first.is_visible()
    for row in rows:
        shown = view.locator(f'table.compare tr[data-metric="{row["metric"]}"][data-scope="{row["scope"]}"]')
        assert shown.count() == 1, row
        assert shown.get_attribute("data-verdict") == row["verdict"]
        cells = shown.locator("td").all_text_contents()  # folded rows included
        assert cells[2:4] == [fmt_value(row["base"], row["unit"]), fmt_value(row["new"], row["unit"])], row
        assert cells[8] == fmt_p(row["p_adj"]) and cells[7] == row["test"]
        if row["verdict"] == "worse":
            assert shown.is_visible() and cells[-1].startswith("regressed")
            colour = shown.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor")
            assert colour == "rgb(255, 235, 233)"  # in red

    if pair == "synthetic" and (target := os.environ.get("GLM_HARNESS_SCREENSHOT")):
        view.screenshot(path=str(ROOT / target), clip={"x": 0, "y": 0, "width": 1200, "height": 1050})
        from PIL import Image  # matplotlib's dependency (the plots extra): 64 colours, a quarter the size

        Image.open(ROOT / target).convert("RGB").quantize(colors=64).save(ROOT / target, optimize=True)

    contract = json.loads(reports["contract"].read_text())
    failed = [t for t in contract["tests"] if t["outcome"] == "failed"]
    assert failed
    listed = view.locator("table.failures tbody tr")
    assert listed.count() == len(failed)
    for test in failed:
        row = listed.filter(has_text=test["nodeid"].rsplit("::", 1)[1])
        assert row.count() == 1
        assert all(check in row.inner_text() for check in test["checks"]) and test["checks"]
        assert "reproduce" not in row.inner_text() and "curl -sS" in row.inner_text()
    page.assert_quiet()


def test_hovering_a_point_shows_its_value(reports: dict[str, Path], opened: Callable[..., Opened]) -> None:
    page = opened(reports["twin"])
    point = page.page.locator("#latency figure.chart circle.pt").nth(5)
    point.hover(force=True)
    tip = page.page.locator("#tip")
    tip.wait_for(state="visible")
    said = point.get_attribute("data-tip")
    assert said and tip.inner_text() == said and " ms: " in said
    assert page.page.locator("html.js").count() == 1
    page.assert_quiet()


def test_readable_without_javascript(reports: dict[str, Path], opened: Callable[..., Opened]) -> None:
    page = opened(reports["twin"], javascript=False)
    view = page.page
    assert not view.locator("html.js").count()  # the script did not run
    assert view.locator("#verdict .verdict").first.is_visible() and view.locator("table.percentiles").first.is_visible()
    assert view.locator("table.failures").is_visible()
    captions = view.locator("figure.chart figcaption")
    assert captions.count() >= 8 and "p50" in captions.first.inner_text()
    page.assert_charts_drawn(at_least=8)


def test_the_trend_page_in_a_browser(write: Callable[..., Path], tmp_path: Path,
                                     opened: Callable[..., Opened]) -> None:
    out = tmp_path / "trend.html"
    assert main(["report", "--trend", *map(str, three_nights(write)), "--out", str(out)]) == 0
    page = opened(out)
    page.assert_charts_drawn(at_least=2 * 6 + 2 * 3 + 1)
    verdict = page.page.locator("#verdict .verdict")
    assert verdict.get_attribute("data-verdict") == "failed" and "2026-11-03" in verdict.inner_text()
    regressed = page.page.locator('table.verdicts tr[data-verdict="regressed"]')
    assert regressed.count() == 2 and all("glm-5" in t for t in regressed.all_inner_texts())
    page.assert_quiet()


def test_the_browser_checks_see_a_page_that_fetches_or_logs(tmp_path: Path, opened: Callable[..., Opened]) -> None:
    """The checks above can fail: a page that loads an image from elsewhere and logs an error."""
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<!doctype html><html><body><img src="http://127.0.0.1:9/x.png">'
                     '<script>console.error("boom")</script></body></html>')
    page = opened(leaky)
    assert page.left == ["http://127.0.0.1:9/x.png"]
    with pytest.raises(AssertionError, match="error: boom"):
        page.assert_quiet()
    page.errors.clear()
    with pytest.raises(AssertionError, match=r"127\.0\.0\.1:9"):
        page.assert_quiet()
