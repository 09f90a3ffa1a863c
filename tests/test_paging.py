"""Paging loops (hub.paging): page numbers both ways, next-page tokens with loop detection."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from hub.paging import numbered_pages, token_pages

pytestmark = pytest.mark.anyio


class NumberedList:
    """Rows 0..total-1 in pages of ``size``; records the pages read."""

    def __init__(self, total: int, size: int, first: int = 1):
        self.total, self.size, self.first = total, size, first
        self.read: list[int] = []

    async def fetch(self, number: int) -> tuple[Sequence[int], int]:
        self.read.append(number)
        start = (number - self.first) * self.size
        return list(range(start, min(start + self.size, self.total))), self.total


async def collect(pages) -> list[Sequence[int]]:  # type: ignore[no-untyped-def]
    return [rows async for rows in pages]


async def test_forwards_reads_every_page_once() -> None:
    source = NumberedList(total=7, size=3)
    assert await collect(numbered_pages(source.fetch, size=3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert source.read == [1, 2, 3]


async def test_an_empty_or_single_page_list_costs_one_call() -> None:
    for total in (0, 3):
        source = NumberedList(total=total, size=3, first=0)
        assert await collect(numbered_pages(source.fetch, size=3, first=0, backwards=True)) == [
            list(range(total))
        ]
        assert source.read == [0]


async def test_a_first_page_already_read_and_a_row_cap() -> None:
    source = NumberedList(total=10, size=3)
    first = await source.fetch(1)
    pages = await collect(numbered_pages(source.fetch, size=3, first_page=first, max_rows=6))
    assert pages == [[0, 1, 2], [3, 4, 5]]  # the platform serves no more than 6 rows
    assert source.read == [1, 2]


async def test_backwards_reads_the_last_page_first_and_the_first_again() -> None:
    source = NumberedList(total=7, size=3, first=0)
    pages = await collect(numbered_pages(source.fetch, size=3, first=0, backwards=True))
    assert source.read == [0, 2, 1, 0]
    assert pages == [[0, 1, 2], [6], [3, 4, 5], [0, 1, 2]]
    source = NumberedList(total=7, size=3)
    pages = await collect(numbered_pages(source.fetch, size=3, backwards=True, yield_first_read=False))
    assert source.read == [1, 3, 2, 1]
    assert pages == [[6], [3, 4, 5], [0, 1, 2]]


async def test_stopping_early_makes_no_further_call() -> None:
    source = NumberedList(total=9, size=3)
    async for rows in numbered_pages(source.fetch, size=3):
        if 4 not in rows:
            continue
        break
    assert source.read == [1, 2]


class TokenList:
    """Pages keyed by token; ``links`` maps each token to the next one."""

    def __init__(self, links: dict[str, str]):
        self.links = links
        self.read: list[str] = []

    async def fetch(self, token: str) -> dict[str, str]:
        self.read.append(token)
        return {"at": token, "next_key": self.links.get(token, "")}


async def test_tokens_are_followed_to_the_end() -> None:
    source = TokenList({"": "a", "a": "b"})
    pages = [p["at"] async for p in token_pages(source.fetch, lambda p: p["next_key"])]
    assert pages == ["", "a", "b"] and source.read == ["", "a", "b"]


async def test_a_token_seen_before_stops_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    # a -> b -> a: comparing with the last token only would loop forever.
    source = TokenList({"": "a", "a": "b", "b": "a"})
    with caplog.at_level(logging.WARNING, logger="hub.paging"):
        pages = [p["at"] async for p in token_pages(source.fetch, lambda p: p["next_key"], what="shop1 list")]
    assert pages == ["", "a", "b"]
    assert "shop1 list" in caplog.text and "second time" in caplog.text
