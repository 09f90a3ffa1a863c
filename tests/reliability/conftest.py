"""Fixtures of the reliability suite (see support.py for the tools)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.support import Rig, make_rig


@pytest.fixture
def rig(hub_db_url: str) -> Iterator[Rig]:
    """The four shops on in-process sandboxes, a fake clock, 20 units of each SKU."""
    rig = make_rig(hub_db_url)
    yield rig
    rig.close()
