"""What the plugin's README documents, read from the README itself, so tests check the code
against the documentation rather than against a copy of the code's own tables."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def documented_order_states() -> dict[str, set[str]]:
    """JD ``orderState`` -> the canonical statuses the README's "Order statuses" table maps
    it to (``TRADE_CANCELED`` maps to two, told apart by the payment time)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Order statuses", 1)[1].split("\n\n", 2)[1]
    states: dict[str, set[str]] = {}
    for row in section.splitlines()[2:]:  # after the header and the |---| line
        jd_cell, canonical_cell = row.strip("|").split("|")[:2]
        canonical = re.findall(r"`([a-z_]+)`", canonical_cell)[0]
        for state in re.findall(r"`([A-Z_]+)`", jd_cell):
            states.setdefault(state, set()).add(canonical)
    return states
