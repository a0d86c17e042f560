"""The serving process gives BLAS one thread (feedback_svc/scoring/blas.py)."""

import threading

from litestar.testing import AsyncTestClient
from threadpoolctl import threadpool_info, threadpool_limits

from feedback_svc.app import create_app
from feedback_svc.settings import Settings


def _blas_threads() -> set[int]:
    return {library["num_threads"] for library in threadpool_info() if library["user_api"] == "blas"}


def _set_blas_threads(count: int) -> None:
    """From a thread that then ends: threadpoolctl lets one live thread at a time set OpenBLAS's
    process-wide limit, and the app's lifespan runs on another thread here."""
    setter = threading.Thread(target=threadpool_limits, kwargs={"limits": count, "user_api": "blas"})
    setter.start()
    setter.join()


async def test_a_started_app_runs_blas_on_one_thread(settings: Settings) -> None:
    before = max(_blas_threads())
    _set_blas_threads(2)
    try:
        assert _blas_threads() == {2}
        async with AsyncTestClient(app=create_app(settings)):
            assert _blas_threads() == {1}
    finally:
        _set_blas_threads(before)
