from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated

import msgspec
import pytest
from msgspec import UNSET, Meta, UnsetType

from feedback_svc.lib.checks import Refused, checker_for

Slug = Annotated[str, Meta(pattern=r"^[a-z]+$")]


class Leaf(msgspec.Struct, kw_only=True):
    slug: Slug | UnsetType = UNSET
    at: datetime | None = None
    count: int = 0
    small: Annotated[int, Meta(ge=0, le=10)] = 0


class Tree(msgspec.Struct, kw_only=True):
    leaves: list[Leaf] = []
    by_name: dict[Slug, date] = {}
    children: "list[Tree]" = []


class Plain(msgspec.Struct):
    name: str
    amount: float


def refusal(value: object) -> tuple[str, str]:
    check = checker_for(Tree)
    assert check is not None
    with pytest.raises(Refused) as refused:
        check(value, "")
    return refused.value.path, refused.value.message


def test_a_type_with_nothing_to_check_costs_nothing() -> None:
    assert checker_for(Plain) is None
    assert checker_for(Annotated[int, Meta(ge=0, le=10)]) is None


def test_a_valid_value_passes() -> None:
    check = checker_for(Tree)
    assert check is not None
    check(Tree(leaves=[Leaf(slug="ok", at=datetime(2026, 1, 1, tzinfo=UTC), count=2**63 - 1)]), "")


def test_refusals_name_where_they_are() -> None:
    assert refusal(Tree(leaves=[Leaf(), Leaf(slug="ok\n")]))[0] == "leaves[1].slug"
    far = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    assert refusal(Tree(leaves=[Leaf(at=far)])) == (
        "leaves[0].at",
        "Dates and times are accepted from 1900-01-01 to 2999-12-31 (UTC)",
    )
    assert refusal(Tree(leaves=[Leaf(count=2**63)]))[0] == "leaves[0].count"
    assert refusal(Tree(by_name={"ok": date(9999, 12, 31)}))[0] == "by_name.ok"
    assert refusal(Tree(by_name={"Bad": date(2026, 1, 1)}))[0] == "by_name.Bad"


def test_a_type_that_contains_itself_is_checked_all_the_way_down() -> None:
    deep = Tree(children=[Tree(children=[Tree(leaves=[Leaf(slug="x\n")])])])
    assert refusal(deep)[0] == "children[0].children[0].leaves[0].slug"


def test_bools_are_not_numbers_here() -> None:
    check = checker_for(int | bool | None)
    assert check is not None
    check(True, "flag")
    with pytest.raises(Refused):
        check(-(2**63) - 1, "flag")
