"""Everything `baton serve` can be told, in one place (the CLI flags map onto it 1:1)."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..contract.errors import BatonError
from ..listen import check_port

#: A batch that waits longer than this for company is a configuration mistake, not a tuning.
MAX_LATENCY_MS = 10_000.0
#: Sizes given in megabytes (--max-body-mb, --log-roll-mb) stop at 1 TiB.
MAX_MEGABYTES = 1 << 20


@dataclass(frozen=True)
class ServeOptions:
    """How one server runs: the package, batching, limits, logging and shadow."""

    package: str
    shadow: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    #: Rows in one model call; concurrent requests are merged up to this.
    max_batch_size: int = 64
    #: How long a batch may wait for requests already arriving before it runs.
    max_latency_ms: float = 5.0
    #: Requests that may wait for the model; beyond it the server answers 503 + Retry-After.
    max_queue: int = 512
    max_body_bytes: int = 10 * 1024 * 1024
    log_dir: str | None = None
    log_roll_bytes: int = 64 * 1024 * 1024
    log_roll_seconds: float = 300.0
    #: Rows waiting to be written; beyond it records are dropped and counted.
    log_queue_rows: int = 100_000
    #: Batches the shadow candidate may have pending; beyond it they are skipped and counted.
    shadow_queue: int = 64
    allow_pickle: bool = False

    def __post_init__(self) -> None:
        positive = {"--workers": self.workers, "--max-batch-size": self.max_batch_size,
                    "--max-queue": self.max_queue, "--max-body-mb": self.max_body_bytes,
                    "--log-roll-mb": self.log_roll_bytes,
                    "--log-roll-seconds": self.log_roll_seconds,
                    "--log-queue": self.log_queue_rows, "shadow_queue": self.shadow_queue}
        for flag, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise BatonError(f"{flag} must be positive, got {value:g}")
        if not (math.isfinite(self.max_latency_ms)
                and 0 <= self.max_latency_ms <= MAX_LATENCY_MS):
            raise BatonError(f"--max-latency-ms must be 0 or more and at most "
                             f"{MAX_LATENCY_MS:g}, got {self.max_latency_ms:g}",
                             hint="it is how long a batch may wait for more requests")
        check_port(self.port)

    @staticmethod
    def megabytes(flag: str, value: float) -> int:
        """Bytes for a size option given in megabytes, checked before it is converted."""
        if not (math.isfinite(value) and 0 < value <= MAX_MEGABYTES):
            raise BatonError(f"{flag} must be positive and at most {MAX_MEGABYTES:,}, got "
                             f"{value:g}")
        return max(1, int(value * 1024 * 1024))

    @property
    def log_path(self) -> Path | None:
        return Path(self.log_dir) if self.log_dir else None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeOptions:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)
