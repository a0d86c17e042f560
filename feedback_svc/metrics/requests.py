"""Request count, latency, errors and in-flight requests per route, for Prometheus.

The series Litestar's Prometheus middleware wrote (`feedback_requests_total`,
`feedback_request_duration_seconds`, `feedback_requests_error_total`,
`feedback_requests_in_progress`, labelled method, path template, status code, app name),
at the cost of a few integer additions per request: each route's counts are plain numbers
found through one dict lookup, turned into metric families only when Prometheus scrapes.
The Litestar middleware built a Request and looked up four label sets per request, and
prometheus_client's own metrics take a lock per update: together a sixth of the liveness
probe's CPU. Plain numbers need no lock: only the event loop's thread serves requests.

A route middleware, so the route's template is known (ids don't explode the series),
outside authentication, so refused requests are measured too.
"""

import re
import time
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from feedback_svc.metrics.collector import BUCKETS, PREFIX

APP_NAME = "feedback-svc"
# scraping itself, and static files, are not worth a series each
EXCLUDE = re.compile("^/metrics$|^/static/")
LABELS = ["method", "path", "status_code", "app_name"]
_BOUNDS = [float(bound) for bound in BUCKETS]
_BUCKET_NAMES = [*(str(bound) for bound in _BOUNDS), "+Inf"]


class _Series:
    """One method, route and status: requests and their latency histogram."""

    __slots__ = ("buckets", "count", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.buckets = [0] * (len(_BOUNDS) + 1)  # not cumulative; the last is +Inf

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.buckets[bisect_left(_BOUNDS, seconds)] += 1  # a bound is inclusive (`le`)


class _Route:
    __slots__ = ("by_status", "in_progress", "method", "path")

    def __init__(self, method: str, path: str) -> None:
        self.method = method
        self.path = path
        self.in_progress = 0
        self.by_status: dict[int, _Series] = {}

    def finished(self, status: int, seconds: float) -> None:
        series = self.by_status.get(status)
        if series is None:
            series = self.by_status[status] = _Series()
        series.observe(seconds)


class _RequestCollector(Collector):
    """The routes' numbers as metric families, built at scrape time."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], _Route | None] = {}

    def route(self, method: str, template: str) -> _Route | None:
        key = (method, template)
        try:
            return self.routes[key]
        except KeyError:
            route = self.routes[key] = None if EXCLUDE.search(template) else _Route(method, template)
            return route

    def collect(self) -> Iterator[Any]:
        requests = CounterMetricFamily(f"{PREFIX}_requests", "Total requests", labels=LABELS)
        errors = CounterMetricFamily(f"{PREFIX}_requests_error", "Total errors in requests", labels=LABELS)
        duration = HistogramMetricFamily(
            f"{PREFIX}_request_duration_seconds", "Request duration, in seconds", labels=LABELS
        )
        in_progress = GaugeMetricFamily(
            f"{PREFIX}_requests_in_progress", "Total requests currently in progress", labels=LABELS
        )
        for route in list(self.routes.values()):
            if route is None:
                continue
            # as the Litestar middleware labelled it: the status is not known while in flight
            in_progress.add_metric([route.method, route.path, "200", APP_NAME], route.in_progress)
            for status, series in list(route.by_status.items()):
                labels = [route.method, route.path, str(status), APP_NAME]
                requests.add_metric(labels, series.count)
                if status >= 500:
                    errors.add_metric(labels, series.count)
                cumulative, buckets = 0, []
                for name, count in zip(_BUCKET_NAMES, series.buckets, strict=True):
                    cumulative += count
                    buckets.append((name, cumulative))
                duration.add_metric(labels, buckets, series.total)
        yield from (requests, duration, in_progress, errors)


# Process-wide, in the default registry: a module is imported once per process, so this
# registers once however many apps tests create.
COLLECTOR = _RequestCollector()
REGISTRY.register(COLLECTOR)


class RequestMetrics:
    """Pure ASGI: `Litestar(middleware=[RequestMetrics, ...])`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        route = COLLECTOR.route(scope["method"], scope["path_template"]) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 200
        duration = 0.0

        async def send_measured(message: Any) -> None:
            nonlocal status, duration
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
            elif kind == "http.response.body":
                duration = time.perf_counter() - started
            await send(message)

        route.in_progress += 1
        try:
            await self.app(scope, receive, send_measured)
        finally:
            route.in_progress -= 1
            route.finished(status, duration)
