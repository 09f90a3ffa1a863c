"""Paging loops shared by platform clients.

* :func:`numbered_pages` — lists paged by number whose first page reports the total,
  read forwards or (for lists that shift while they are read) backwards;
* :func:`token_pages` — lists paged by an opaque next-page token, with loop detection.

Both yield pages; the caller maps rows and may stop early (``break``) without a further
call being made.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

log = logging.getLogger("hub.paging")

T = TypeVar("T")
P = TypeVar("P")

Page = tuple[Sequence[T], int]
"""One page of a numbered list: its rows and the total number of rows the list reports."""


async def numbered_pages(
    fetch: Callable[[int], Awaitable[Page[T]]],
    *,
    size: int,
    first: int = 1,
    first_page: Page[T] | None = None,
    max_rows: int | None = None,
    backwards: bool = False,
    yield_first_read: bool = True,
) -> AsyncIterator[Sequence[T]]:
    """The row lists of every page of a list paged by number.

    ``fetch(n)`` reads page ``n`` (``first`` is 1 or 0, as the platform counts) and
    returns its rows and the list's total. The first page is read first (or given as
    ``first_page`` when the caller already has it); the total it reports fixes the last
    page, capped at ``max_rows`` rows when the platform serves no more.

    ``backwards=True`` is for lists sorted by a time that changes while we read (orders
    by modified time): a row that changes leaves its place and shifts later rows towards
    the first page, so reading from the last page back to the first can repeat a row
    but never skip one. When there is more than one page, the first page is read again
    at the end; ``yield_first_read=False`` yields its rows only from that last read
    (otherwise from both: a row that changed in between is then seen as it was, too)."""
    rows, total = first_page if first_page is not None else await fetch(first)
    if max_rows is not None:
        total = min(total, max_rows)
    count = math.ceil(total / size)
    if not backwards or count <= 1:
        yield rows
        for number in range(first + 1, first + count):
            yield (await fetch(number))[0]
        return
    if yield_first_read:
        yield rows
    for number in range(first + count - 1, first - 1, -1):
        yield (await fetch(number))[0]


async def token_pages(
    fetch: Callable[[str], Awaitable[P]],
    next_token: Callable[[P], str | None],
    *,
    first: str = "",
    what: str = "list",
) -> AsyncIterator[P]:
    """Every page of a list paged by an opaque token (WeChat's ``next_key``).

    ``fetch(token)`` reads the page at ``token`` (``first`` for the first page);
    ``next_token(page)`` is the token of the page after it, empty or None at the end. A
    token seen before would read the same pages again forever, so the loop stops there
    (and logs it, naming ``what``)."""
    token, seen = first, {first}
    while True:
        page = await fetch(token)
        yield page
        token = next_token(page) or ""
        if not token:
            return
        if token in seen:
            log.warning("%s: a next-page token came back a second time; stopped paging", what)
            return
        seen.add(token)
