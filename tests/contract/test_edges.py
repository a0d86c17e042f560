"""The fuzzer's own parts can fail: the body check catches a pattern the service let through,
and the edge strategies do reach the edges."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.contract.edges import (
    EDGE_INSTANTS,
    body_schema_check,
    edge_instants,
    one_edge,
    patterned_fields,
)

SPEC = json.loads((Path(__file__).parents[2] / "openapi" / "openapi.json").read_text())
CHECK = body_schema_check(SPEC)


def call(body: object, status: int) -> None:
    operation = SimpleNamespace(path="/v1/customers", method="POST")
    CHECK(None, SimpleNamespace(status_code=status), SimpleNamespace(operation=operation, body=body))


def test_a_body_its_schema_refuses_must_not_succeed() -> None:
    call({"external_id": "x", "locale": "en"}, 201)
    call({"external_id": "x", "locale": "en\n"}, 422)
    with pytest.raises(AssertionError, match="schema refuses"):
        call({"external_id": "x", "locale": "en\n"}, 201)


def test_patterned_fields_are_found_through_references() -> None:
    assert patterned_fields(SPEC, "/v1/customers", "post") == {"locale"}
    assert patterned_fields(SPEC, "/v1/interactions", "post") == {"touchpoint"}


@settings(max_examples=200, database=None)
@given(st.data())
def test_one_edge_changes_at_most_one_value(data: st.DataObject) -> None:
    body = {"locale": "en", "value": 3, "nested": {"items": [1, "a"]}, "flag": True}
    changed = data.draw(one_edge(body, frozenset({"locale"})))
    flat = json.dumps(changed, sort_keys=True)
    assert (
        flat == json.dumps(body, sort_keys=True)
        or sum(
            1
            for a, b in [
                (changed["locale"], "en"),
                (changed["value"], 3),
                (changed["nested"], body["nested"]),
            ]
            if a != b
        )
        == 1
    )
    assert changed["flag"] is True


def test_edge_instants_include_the_ones_that_broke_the_service() -> None:
    seen: set[str] = set()

    @settings(max_examples=300, database=None)
    @given(edge_instants())
    def collect(value: str) -> None:
        seen.add(value)

    collect()
    assert "0001-01-01T00:00:00+14:00" in EDGE_INSTANTS
    assert seen & set(EDGE_INSTANTS)
