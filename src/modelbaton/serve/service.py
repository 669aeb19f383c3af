"""The running parts behind the endpoints: batcher, metrics, prediction log and shadow.

`start()` and `stop()` are the server's lifespan. Stopping (SIGTERM) first lets every
queued request be answered, then gives the candidate time to finish, then completes the
prediction log, so nothing answered goes unlogged.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from ..contract.errors import BatonError
from ..package.golden import read_golden
from ..package.predictor import Predictor
from .batching import Batcher
from .inference import Call, Inference, Job, Outcome
from .metrics import Metrics
from .options import ServeOptions
from .payload import Columns
from .predlog import Identity, PredictionLog, records
from .shadow import Shadow


class Service:
    def __init__(self, predictor: Predictor, options: ServeOptions):
        self.predictor = predictor
        self.options = options
        self.identity = Identity(predictor.name, predictor.version, predictor.digest,
                                 predictor.flavor.name)
        self.metrics = Metrics(labels=predictor.labels, value_range=_value_range(predictor))
        self.metrics.model_info.labels("primary", predictor.name, predictor.version,
                                       predictor.digest, predictor.flavor.name).set(1)
        self.inference = Inference(predictor)
        self.log = None
        if options.log_path is not None:
            outputs = list(predictor.outputs)
            if options.shadow:
                outputs += _extra_outputs(options.shadow, outputs)
            self.log = PredictionLog(
                options.log_path, inputs=predictor.inputs, outputs=outputs,
                metrics=self.metrics, roll_bytes=options.log_roll_bytes,
                roll_seconds=options.log_roll_seconds, max_queued_rows=options.log_queue_rows)
        self.shadow = Shadow(options.shadow, metrics=self.metrics, log=self.log,
                             allow_pickle=options.allow_pickle,
                             max_pending=options.shadow_queue) if options.shadow else None
        self.batcher = Batcher(self.inference.run, after=self._after,
                               max_batch_size=options.max_batch_size,
                               max_latency_ms=options.max_latency_ms,
                               max_queue=options.max_queue, on_queue=self.metrics.queued.set)
        self.ready = False

    def start_shadow(self) -> None:
        """Start the candidate's process; raises if it cannot load (before serving)."""
        if self.shadow is None:
            return
        self.shadow.start()
        ident = self.shadow.identity
        assert ident is not None
        self.metrics.model_info.labels("shadow", ident.name, ident.version, ident.digest,
                                       ident.flavor).set(1)

    async def start(self) -> None:
        # Everything loaded so far (libraries, the model) lives as long as the server: moved
        # out of the collector's reach, it is never rescanned, which trims the latency tail.
        gc.collect()
        gc.freeze()
        self.batcher.start()
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        await self.batcher.stop()
        if self.shadow is not None:
            await asyncio.to_thread(self.shadow.close)
        if self.log is not None:
            await asyncio.to_thread(self.log.close)

    async def predict(self, request_id: str, columns: Columns, rows: int,
                      received: float) -> Outcome:
        return await self.batcher.submit(Job(request_id, columns, rows, received))

    def _after(self, calls: list[Call]) -> None:
        """In the model thread, once the requests are answered: metrics, log, shadow."""
        for call in calls:
            rows = sum(job.rows for job in call.jobs)
            self.metrics.batch_rows.observe(rows)
            self.metrics.model_seconds.labels("primary").observe(call.latency_s)
            if call.outputs is None:
                self.metrics.model_errors.labels("primary").inc()
            else:
                self.metrics.record_predictions("primary", call.outputs)
            if self.log is not None:
                self.log.offer(records("primary", self.identity, call.jobs, call.inputs,
                                       call.outputs, call.latency_s, call.error))
            if self.shadow is not None and call.outputs is not None:
                self.shadow.submit(call)

    def shadow_report(self) -> dict[str, Any]:
        assert self.shadow is not None
        ident = self.shadow.identity
        return {
            "primary": vars(self.identity),
            "candidate": vars(ident) if ident else {"path": self.options.shadow},
            "status": self.shadow.status,
            **self.metrics.shadow_summary(),
            "as_of": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }


def _value_range(predictor: Predictor) -> tuple[float, float] | None:
    """The range of the golden predictions, for the predicted-value histogram's buckets."""
    if predictor.labels is not None or predictor.manifest.golden is None:
        return None
    try:
        outputs = read_golden(predictor.root / predictor.manifest.golden.path).outputs
    except BatonError:  # no buckets from golden examples: Prometheus' defaults do
        return None
    values = outputs.get("prediction")
    if values is None or values.dtype.kind not in "iuf" or len(values) == 0:
        return None
    return float(values.min()), float(values.max())


def _extra_outputs(shadow_path: str, outputs: list[Any]) -> list[Any]:
    """The candidate's outputs the primary does not have, so the log can hold them too."""
    from ..package.load import open_package

    known = {f.name for f in outputs}
    candidate = open_package(shadow_path, verify=False).manifest
    return [f for f in candidate.interface.outputs if f.name not in known]
