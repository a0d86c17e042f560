"""The serving process gives BLAS one thread (feedback_svc/scoring/blas.py).

OpenBLAS's thread count is process-wide state that other tests in this process change too (any
app started in the test's own thread sets it), so the check runs in a fresh interpreter."""

import subprocess
import sys

from feedback_svc.settings import Settings

CHECK = """
import asyncio, sys, threading
from litestar.testing import AsyncTestClient
from threadpoolctl import threadpool_info, threadpool_limits
from feedback_svc.app import create_app
from feedback_svc.settings import Settings

def blas_threads():
    return {library["num_threads"] for library in threadpool_info() if library["user_api"] == "blas"}

def set_blas_threads(count):
    setter = threading.Thread(target=threadpool_limits, kwargs={"limits": count, "user_api": "blas"})
    setter.start()
    setter.join()

async def main():
    set_blas_threads(2)
    assert blas_threads() == {2}, blas_threads()
    settings = Settings(database_url=sys.argv[1], secret_key=sys.argv[2], run_workers=False)
    async with AsyncTestClient(app=create_app(settings)):
        print(sorted(blas_threads()))

asyncio.run(main())
"""


def test_a_started_app_runs_blas_on_one_thread(settings: Settings) -> None:
    assert settings.database_url is not None
    assert settings.secret_key is not None
    done = subprocess.run(
        [sys.executable, "-c", CHECK, settings.database_url, settings.secret_key],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[1]"
