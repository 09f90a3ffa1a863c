"""Charts rendered on the server as inline SVG by pygal (no script, no web fonts, nothing
fetched from the internet)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pygal
from markupsafe import Markup
from pygal.style import Style

STYLE = Style(
    background="white",
    plot_background="white",
    font_family="sans-serif",
    colors=("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2"),
)


def line_chart(title: str, labels: Sequence[str], series: Mapping[str, Sequence[int]]) -> Markup:
    """A line chart, one line per series, as an ``<svg>`` element safe to embed in a page."""
    chart = pygal.Line(
        title=title,
        style=STYLE,
        width=900,
        height=300,
        js=[],  # pygal's tooltips load a script from the internet: none here
        disable_xml_declaration=True,
        x_label_rotation=45,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(labels) // 10),
        legend_at_bottom=True,
        dots_size=2,
        explicit_size=True,
    )
    if series:  # with none, pygal draws its "No data" (y labels would break it)
        top = max((max(v, default=0) for v in series.values()), default=0)
        step = max(1, math.ceil(top / 5))
        chart.y_labels = list(range(0, top + step + 1, step))  # counts: whole numbers only
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    # pygal builds the SVG as an XML tree, which escapes the labels it writes.
    return Markup(chart.render(is_unicode=True))
