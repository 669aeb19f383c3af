"""Adaptive micro-batching: concurrent requests merged into one model call.

The model runs in one thread of its own. Whenever it is free, it takes every request that
is waiting, up to `max_batch_size` rows: a lone request runs at once (no added latency;
with a quick model, on the event loop itself, sparing the thread hand-offs), and under
load the requests that came in while the model was busy make the next batch, so batches
grow with the load. Before a batch starts, requests whose bodies are being
received at that moment may join it, for at most `max_latency_ms`.

The queue is bounded: beyond `max_queue` waiting requests the server answers 503 with a
Retry-After computed from the measured drain rate, instead of queueing without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from .inference import Call, Job, Outcome

log = logging.getLogger("modelbaton.serve")

#: A lone request runs on the event loop itself when model calls take at most this long
#: (measured); longer calls run in the model thread so the loop stays responsive.
INLINE_MAX_S = 0.02


class Overloaded(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"the server is at capacity; retry in {retry_after} s")
        self.retry_after = retry_after


class Batcher:
    def __init__(self, run: Callable[[Sequence[Job]], tuple[list[Outcome], list[Call]]], *,
                 after: Callable[[list[Call]], None], max_batch_size: int,
                 max_latency_ms: float, max_queue: int,
                 on_queue: Callable[[int], None] = lambda depth: None):
        self._run = run
        self._after = after
        self.max_batch_size = max_batch_size
        self.max_latency = max_latency_ms / 1000
        self.max_queue = max_queue
        self._on_queue = on_queue
        self._queue: deque[Job] = deque()
        self._added = asyncio.Event()
        self._arriving = 0
        self._busy = False
        self._seconds_per_job = 0.001  # moving averages of model time per request
        self._seconds_per_call = 2 * INLINE_MAX_S  # and per call (not inline until known)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="baton-model")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._dispatch())

    @contextlib.contextmanager
    def arrival(self) -> Iterator[None]:
        """Marks a request whose body is being read: a starting batch may wait for it."""
        self._arriving += 1
        try:
            yield
        finally:
            self._arriving -= 1

    async def submit(self, job: Job) -> Outcome:
        if len(self._queue) >= self.max_queue:
            wait = len(self._queue) * self._seconds_per_job
            raise Overloaded(max(1, math.ceil(wait)))
        job.future = asyncio.get_running_loop().create_future()
        self._queue.append(job)
        self._on_queue(len(self._queue))
        self._added.set()
        return await job.future

    async def stop(self) -> None:
        """Answer everything queued, then stop the model thread."""
        while self._queue or self._busy:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._added.clear()
                await self._added.wait()
            await asyncio.sleep(0)  # let requests already readable join this batch
            await self._gather()
            jobs = self._take()
            self._busy = True
            started = time.perf_counter()
            try:
                if len(jobs) == 1 and not self._queue and not self._arriving \
                        and self._seconds_per_call <= INLINE_MAX_S:
                    self._work_inline(loop, jobs)
                else:
                    await loop.run_in_executor(self._executor, self._work, loop, jobs)
            except Exception:  # a bug of ours; the requests got a 500, the server goes on
                log.exception("batch of %d request(s) failed", len(jobs))
            finally:
                self._busy = False
            elapsed = time.perf_counter() - started
            self._seconds_per_job = 0.9 * self._seconds_per_job + 0.1 * elapsed / len(jobs)
            self._seconds_per_call = 0.9 * self._seconds_per_call + 0.1 * elapsed

    async def _gather(self) -> None:
        """Wait for requests already arriving, while the batch has room and time is left."""
        deadline = time.perf_counter() + self.max_latency
        while self._arriving and self._rows() < self.max_batch_size:
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            self._added.clear()
            try:
                await asyncio.wait_for(self._added.wait(), left)
            except asyncio.TimeoutError:
                return

    def _rows(self) -> int:
        return sum(job.rows for job in self._queue)

    def _take(self) -> list[Job]:
        jobs = [self._queue.popleft()]
        rows = jobs[0].rows
        while self._queue and rows + self._queue[0].rows <= self.max_batch_size:
            job = self._queue.popleft()
            jobs.append(job)
            rows += job.rows
        self._on_queue(len(self._queue))
        return jobs

    def _work(self, loop: asyncio.AbstractEventLoop, jobs: list[Job]) -> None:
        """In the model thread: answer the requests first, then log and shadow."""
        try:
            outcomes, calls = self._run(jobs)
        except BaseException as exc:  # a bug of ours: fail these requests, keep serving
            loop.call_soon_threadsafe(_fail, jobs, exc)
            raise
        loop.call_soon_threadsafe(_resolve, jobs, outcomes)
        time.sleep(0)  # hand the GIL to the event loop: the responses go out first
        self._record(calls)

    def _work_inline(self, loop: asyncio.AbstractEventLoop, jobs: list[Job]) -> None:
        """A lone request and a quick model: answered here, without two thread hand-offs.

        Its logging and shadow hand-off stay on the loop too, queued behind the request's
        own task so its response is written first: for one request they cost less than
        waking the model thread, and the thread would then contend for the GIL with the
        next request."""
        try:
            outcomes, calls = self._run(jobs)
        except BaseException as exc:
            _fail(jobs, exc)
            raise
        _resolve(jobs, outcomes)
        loop.call_soon(self._record, calls)

    def _record(self, calls: list[Call]) -> None:
        try:
            self._after(calls)
        except Exception:  # logging and shadow never fail a request
            log.exception("recording a batch failed")


def _resolve(jobs: list[Job], outcomes: list[Outcome]) -> None:
    for job, outcome in zip(jobs, outcomes):
        if not job.future.done():
            job.future.set_result(outcome)


def _fail(jobs: list[Job], exc: BaseException) -> None:
    for job in jobs:
        if not job.future.done():
            job.future.set_exception(exc)
