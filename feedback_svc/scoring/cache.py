"""The loaded Scorer of the active model, per process, converging on the registry.

Loading a model costs tens of milliseconds; scoring one customer a tenth of one.
So each process keeps the Scorer of the version it last saw active and asks the
registry (one indexed row) at most every `refresh_seconds` whether another
version is active now. Every replica therefore serves the version activated in
PostgreSQL within that interval, without any process telling the others.
While no registry model is active the shipped baseline serves.

Backtests may ask for any registered version by name (`scorer_for`); the last few such
Scorers are kept too, so a CRM replaying a past quarter in batches loads the model once.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import asyncpg

import feedback_svc
from feedback_svc.lib.errors import NotFound, ServiceUnavailable
from feedback_svc.lib.heap import freeze_long_lived
from feedback_svc.scoring import queries
from ml import persistence
from ml.bundle import ModelBundle
from ml.scorer import Scorer

BASELINE = "baseline.skops"
# Scorers of named versions kept for backtests (each holds a model: tens of MiB at most)
NAMED_VERSIONS_KEPT = 2


def models_dir() -> Path:
    """Inside an installed wheel the shipped models travel in the package."""
    package = Path(feedback_svc.__file__).parent
    bundled = package / "_models"
    return bundled if bundled.is_dir() else package.parent / "models"


@lru_cache(maxsize=1)
def baseline_bundle() -> ModelBundle:
    return persistence.loads((models_dir() / BASELINE).read_bytes())


class ScorerCache:
    """`await cache.scorer(pool)` gives the Scorer of the active model."""

    def __init__(self, *, refresh_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._scorer: Scorer | None = None
        # the registry version being served; None means the baseline
        self._version: str | None = None
        self._checked_at = -float("inf")
        self._lock = asyncio.Lock()
        self._named: OrderedDict[str, Scorer] = OrderedDict()

    async def scorer(self, pool: asyncpg.Pool | asyncpg.Connection) -> Scorer:
        if self._scorer is not None and self._clock() - self._checked_at < self.refresh_seconds:
            return self._scorer
        async with self._lock:  # one look (and one load) at a time, the rest wait for it
            if self._scorer is not None and self._clock() - self._checked_at < self.refresh_seconds:
                return self._scorer
            active = await queries.active_model_version(pool)
            if self._scorer is None or active != self._version:
                self._scorer = await self._load(pool, active)
                self._version = active
            self._checked_at = self._clock()
            return self._scorer

    async def scorer_for(self, pool: asyncpg.Pool | asyncpg.Connection, version: str) -> Scorer:
        """The Scorer of a registered version, active or not (the baseline's by its version)."""
        active = await self.scorer(pool)
        if version == active.version:
            return active
        async with self._lock:
            if (found := self._named.get(version)) is not None:
                self._named.move_to_end(version)
                return found
            if version == baseline_bundle().version:
                scorer = await asyncio.to_thread(lambda: Scorer(baseline_bundle()))
            else:
                artifact = await queries.model_artifact(pool, version)
                if artifact is None:
                    raise NotFound(f"No model version {version!r}; GET /v1/models lists them.")
                scorer = await asyncio.to_thread(lambda: Scorer(persistence.loads(artifact)))
            self._named[version] = scorer
            while len(self._named) > NAMED_VERSIONS_KEPT:
                self._named.popitem(last=False)
            return scorer

    def forget(self) -> None:
        """Look at the registry on the next call (after this process switched models)."""
        self._checked_at = -float("inf")

    async def _load(self, pool: asyncpg.Pool | asyncpg.Connection, version: str | None) -> Scorer:
        if version is None:
            scorer = await asyncio.to_thread(lambda: Scorer(baseline_bundle()))
        else:
            artifact = await queries.model_artifact(pool, version)
            if artifact is None:  # deactivated and deleted between the two reads
                raise ServiceUnavailable(
                    "The active model changed while loading; retry.", headers={"Retry-After": "1"}
                )
            scorer = await asyncio.to_thread(lambda: Scorer(persistence.loads(artifact)))
        freeze_long_lived()  # the model lives until the next activation
        return scorer
