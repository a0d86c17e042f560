"""Request count, latency, errors and in-flight requests per route, for Prometheus.

The series Litestar's Prometheus middleware wrote (`feedback_requests_total`,
`feedback_request_duration_seconds`, `feedback_requests_error_total`,
`feedback_requests_in_progress`, labelled method, path template, status code, app name),
at the cost of a few integer additions per request: each route's counts are plain numbers
found through one dict lookup, turned into metric families only when Prometheus scrapes.
The Litestar middleware built a Request and looked up four label sets per request, and
prometheus_client's own metrics take a lock per update: together a sixth of the liveness
probe's CPU. Plain numbers need no lock: only the event loop's thread serves requests.

Counted by the outermost ASGI layer (lib/request_context.py, which times every request for
its access line anyway) when the request is done, under the route template routing left in
the scope (ids don't explode the series): refused requests are measured too, and no route
pays for a second wrapping layer. Requests in flight are kept by scope and grouped by
route only when scraped.
"""

import re
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
    __slots__ = ("by_status", "method", "path")

    def __init__(self, method: str, path: str) -> None:
        self.method = method
        self.path = path
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
        # the scopes of requests being served, by id: grouped by route only when scraped
        self.in_flight: dict[int, Any] = {}

    def route(self, method: str, template: str) -> _Route | None:
        key = (method, template)
        try:
            return self.routes[key]
        except KeyError:
            route = self.routes[key] = None if EXCLUDE.search(template) else _Route(method, template)
            return route

    def started(self, scope: Any) -> None:
        self.in_flight[id(scope)] = scope

    def finished(self, scope: Any, status: int, seconds: float) -> None:
        """Counted under the route's template, which routing left in the scope (404s have none)."""
        del self.in_flight[id(scope)]
        template = scope.get("path_template")
        if template is not None:
            route = self.route(scope["method"], template)
            if route is not None:
                route.finished(status, seconds)

    def _in_progress(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for scope in list(self.in_flight.values()):
            template = scope.get("path_template")
            if template is not None and self.route(scope["method"], template) is not None:
                key = (scope["method"], template)
                counts[key] = counts.get(key, 0) + 1
        return counts

    def collect(self) -> Iterator[Any]:
        requests = CounterMetricFamily(f"{PREFIX}_requests", "Total requests", labels=LABELS)
        errors = CounterMetricFamily(f"{PREFIX}_requests_error", "Total errors in requests", labels=LABELS)
        duration = HistogramMetricFamily(
            f"{PREFIX}_request_duration_seconds", "Request duration, in seconds", labels=LABELS
        )
        in_progress = GaugeMetricFamily(
            f"{PREFIX}_requests_in_progress", "Total requests currently in progress", labels=LABELS
        )
        serving = self._in_progress()
        for route in list(self.routes.values()):
            if route is None:
                continue
            # as the Litestar middleware labelled it: the status is not known while in flight
            now_serving = serving.get((route.method, route.path), 0)
            in_progress.add_metric([route.method, route.path, "200", APP_NAME], now_serving)
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
