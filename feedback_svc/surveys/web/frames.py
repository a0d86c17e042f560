"""The thank-you page rendered once per language, brand and shape; each answer's values filled in.

Every answer's thank-you page is the same HTML but for four values: the heading (a survey's own
thank-you text may name the agent or the day), the edit link with its token, and two formatted
moments. Rendering the template took ~20 µs of each web-form answer; filling a frame is a join of
a few strings. A frame is the template rendered with a marker in each value's place, cut at the
markers. Each value is then escaped as the template escapes it: with autoescape every one is
printed by {{ }}, alone or through `replace`, whose result is escaped whole, one character at a
time, so escaping the pieces gives the same text. The first page made from each frame is also
rendered in full and must come out the same, or that frame is never used.
"""

from collections.abc import Callable

import msgspec
from markupsafe import escape

from feedback_svc.surveys.web.schemas import ThanksPageView

# NUL: escaping leaves it alone, and no value can carry one (PostgreSQL text, the catalogs, settings)
_MARK = "\x00"
# frames are few (languages x shapes); past this, a page is rendered in full
MAX_FRAMES = 256

Values = tuple[str | None, str | None, str | None, str | None]


def _values(view: ThanksPageView) -> Values:
    return (view.texts.heading, view.edit_url, view.editable_until, view.contact_deadline)


class _Frame:
    __slots__ = ("head", "rest")

    def __init__(self, head: str, rest: list[tuple[int, str]]) -> None:
        self.head = head
        self.rest = rest  # (which value, the text after it)

    def fill(self, values: Values) -> str:
        parts = [self.head]
        for slot, text in self.rest:
            parts.append(escape(values[slot]))
            parts.append(text)
        return "".join(parts)


def _cut(html: str, slots: int) -> _Frame | None:
    pieces = html.split(_MARK)
    markers = pieces[1::2]
    if len(pieces) % 2 == 0 or any(marker not in {str(n) for n in range(slots)} for marker in markers):
        return None  # a marker the template changed: this shape is rendered in full
    rest = [(int(marker), text) for marker, text in zip(markers, pieces[2::2], strict=True)]
    return _Frame(pieces[0], rest)


class ThanksFrames:
    """Thank-you pages from frames; `render` renders one in full."""

    def __init__(self, render: Callable[[ThanksPageView], str]) -> None:
        self._render = render
        self._frames: dict[tuple[object, ...], _Frame | None] = {}

    def page(self, view: ThanksPageView) -> str:
        values = _values(view)
        # the shape: which values are shown (a value the template does not show keeps its own)
        shape = tuple(True if value else value for value in values)
        key = (view.lang, view.brand_name, msgspec.structs.replace(view.texts, heading=""), shape)
        frame = self._frames.get(key, False)
        if frame is False:
            return self._first(key, view, values)
        return self._render(view) if frame is None else frame.fill(values)

    def _first(self, key: tuple[object, ...], view: ThanksPageView, values: Values) -> str:
        page = self._render(view)
        if len(self._frames) >= MAX_FRAMES:
            return page
        marked = [f"{_MARK}{n}{_MARK}" if value else value for n, value in enumerate(values)]
        frame = _cut(
            self._render(
                msgspec.structs.replace(
                    view,
                    texts=msgspec.structs.replace(view.texts, heading=marked[0] or view.texts.heading),
                    edit_url=marked[1],
                    editable_until=marked[2],
                    contact_deadline=marked[3],
                )
            ),
            len(values),
        )
        self._frames[key] = frame if frame is not None and frame.fill(values) == page else None
        return page
