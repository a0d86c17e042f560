"""Every pattern in the app means one thing: what the OpenAPI document (ECMA-262) says.

msgspec runs `Meta(pattern=...)` with Python's re.search, where `$` also matches before a final
newline; the decoding layer (lib/checks.py) checks each pattern again with the document's
meaning. These tests walk every msgspec Struct in the service and every pattern in the
document, so a pattern added later is covered without anyone remembering to.
"""

import importlib
import json
import pkgutil
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import feedback_svc
from feedback_svc.lib.bounds import ecma_regex
from feedback_svc.lib.checks import Refused, checker_for
from feedback_svc.lib.idempotency import KEY_PATTERN

SPEC = json.loads((Path(__file__).parents[3] / "openapi" / "openapi.json").read_text())


def all_structs() -> list[type[msgspec.Struct]]:
    for module in pkgutil.walk_packages(feedback_svc.__path__, "feedback_svc."):
        importlib.import_module(module.name)
    found: list[type[msgspec.Struct]] = []
    pending: list[type] = [msgspec.Struct]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("feedback_svc.") and sub not in found:
                found.append(sub)
    return found


def patterns_in(info: mi.Type) -> Iterator[tuple[str, Callable[[str], Any]]]:
    """Each pattern under a field's type, with how a string it accepts sits in the field's value
    (itself, an item of a list, a key of a dict)."""
    match info:
        case mi.StrType(pattern=str() as pattern):
            yield pattern, lambda value: value
        case mi.Metadata():
            yield from patterns_in(info.type)
        case mi.ListType() | mi.SetType() | mi.FrozenSetType() | mi.VarTupleType():
            for pattern, place in patterns_in(info.item_type):
                yield pattern, lambda value, place=place: [place(value)]
        case mi.DictType():
            for pattern, place in patterns_in(info.key_type):
                # the value None: the checker leaves it to msgspec, so only the key is checked
                yield pattern, lambda value, place=place: {place(value): None}
            for pattern, place in patterns_in(info.value_type):
                yield pattern, lambda value, place=place: {"key": place(value)}
        case mi.UnionType():
            for member in info.types:
                yield from patterns_in(member)


def patterned_fields() -> list[tuple[type, str, Any, str, Callable[[str], Any]]]:
    """(struct, field, annotation, pattern, place) for every pattern on a field of a Struct in the
    app; `place` puts a string where the pattern applies in the field's value."""
    found = []
    for struct in all_structs():
        for field in msgspec.structs.fields(struct):
            for pattern, place in patterns_in(mi.type_info(field.type)):
                found.append((struct, field.name, field.type, pattern, place))
    return found


PATTERNED = patterned_fields()


def test_the_walk_finds_the_patterns_we_know_of() -> None:
    named = {(struct.__name__, field) for struct, field, *_ in PATTERNED}
    assert {
        ("CustomerUpsert", "locale"),
        ("InteractionCreate", "touchpoint"),
        ("Resolve", "root_cause"),
        ("SurveyCreate", "texts"),  # a pattern on a dict's keys (locale tags)
    } <= named


def _samples(pattern: str) -> st.SearchStrategy[str]:
    # values the pattern accepts in the document's sense (ASCII only: the sense ECMA gives \d, \w)
    return st.from_regex(ecma_regex(pattern), alphabet=st.characters(max_codepoint=0x7E))


@pytest.mark.parametrize(
    ("struct", "field", "annotation", "pattern", "place"),
    PATTERNED,
    ids=[f"{struct.__name__}.{field}" for struct, field, *_ in PATTERNED],
)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_the_decoding_layer_holds_every_pattern_to_its_document_meaning(
    struct: type,
    field: str,
    annotation: Any,
    pattern: str,
    place: Callable[[str], Any],
    data: st.DataObject,
) -> None:
    check = checker_for(annotation)
    assert check is not None, f"{struct.__name__}.{field}: the decoding layer does not check {pattern!r}"
    value = data.draw(_samples(pattern))
    check(place(value), field)  # accepted
    if pattern.endswith("$"):
        with pytest.raises(Refused):
            check(place(value.rstrip("\n") + "\n"), field)


def test_every_pattern_in_the_document_is_checked_where_it_enters() -> None:
    """A pattern in the spec comes from a Struct field (checked by the decoding layer) or is the
    Idempotency-Key's (checked by lib/idempotency.check_key), and is plain ECMA-262."""
    in_document: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                in_document.add(node["pattern"])
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(SPEC)
    known = {pattern for *_, pattern, _ in PATTERNED} | {KEY_PATTERN}
    assert in_document, "the walk over the document found no pattern at all"
    assert in_document <= known
    for pattern in in_document:
        # Python-only syntax would mean something else, or nothing, to a client's validator
        assert not re.search(r"\\[AZz]|\(\?P|\(\?[aiLmsux]", pattern), pattern
