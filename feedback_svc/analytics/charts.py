"""Server-rendered SVG charts: no script, no third-party asset, styled by console.css classes.

Every value drawn is escaped; each chart is an `img` with a title and a description so a
screen reader gets the numbers the picture shows.
"""

from collections.abc import Sequence
from typing import Protocol

from markupsafe import Markup, escape

from feedback_svc.analytics.stats import Estimate

WIDTH = 640
Point = tuple[str, Estimate]


class MatrixCellLike(Protocol):
    risk_band: int
    value_band: int
    customers: int
    value_at_risk: float


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _describe(points: Sequence[Point]) -> str:
    return "; ".join(
        f"{label}: {_fmt(e.value)} (95% interval {_fmt(e.low)} to {_fmt(e.high)}, n={e.n})"
        for label, e in points
    )


def _scale(low: float, high: float, start: float, end: float):
    span = (high - low) or 1.0
    return lambda value: start + (value - low) / span * (end - start)


def trend_chart(chart_id: str, title: str, points: Sequence[Point], *, low: float, high: float) -> Markup:
    """Score per period as a line, its 95% interval as a band; hollow dots mark small samples."""
    # the right margin holds half of the last month's label ("Dec 2026"), centred on its point
    height, left, right, top, bottom = 260, 48, 40, 16, 40
    shown = [(label, e) for label, e in points if e.value is not None]
    x = _scale(0, max(len(shown) - 1, 1), left, WIDTH - right)
    y = _scale(low, high, height - bottom, top)
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(_describe(shown) or "No answers in this window.")}</desc>',
    ]
    for tick in _ticks(low, high):
        parts.append(
            f'<line class="grid" x1="{left}" x2="{WIDTH - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
        )
        parts.append(
            f'<text class="muted" x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>'
        )
    banded = [(i, e) for i, (_, e) in enumerate(shown) if e.low is not None and e.high is not None]
    if len(banded) > 1:
        upper = " ".join(f"{x(i):.1f},{y(e.high):.1f}" for i, e in banded)  # type: ignore[arg-type]
        lower = " ".join(f"{x(i):.1f},{y(e.low):.1f}" for i, e in reversed(banded))  # type: ignore[arg-type]
        parts.append(f'<polygon class="band" points="{upper} {lower}"/>')
    if len(shown) > 1:
        line = " ".join(f"{x(i):.1f},{y(e.value):.1f}" for i, (_, e) in enumerate(shown))  # type: ignore[arg-type]
        parts.append(f'<polyline class="line" points="{line}"/>')
    every = max(1, len(shown) // 6)
    for i, (label, e) in enumerate(shown):
        css = "dot dot--small" if e.small_sample else "dot"
        parts.append(f'<circle class="{css}" cx="{x(i):.1f}" cy="{y(e.value):.1f}" r="4.5"/>')  # type: ignore[arg-type]
        if i % every == 0 or i == len(shown) - 1:
            parts.append(
                f'<text class="muted" x="{x(i):.1f}" y="{height - bottom + 18}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    parts.append(
        f'<line class="axis" x1="{left}" x2="{WIDTH - right}" y1="{height - bottom}" y2="{height - bottom}"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text above is escaped


def interval_chart(
    chart_id: str,
    title: str,
    rows: Sequence[Point],
    *,
    low: float,
    high: float,
    zero: float | None = None,
    values: Sequence[str] | None = None,
) -> Markup:
    """One row per group: the estimate as a bar from `zero` (or the left edge) and its 95% interval.

    Each row ends with its value and the count behind it (`values`, or "value · n=N"): a share
    of two tasks must not read like a share of two thousand.
    """
    row_height, label_width, right, top = 34, 170, 124, 8
    height = top + row_height * max(len(rows), 1) + 28
    x = _scale(low, high, label_width, WIDTH - right)
    origin = x(zero if zero is not None else low)
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(_describe(rows) or "No answers in this window.")}</desc>',
    ]
    for tick in _ticks(low, high):
        parts.append(
            f'<line class="grid" x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top}" y2="{height - 24}"/>'
        )
        parts.append(
            f'<text class="muted" x="{x(tick):.1f}" y="{height - 8}" text-anchor="middle">{tick:g}</text>'
        )
    if zero is not None:
        parts.append(
            f'<line class="zero" x1="{origin:.1f}" x2="{origin:.1f}" y1="{top}" y2="{height - 24}"/>'
        )
    for i, (label, e) in enumerate(rows):
        middle = top + i * row_height + row_height / 2
        name = label if len(label) <= 22 else label[:21] + "…"
        parts.append(f'<text class="label" x="0" y="{middle + 4:.1f}">{escape(name)}</text>')
        if e.value is None:
            continue
        end = x(e.value)
        css = "bar bar--small" if e.small_sample else "bar"
        parts.append(
            f'<rect class="{css}" x="{min(origin, end):.1f}" y="{middle - 8:.1f}" '
            f'width="{max(abs(end - origin), 1.5):.1f}" height="16"/>'
        )
        if e.low is not None and e.high is not None:
            a, b = x(e.low), x(e.high)
            parts.append(
                f'<line class="whisker" x1="{a:.1f}" x2="{b:.1f}" y1="{middle:.1f}" y2="{middle:.1f}"/>'
            )
            for edge in (a, b):
                parts.append(
                    f'<line class="whisker" x1="{edge:.1f}" x2="{edge:.1f}" '
                    f'y1="{middle - 6:.1f}" y2="{middle + 6:.1f}"/>'
                )
        text = values[i] if values is not None else f"{_fmt(e.value)} · n={e.n}"
        x_text = WIDTH - right + 6
        parts.append(f'<text class="muted" x="{x_text}" y="{middle + 4:.1f}">{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text above is escaped


def _ticks(low: float, high: float) -> list[float]:
    span = high - low
    step = next(s for s in (0.5, 1, 2, 5, 10, 20, 25, 50, 100) if span / s <= 6)
    first = step * -(-low // step)
    ticks = []
    value = first
    while value <= high + 1e-9:
        ticks.append(round(value, 6))
        value += step
    return ticks


def _money(amount: float) -> str:
    if amount >= 1_000_000:
        return f"{amount / 1_000_000:.1f}M"
    if amount >= 10_000:
        return f"{amount / 1_000:.0f}k"
    if amount >= 1_000:
        return f"{amount / 1_000:.1f}k"
    return f"{amount:.0f}"


def value_bands(cuts: Sequence[float]) -> list[str]:
    """Labels of the value quartile columns, lowest first."""
    if len(cuts) != 3:
        return ["lowest", "low", "high", "highest"]
    q1, q2, q3 = (_money(cut) for cut in cuts)
    return [f"up to {q1}", f"{q1} to {q2}", f"{q2} to {q3}", f"over {q3}"]


def risk_rows(names: Sequence[str], cuts: Sequence[float]) -> list[tuple[str, str]]:
    """Row labels, lowest risk first: the band's name and the churn probabilities it covers."""
    if len(names) != 4 or len(cuts) != 3:
        return [("lowest", ""), ("low", ""), ("high", ""), ("highest", "")]
    pct = [f"{100 * cut:.0f}%" if cut >= 0.1 else f"{100 * cut:.1f}%" for cut in cuts]
    ranges = [f"below {pct[0]}", f"{pct[0]}-{pct[1]}", f"{pct[1]}-{pct[2]}", f"{pct[2]} and over"]
    return list(zip(names, ranges, strict=True))


def matrix_chart(
    chart_id: str,
    title: str,
    cells: Sequence[MatrixCellLike],
    cuts: Sequence[float],
    *,
    risk_names: Sequence[str],
    risk_cuts: Sequence[float],
) -> Markup:
    """A 4x4 grid, value left to right and churn risk bottom to top; darker cells hold more value at risk.

    The top-right cell (most valuable, highest risk band) is where recovery work starts: it is
    outlined and says so, whatever its shade.
    """
    height, left, top, bottom, bands = 330, 128, 12, 58, 4
    cell_w, cell_h = (WIDTH - left - 8) / bands, (height - top - bottom) / bands
    columns = value_bands(cuts)
    rows = risk_rows(risk_names, risk_cuts)
    most = max((cell.value_at_risk for cell in cells), default=0.0) or 1.0
    described = "; ".join(
        f"churn risk {rows[c.risk_band][0]} ({rows[c.risk_band][1]}), value {columns[c.value_band]}: "
        f"{c.customers} customers, value at risk {_money(c.value_at_risk)}"
        + (" (work starts here)" if _first(c) else "")
        for c in cells
        if c.customers or _first(c)
    )
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(described or "No scored customers yet.")}</desc>',
    ]
    first = None
    for cell in cells:
        x = left + cell.value_band * cell_w
        y = top + (bands - 1 - cell.risk_band) * cell_h
        level = 0 if cell.value_at_risk <= 0 else 1 + min(3, int(3.999 * cell.value_at_risk / most))
        on_dark = ' on-dark"' if level == 4 else '"'
        parts.append(
            f'<rect class="cell-{level}" x="{x:.1f}" y="{y:.1f}" width="{cell_w:.1f}" height="{cell_h:.1f}"/>'
            f'<rect class="cell-border" x="{x:.1f}" y="{y:.1f}" width="{cell_w:.1f}" height="{cell_h:.1f}"/>'
        )
        middle = x + cell_w / 2
        parts.append(
            f'<text class="count{on_dark} x="{middle:.1f}" y="{y + cell_h / 2 - 2:.1f}" text-anchor="middle">'
            f"{cell.customers}</text>"
        )
        if cell.customers:
            parts.append(
                f'<text class="label{on_dark} x="{middle:.1f}" y="{y + cell_h / 2 + 16:.1f}" '
                f'text-anchor="middle">{_money(cell.value_at_risk)} at risk</text>'
            )
        if _first(cell):
            first = (x, y, on_dark)
    if first is not None:
        # drawn last, so no neighbour's border covers the outline
        x, y, on_dark = first
        parts.append(
            f'<rect class="cell-first{on_dark} x="{x + 2:.1f}" y="{y + 2:.1f}" width="{cell_w - 4:.1f}" '
            f'height="{cell_h - 4:.1f}"/>'
            f'<text class="first-label{on_dark} x="{x + cell_w / 2:.1f}" y="{y + 19:.1f}" '
            'text-anchor="middle">start here</text>'
        )
    for band, (name, span) in enumerate(rows):
        y = top + (bands - 1 - band) * cell_h + cell_h / 2
        parts.append(
            f'<text class="label" x="{left - 8}" y="{y - 2:.1f}" text-anchor="end">{escape(name)}</text>'
            f'<text class="muted" x="{left - 8}" y="{y + 14:.1f}" text-anchor="end">{escape(span)}</text>'
        )
    for band, label in enumerate(columns):
        x = left + band * cell_w + cell_w / 2
        parts.append(
            f'<text class="muted" x="{x:.1f}" y="{height - bottom + 18}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    parts.append(
        f'<text class="label" x="{left + (WIDTH - left) / 2:.1f}" y="{height - 10}" text-anchor="middle">'
        "Customer value (quartiles) →</text>"
        f'<text class="label" x="0" y="{top + 10}">Churn risk ↑</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text above is escaped or a number


def _first(cell: MatrixCellLike) -> bool:
    """The cell the caption says comes first: the highest risk band, the most valuable quartile."""
    return cell.risk_band == 3 and cell.value_band == 3
