"""`bench --ray` on a two-node Ray cluster this test starts on loopback and takes down after.

Slow (two Ray nodes take ~20 s to come up on a busy 2-core machine), so it is marked `ray`, left
out of the default run (see addopts) and run by `.ci/run` with `pytest -m ray`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.bench import load_report

pytestmark = pytest.mark.ray

pytest.importorskip("ray", reason="Ray is not installed: pip install 'glm-harness[distributed]'")

RAY = Path(sys.executable).with_name("ray")
NODE = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--memory=500000000",
        "--object-store-memory=80000000", "--disable-usage-stats", "--block"]
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _nodes_up(address: str) -> int:
    status = subprocess.run([str(RAY), "status", f"--address={address}"], capture_output=True,
                            text=True, env=ENV, timeout=60, check=False)
    active = status.stdout.split("Active:")[-1].split("Pending:")[0]
    return sum(line.strip().startswith("1 node_") for line in active.splitlines())


@pytest.fixture(scope="module")
def two_node_cluster() -> Iterator[str]:
    if not RAY.exists():
        pytest.skip(f"no `ray` command beside {sys.executable}")
    address = f"127.0.0.1:{_free_port()}"
    # Ray puts unix sockets under its temp dir; pytest's tmp_path is too long for them.
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    head = subprocess.Popen([str(RAY), "start", "--head", f"--port={address.split(':')[1]}",
                             "--include-dashboard=false", f"--temp-dir={temp}", *NODE],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nodes = [head]
    try:
        deadline = time.monotonic() + 120
        while _nodes_up(address) < 1:
            assert time.monotonic() < deadline, "the Ray head did not come up in 120 s"
            time.sleep(1)
        nodes.append(subprocess.Popen([str(RAY), "start", f"--address={address}", *NODE],
                                      env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        while _nodes_up(address) < 2:
            assert time.monotonic() < deadline, "the second Ray node did not join in 120 s"
            time.sleep(1)
        yield address
    finally:
        # `ray start --block` takes its own processes down on SIGTERM; no `ray stop` (it would
        # stop every Ray process of this user on the machine, not just these).
        for node in reversed(nodes):
            node.send_signal(signal.SIGTERM)
        for node in reversed(nodes):
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.kill()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.parametrize("placement", ["node", "cpu"])
def test_a_two_node_ray_run_makes_one_merged_valid_report(two_node_cluster: str, tmp_path: Path,
                                                          placement: str) -> None:
    out = tmp_path / f"ray-{placement}.json"
    command = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())",
               "bench", "--twin", "http", "--ttft-ms", "5", "--itl-ms", "1", "--jitter", "0",
               "--reply-tokens", "4", "--reasoning-tokens", "2", "--concurrency", "1,4",
               "--requests", "8", "--tasks", "none", "--no-progress", "--ray", two_node_cluster,
               "--ray-placement", placement, "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = load_report(out)  # valid against the exported schema and the model
    c1, c4 = report.levels
    assert len(c1.workers) == 1 and c1.workers[0].node  # c1 too runs on the cluster
    assert [(w.concurrency, w.requests, w.completed) for w in c4.workers] == [(2, 4, 4), (2, 4, 4)]
    assert len({w.node for w in c4.workers}) == 2  # one share per node, either placement
    assert c4.succeeded == 8 and c4.checked == 8
    assert {s.worker for s in report.samples if s.level == "c4"} == {0, 1}
    assert len({s.index for s in report.samples}) == len(report.samples)
