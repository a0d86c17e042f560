"""The reference for bench_request_path: a bare Litestar app whose one route does nothing.

    python -m uvicorn benchmarks.bare_app:app --port 8001

Served the way `feedback-svc serve` serves the service (uvicorn, one worker, no access log),
so the difference between the two is what feedback-svc adds to a request.
"""

from litestar import Litestar, get


@get("/health/live", cache_control=None)
async def live() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[live], debug=False, logging_config=None)
