"""The value-vulnerability picture marks where work starts, and its rows say what they hold."""

import re

from feedback_svc.analytics.charts import WIDTH, matrix_chart, risk_rows, trend_chart
from feedback_svc.analytics.schemas import MatrixCell
from feedback_svc.analytics.stats import Estimate


def cells(busiest: tuple[int, int]) -> list[MatrixCell]:
    """A 4x4 grid whose most value at risk sits in `busiest` (risk band, value band)."""
    return [
        MatrixCell(
            risk_band=risk,
            value_band=value,
            customers=10,
            value=1000.0,
            value_at_risk=900.0 if (risk, value) == busiest else 10.0,
        )
        for risk in range(4)
        for value in range(4)
    ]


def test_the_top_right_cell_is_marked_whatever_holds_the_most_value_at_risk() -> None:
    for busiest in ((0, 3), (3, 3), (1, 0)):
        svg = matrix_chart(
            "m", "t", cells(busiest), [10.0, 20.0, 30.0],
            risk_names=["low", "medium", "high", "critical"], risk_cuts=[0.04, 0.13, 0.26],
        )  # fmt: skip
        outline = re.findall(r'<rect class="cell-first[^"]*" x="([\d.]+)" y="([\d.]+)"', svg)
        assert len(outline) == 1, svg
        x, y = map(float, outline[0])
        assert x > 128 + 3 * (640 - 128 - 8) / 4 - 1, "the outline is in the rightmost column"
        assert y < 12 + 5, "and in the top row"
        assert svg.count("start here") == 1
        assert "critical (26% and over), value over 30: 10 customers" in svg
        assert "(work starts here)" in svg


def test_row_labels_name_each_band_and_its_probabilities() -> None:
    assert risk_rows(["low", "medium", "high", "critical"], [0.0433, 0.1259, 0.2649]) == [
        ("low", "below 4.3%"),
        ("medium", "4.3%-13%"),
        ("high", "13%-26%"),
        ("critical", "26% and over"),
    ]


def test_every_month_label_of_the_trend_fits_inside_the_chart() -> None:
    months = ["Jan 2026", "Feb 2026", "Mar 2026", "Apr 2026", "May 2026", "Jun 2026", "Jul 2026",
              "Aug 2026", "Sep 2026", "Oct 2026", "Nov 2026", "Dec 2026"]  # fmt: skip
    points = [(m, Estimate(value=10.0, low=5.0, high=15.0, n=40, small_sample=False)) for m in months]
    svg = trend_chart("trend", "t", points, low=-100, high=100)
    labels = re.findall(
        r'<text class="muted" x="([\d.]+)" y="[\d.]+" text-anchor="middle">(\w{3} \d{4})</text>', svg
    )
    assert labels[-1][1] == "Dec 2026"
    for x, label in labels:
        # 12 px system-ui digits and letters are at most ~7.5 px wide: half the label each side
        assert float(x) - 3.75 * len(label) >= 0, (x, label)
        assert float(x) + 3.75 * len(label) <= WIDTH, (x, label)
