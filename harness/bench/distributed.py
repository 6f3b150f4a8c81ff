"""The bench's workers as Ray tasks on a cluster the user already runs (`bench --ray ADDRESS`).

Each share of a level is one Ray task running the same `run_share` a local worker process runs,
its event loop on a thread of its own; the task is a streaming generator that yields the
messages in batches as they come, and the parent feeds them to the same merge as local workers,
so the report has one schema whichever ran it. Every worker's health records the Ray node it
ran on. Placement: one task per CPU of the cluster (each asks for one CPU, spread over nodes), or
one per node (pinned by node affinity).

Ray is an optional dependency (`pip install 'glm-harness[distributed]'`); without it, or with a
cluster that does not answer, `RayPool` raises `UsageError` before anything is measured. Nodes
need glm-harness installed too (or a runtime_env that installs it), and the target must be
reachable from every node: a twin on the driver's loopback only serves a single-host cluster.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import socket
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import UsageError
from .workers import Message, Share, drain, run_share

_STOP = object()


def _share_stream(share: Share) -> Iterator[list[Message]]:
    """The Ray task: run the share on a thread's event loop, yield its messages in batches."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def run() -> None:
        try:
            asyncio.run(run_share(share, inbox.put, node=node))
        finally:
            inbox.put(_STOP)

    threading.Thread(target=run, name="bench-ray-share", daemon=True).start()
    while True:
        batch = [inbox.get()]
        while True:
            try:
                batch.append(inbox.get_nowait())
            except queue.Empty:
                break
        done = any(item is _STOP for item in batch)
        messages = [item for item in batch if item is not _STOP]
        if messages:
            yield messages
        if done:
            return


def _ready() -> str:
    """A no-op task: brings up (and keeps) a worker process with harness imported."""
    import ray

    return str(ray.get_runtime_context().get_node_id())


def _probe(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a cluster that does not answer: `ray.init` retries such an address forever."""
    if address == "auto":
        return  # Ray reads the local cluster's address itself and says at once when there is none
    hostport = address.removeprefix("ray://").rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--ray expects HOST:PORT, ray://HOST:PORT or auto, got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as failure:
        raise UsageError(f"cannot reach the Ray cluster at {address!r}: {failure}") from None


class RayPool:
    """Shares run as Ray tasks; `size` is the cluster's CPUs (or nodes), capped by `workers`."""

    lead_s = 1.0

    def __init__(self, address: str, *, placement: str = "cpu", workers: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise UsageError("--ray needs Ray: pip install 'glm-harness[distributed]'") from None
        self._ray = ray
        _probe(address)
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False,
                     ignore_reinit_error=True)
        except Exception as failure:  # ConnectionError, or Ray's own errors for a bad address
            reason = str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure).__name__
            raise UsageError(f"cannot reach the Ray cluster at {address!r}: {reason[:200]}") from None
        self._nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
        total = self._nodes if placement == "node" else range(int(ray.cluster_resources().get("CPU", 1)))
        self.size = max(1, min(len(total), workers or len(total)))
        self.placement = placement
        self._remote = ray.remote(num_cpus=1)(_share_stream)
        self._inbox: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._lost: dict[int, str] = {}
        warm = ray.remote(num_cpus=1)(_ready)
        ray.get([warm.options(scheduling_strategy=self._strategy(k)).remote() for k in range(self.size)])

    def _strategy(self, worker: int) -> Any:
        if self.placement != "node":
            return "SPREAD"
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        return NodeAffinitySchedulingStrategy(self._nodes[worker % len(self._nodes)], soft=False)

    def start(self, shares: Sequence[Share]) -> None:
        self._lost.clear()
        for share in shares:
            stream = self._remote.options(num_returns="streaming",
                                          scheduling_strategy=self._strategy(share.worker)).remote(share)
            threading.Thread(target=self._drain, args=(share.worker, stream), daemon=True,
                             name=f"bench-ray-drain-{share.worker}").start()

    def _drain(self, worker: int, stream: Any) -> None:
        try:
            for ref in stream:
                for message in self._ray.get(ref):
                    self._inbox.put(message)
        except Exception as failure:  # the task died: a node lost, a worker killed
            self._lost[worker] = f"Ray task failed: {type(failure).__name__}"

    def receive(self, timeout_s: float) -> list[Message]:
        return drain(self._inbox, timeout_s)

    def lost(self, workers: Sequence[int]) -> dict[int, str]:
        return {k: why for k, why in self._lost.items() if k in workers}

    def close(self) -> None:
        self._ray.shutdown()  # the driver disconnects; the cluster is the user's and stays up
