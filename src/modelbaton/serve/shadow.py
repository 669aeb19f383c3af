"""Live shadow: the candidate answers the same rows, in a process of its own, after the fact.

Each batch the primary has answered is handed to the candidate only after its responses
are on their way. The candidate runs in a separate, lower-priority process, so neither its
exceptions, nor its slowness, nor a crash can touch the primary's answers or latency; when
it falls behind by more than its queue, batches are skipped and counted rather than
queued without limit. Its outputs and latencies go to the prediction log (role "shadow")
and to the metrics behind `/shadow`: agreement rate, mean absolute difference of scores,
and both models' latency.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from typing import Any

import numpy as np

from ..contract.errors import BatonError
from ..data.table import Table
from .inference import Call
from .metrics import Metrics
from .predlog import Identity, PredictionLog, records

log = logging.getLogger("modelbaton.serve")

START_TIMEOUT_S = 300.0
RESTART_INTERVAL_S = 5.0


class Shadow:
    """The parent side: submits batches, reads results, compares and records them."""

    def __init__(self, path: str, *, metrics: Metrics, log: PredictionLog | None,
                 allow_pickle: bool = False, max_pending: int = 64):
        self.path = path
        self.metrics = metrics
        self.log = log
        self.allow_pickle = allow_pickle
        self.max_pending = max_pending
        self.identity: Identity | None = None
        self.status = "starting"
        self._context = mp.get_context("spawn")
        self._pending: dict[int, Call] = {}
        self._lock = threading.Lock()
        self._next_id = 0
        self._closing = False
        self._last_start = 0.0
        self._process: Any = None
        self._reader: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the candidate's process and wait until it has loaded (or failed to)."""
        self._spawn()
        self._reader = threading.Thread(target=self._read, name="baton-shadow", daemon=True)
        self._reader.start()

    def close(self, timeout: float = 10.0) -> None:
        """Let the candidate finish what it has (up to `timeout`), then stop it."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline and self._alive():
            time.sleep(0.02)
        self._closing = True
        if self._reader is not None:
            self._reader.join(timeout=5)
        self._stop_process()
        with self._lock:
            left, self._pending = list(self._pending.values()), {}
        for call in left:
            self._failed(call, "the server stopped before the candidate answered")

    def _spawn(self) -> None:
        self._last_start = time.monotonic()
        self._tasks = self._context.Queue()
        self._results = self._context.Queue()
        self._process = self._context.Process(
            target=candidate_main, name="baton-shadow-candidate", daemon=True,
            args=(self.path, self.allow_pickle, self._tasks, self._results, os.getpid()))
        self._process.start()
        try:
            kind, detail = self._results.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            self._stop_process()
            raise BatonError(f"--shadow {self.path}: the candidate did not load within "
                             f"{START_TIMEOUT_S:.0f} s") from None
        if kind != "ready":
            self._stop_process()
            raise BatonError(f"--shadow {self.path}: {detail}")
        self.identity = Identity(**detail)
        self.status = "running"

    def _stop_process(self) -> None:
        process = self._process
        if process is None:
            return
        if process.is_alive():
            try:
                self._tasks.put(None)
            except (OSError, ValueError):
                pass
            process.join(timeout=5)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)
        for channel in (self._tasks, self._results):
            channel.close()
            channel.join_thread()
        # Dropped, so their semaphores are released now rather than reported at exit.
        self._tasks = self._results = None
        self._process = None

    def _alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    # --- the model thread's side ---------------------------------------------------------

    def submit(self, call: Call) -> None:
        """Hand a batch the primary answered to the candidate; never blocks."""
        rows = sum(job.rows for job in call.jobs)
        with self._lock:
            if self._closing or len(self._pending) >= self.max_pending or not self._alive():
                self.metrics.shadow_skipped.inc(rows)
                return
            batch_id = self._next_id
            self._next_id += 1
            self._pending[batch_id] = call
        self._tasks.put((batch_id, call.inputs))

    # --- the reader thread ---------------------------------------------------------------

    def _read(self) -> None:
        while not self._closing:
            if self._results is None:  # the candidate is stopped for good
                return
            try:
                result = self._results.get(timeout=0.2)
            except queue.Empty:
                if not self._alive() and not self._closing:
                    self._restart()
                continue
            except (OSError, EOFError, ValueError):
                continue
            try:
                self._record(*result)
            except Exception:  # a bug here must not stop the comparison for good
                log.exception("shadow: cannot record a candidate result")

    def _record(self, batch_id: int, outputs: Table | None, seconds: float,
                error: str | None) -> None:
        with self._lock:
            call = self._pending.pop(batch_id, None)
        if call is None or self.identity is None:
            return
        self.metrics.model_seconds.labels("shadow").observe(seconds)
        if outputs is None:
            self._failed(call, error or "the candidate failed", seconds)
            return
        agree, rows, difference, scores = compare(call.outputs or {}, outputs)
        self.metrics.shadow_rows.inc(rows)
        self.metrics.shadow_agreements.inc(agree)
        self.metrics.shadow_difference.inc(difference)
        self.metrics.shadow_scores.inc(scores)
        self.metrics.record_predictions("shadow", outputs)
        if self.log is not None:
            self.log.offer(records("shadow", self.identity, call.jobs, call.inputs, outputs,
                                   seconds))

    def _failed(self, call: Call, error: str, seconds: float = 0.0) -> None:
        rows = sum(job.rows for job in call.jobs)
        self.metrics.shadow_errors.inc(rows)
        self.metrics.model_errors.labels("shadow").inc()
        if self.log is not None and self.identity is not None:
            self.log.offer(records("shadow", self.identity, call.jobs, call.inputs, None,
                                   seconds, error=error))

    def _restart(self) -> None:
        code = self._process.exitcode if self._process is not None else None
        with self._lock:
            lost, self._pending = list(self._pending.values()), {}
        for call in lost:
            self._failed(call, f"the candidate's process exited (code {code})")
        if time.monotonic() - self._last_start < RESTART_INTERVAL_S:
            time.sleep(RESTART_INTERVAL_S - (time.monotonic() - self._last_start))
        log.error("shadow candidate exited with code %s; restarting it", code)
        self.status = f"restarting after exit code {code}"
        self._stop_process()
        try:
            self._spawn()
        except BatonError as exc:
            log.error("shadow candidate cannot restart: %s", exc)
            self.status = f"stopped: {exc}"
            self._process = None


def compare(primary: Table, candidate: Table) -> tuple[int, int, float, int]:
    """Rows agreeing on the prediction, rows compared, sum and count of score differences.

    Scores are the probability and score columns both models give, and the prediction
    itself for regressors; a float prediction agrees when it is within 1e-9 relative.
    """
    a, b = primary.get("prediction"), candidate.get("prediction")
    if a is None or b is None or len(a) != len(b):
        return 0, 0, 0.0, 0
    numeric = a.dtype.kind in "iuf" and b.dtype.kind in "iuf"
    if numeric and (a.dtype.kind == "f" or b.dtype.kind == "f"):
        agree = int(np.isclose(a.astype(float), b.astype(float), rtol=1e-9, atol=0).sum())
    else:
        agree = sum(x == y for x, y in zip(a.tolist(), b.tolist()))
    names = [k for k in primary if k in candidate and k.startswith(("probability_", "score_"))]
    if not names and numeric and a.dtype.kind == "f":
        names = ["prediction"]
    difference, scores = 0.0, 0
    for name in names:
        gap = np.abs(primary[name].astype(float) - candidate[name].astype(float))
        gap = gap[~np.isnan(gap)]
        difference += float(gap.sum())
        scores += len(gap)
    return agree, len(a), difference, scores


# --- the candidate's process -------------------------------------------------------------


def candidate_main(path: str, allow_pickle: bool, tasks: Any, results: Any,
                   parent: int) -> None:
    """Load the candidate and answer batches until told to stop or orphaned."""
    # The server decides when to stop; Ctrl-C in a terminal reaches the whole group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        os.nice(10)  # the primary's requests come first on a busy machine
    except OSError:
        pass
    from ..package.load import load

    try:
        predictor = load(path, allow_pickle=allow_pickle)
    except Exception as exc:
        results.put(("failed", str(exc)))
        return
    results.put(("ready", {"name": predictor.name, "version": predictor.version,
                           "digest": predictor.digest, "flavor": predictor.flavor.name}))
    while True:
        try:
            task = tasks.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                return
            continue
        if task is None:
            return
        batch_id, table = task
        started = time.perf_counter()
        try:
            outputs = predictor.predict_table(table)
        except Exception as exc:  # reported to the parent, which logs it as the row's error
            message = str(exc) if isinstance(exc, BatonError) else f"{type(exc).__name__}: {exc}"
            results.put((batch_id, None, time.perf_counter() - started, message))
            continue
        results.put((batch_id, outputs, time.perf_counter() - started, None))
