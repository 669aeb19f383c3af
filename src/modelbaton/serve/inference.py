"""One micro-batch through the model: merge, validate, predict, split back per request.

The common case costs one validation and one model call for the whole batch. Only when a
batch holds bad input is each request checked on its own, so a bad request gets its own
422 (rows numbered within it) and never spoils its neighbours; only when the model raises
is each request retried alone, so one poisonous row fails only its own request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..contract.errors import BatonError
from ..data.schema import Problem, check_values
from ..data.table import Table
from ..package.predictor import Predictor
from .payload import Columns

log = logging.getLogger("modelbaton.serve")


@dataclass
class Job:
    """One request waiting for the model."""

    request_id: str
    columns: Columns
    rows: int
    received: float  # epoch seconds
    future: Any = None  # asyncio.Future resolved with the Outcome


@dataclass
class Outcome:
    """What one request gets back: its outputs, its input problems, or a model error."""

    outputs: Table | None = None
    problems: list[Problem] = field(default_factory=list)
    error: str | None = None


@dataclass
class Call:
    """One model call: the requests it served, their validated rows, outputs and time."""

    jobs: list[Job]
    inputs: Table
    outputs: Table | None
    latency_s: float
    error: str | None = None


class Inference:
    """Runs batches of jobs through a predictor (in the model thread)."""

    def __init__(self, predictor: Predictor):
        self.predictor = predictor
        self.fields = predictor.inputs

    def run(self, jobs: Sequence[Job]) -> tuple[list[Outcome], list[Call]]:
        outcomes = [Outcome() for _ in jobs]
        valid, inputs = self._validate(jobs, outcomes)
        if not valid:
            return outcomes, []
        calls = [self._call([jobs[i] for i in valid], inputs)]
        if calls[0].error is not None and len(valid) > 1:
            # Find the request(s) the model fails on; the others are answered.
            starts = np.cumsum([0] + [jobs[i].rows for i in valid])
            calls = [self._call([jobs[i]], _slice(inputs, starts[k], starts[k + 1]))
                     for k, i in enumerate(valid)]
        index = {id(job): i for i, job in enumerate(jobs)}
        for call in calls:
            offset = 0
            for job in call.jobs:
                outcome = outcomes[index[id(job)]]
                if call.outputs is None:
                    outcome.error = call.error
                else:
                    outcome.outputs = _slice(call.outputs, offset, offset + job.rows)
                offset += job.rows
        return outcomes, calls

    def _validate(self, jobs: Sequence[Job], outcomes: list[Outcome]) -> tuple[list[int], Table]:
        """Indexes of the valid jobs and their rows cast to the interface, in order."""
        table, problems = check_values(_merge(jobs), self.fields)
        if not problems:
            return list(range(len(jobs))), table
        valid, parts = [], []
        for i, job in enumerate(jobs):
            own, own_problems = check_values(job.columns, self.fields)
            if own_problems:
                outcomes[i].problems = own_problems
            else:
                valid.append(i)
                parts.append(own)
        if not parts:
            return [], {}
        return valid, {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}

    def _call(self, jobs: list[Job], inputs: Table) -> Call:
        started = time.perf_counter()
        try:
            outputs = self.predictor.predict_conformed(inputs)
        except Exception as exc:  # the model's failure: the requests get a 500, we go on
            ids = ", ".join(j.request_id for j in jobs)
            log.exception("model call failed for request(s) %s", ids)
            message = str(exc) if isinstance(exc, BatonError) else f"{type(exc).__name__}: {exc}"
            return Call(jobs, inputs, None, time.perf_counter() - started, error=message)
        return Call(jobs, inputs, outputs, time.perf_counter() - started)


def _merge(jobs: Sequence[Job]) -> Columns:
    if len(jobs) == 1:
        return jobs[0].columns
    names = list(jobs[0].columns)
    return {name: [v for job in jobs for v in job.columns[name]] for name in names}


def _slice(table: Table, start: int, stop: int) -> Table:
    return {name: column[start:stop] for name, column in table.items()}
