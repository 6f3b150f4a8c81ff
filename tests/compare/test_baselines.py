"""The committed baselines in reports/baselines/: valid, comparable, and found by --baseline latest.

No timing is asserted: a fresh run of the twin on this machine may be faster or slower than the
machine that made the baseline; what must hold is that the comparison path runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.bench.report import COMPARABLE_SCHEMA_VERSIONS, validate_report_data
from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ROOT / "reports" / "baselines"
BENCH = BASELINES / "twin-glm-4.6.json"
CONTRACT = BASELINES / "contract-twin-glm-4.6.json"


def _compare(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["compare", "--resamples", "300", "--format", "json", *argv])
    out, err = capsys.readouterr()
    assert code in (0, 1, 3), err
    return code, json.loads(out)


def test_the_twin_baseline_is_a_valid_report() -> None:
    report = validate_report_data(json.loads(BENCH.read_bytes()))  # the JSON Schema and the model
    assert report.schema_version in COMPARABLE_SCHEMA_VERSIONS
    assert (report.meta.model, report.meta.target, report.complete) == ("glm-4.6", "mock", True)
    assert [lv.name for lv in report.levels if lv.kind == "latency"] == ["c1", "c8"]
    assert report.task_set is not None and report.efficiency is not None
    assert any(n.startswith("embedded twin") for n in report.notes)
    assert report.meta.options["seed"] == 0


def _healthy(tmp_path: Path, data: dict, name: str) -> Path:  # type: ignore[type-arg]
    """A copy whose levels are marked as not client-bound: a baseline recorded on a busy machine
    has levels whose latency rows are shown but not tested; these tests are about the comparison
    path, not about that machine."""
    for level in data["levels"]:
        if level["health"]:
            level["health"].update(client_bound=False, reasons=[], workers_needed=None)
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_the_baseline_against_itself_is_no_change(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    healthy = _healthy(tmp_path, json.loads(BENCH.read_bytes()), "healthy.json")
    code, data = _compare(capsys, str(healthy), str(healthy), "--allow-untested")
    assert code == 0
    rows = data["comparisons"][0]["rows"]
    assert {r["verdict"] for r in rows} <= {"no significant change", "not tested"}
    assert sum(r["verdict"] == "no significant change" for r in rows) >= 20


def test_client_bound_levels_are_shown_but_not_tested(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(BENCH.read_bytes())
    for level in data["levels"]:
        if level["health"]:
            level["health"].update(client_bound=True, reasons=["event-loop lag p99 12.0 ms (flag at >= 10 ms)"])
    bound = tmp_path / "bound.json"
    bound.write_text(json.dumps(data))
    code, data = _compare(capsys, str(bound), str(bound))
    assert code == 3, "rows the rules cover were left untested: inconclusive, not a pass"
    assert data["inconclusive"] and any("client-bound in base and new" in u for u in data["comparisons"][0]["untested"])
    latency = [r for r in data["comparisons"][0]["rows"] if r["metric"].startswith("ttft.")]
    assert latency and all(r["p"] is None and r["verdict"] == "not tested" for r in latency)
    assert all(r["base"] is not None and "client-bound in base and new" in r["note"] for r in latency)


def test_a_slower_copy_of_the_baseline_is_a_regression(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(BENCH.read_bytes())
    for level in data["levels"]:
        level["samples"]["ttft_ms"] = [v * 1.5 for v in level["samples"]["ttft_ms"]]
    slower = _healthy(tmp_path, data, "slower.json")
    base = _healthy(tmp_path, json.loads(BENCH.read_bytes()), "base.json")
    code, result = _compare(capsys, str(base), str(slower))
    assert code == 1
    failed = {(r["metric"], r["scope"]) for r in result["comparisons"][0]["rows"] if r["failed"]}
    assert ("ttft.p50", "c1") in failed and ("ttft.p50", "c8") in failed


def test_a_fresh_twin_run_compares_with_the_latest_baseline(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fresh = tmp_path / "fresh.json"
    code = main([
        "bench", "--concurrency", "1", "--requests", "6", "--tasks", "none", "--ttft-ms", "2",
        "--itl-ms", "0.5", "--reply-tokens", "4", "--reasoning-tokens", "4", "--no-progress",
        "--out", str(fresh)])
    capsys.readouterr()
    assert code == 0 and fresh.exists()
    _, data = _compare(capsys, "--baseline", "latest", "--baseline-dir", str(BASELINES), str(fresh))
    comparison = data["comparisons"][0]
    assert Path(comparison["base"]["path"]).name == BENCH.name
    assert {r["scope"] for r in comparison["rows"]} == {"c1"}
    assert any("only twin-glm-4.6.json ran a task set" in n for n in comparison["notes"])
    assert any("levels not in both reports" in n for n in comparison["notes"])


def test_the_contract_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(CONTRACT.read_bytes())
    assert data["kind"] == "contract" and data["target"] == "mock" and data["model"] == "glm-4.6"
    assert data["summary"].get("failed", 0) == 0 and data["summary"]["passed"] > 20
    code, result = _compare(capsys, str(CONTRACT), str(CONTRACT))
    assert code == 0
    assert all(r["metric"] in ("contract.passed", "contract.failed")
               for r in result["comparisons"][0]["rows"])


def test_the_latest_baseline_is_one_of_the_same_surface(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A Messages-API run is not compared with a chat-completions one by `--baseline latest`, and
    two reports of different surfaces compared by hand say so."""
    from compare.conftest import make_report
    from harness.compare.load import check_comparable, latest_baseline, load

    def surfaced(name: str, surface: str, started_at: str) -> Path:
        report = make_report(1, started_at=started_at)
        report.meta.surface = surface
        return write(f"baselines/{name}", report)

    messages = surfaced("messages.json", "anthropic", "2025-01-01T00:00:00.000Z")
    surfaced("chat.json", "openai", "2025-01-02T00:00:00.000Z")  # newer, but another surface
    new = load(surfaced("new.json", "anthropic", "2025-01-03T00:00:00.000Z"))
    assert latest_baseline(new, tmp_path / "baselines").path == messages
    chat = load(tmp_path / "baselines" / "chat.json")
    assert "different surfaces: openai vs anthropic" in check_comparable(chat, new)
