"""Requests in flight are grouped by route when scraped; finished ones count by status."""

from prometheus_client.core import Metric

from feedback_svc.metrics.requests import _RequestCollector


def _families(collector: _RequestCollector) -> dict[str, Metric]:
    return {family.name: family for family in collector.collect()}


def test_in_flight_requests_are_grouped_by_route_and_finished_ones_counted() -> None:
    collector = _RequestCollector()
    first = {"method": "GET", "path_template": "/v1/customers/{customer_id}"}
    second = {"method": "GET", "path_template": "/v1/customers/{customer_id}"}
    unrouted = {"method": "GET"}  # a 404: never routed, never labelled
    for scope in (first, second, unrouted):
        collector.started(scope)
    in_progress = _families(collector)["feedback_requests_in_progress"].samples
    assert [(s.labels["path"], s.value) for s in in_progress] == [("/v1/customers/{customer_id}", 2)]

    collector.finished(first, 404, 0.002)
    collector.finished(second, 200, 0.2)
    collector.finished(unrouted, 404, 0.001)
    families = _families(collector)
    assert [s.value for s in families["feedback_requests_in_progress"].samples] == [0]
    totals = {s.labels["status_code"]: s.value for s in families["feedback_requests"].samples}
    assert totals == {"404": 1, "200": 1}
    assert collector.in_flight == {}
