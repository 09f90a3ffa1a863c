"""Fixtures of the reliability suite (see support.py for the tools)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.support import Rig, make_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """The four shops on in-process sandboxes, a fake clock, 20 units of each SKU."""
    rig = make_rig(tmp_path)
    yield rig
    rig.close()
