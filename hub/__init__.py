"""Marketplace Hub: one catalogue, stock and order book across Taobao/Tmall, JD,
Douyin shop and the WeChat store.

Plugin authors need only this public surface::

    from hub import hookimpl                      # the hook implementation marker
    from hub.platform import PlatformInfo, Capabilities, OrderWindowRule, ShopSettings
    from hub.client import ShopClient             # base client: operations, write policy,
                                                  # pacing, retries, refresh
    from hub.paging import numbered_pages, token_pages
    from hub.models import Listing, Order, ...    # canonical models (fen, UTC)
    from hub.errors import RateLimited, ...       # error classes to classify into
    from hub.units import yuan_to_fen, ...        # edge conversions
    from hub.testing import ...                   # fixtures, contract tests, sandbox kit
"""

from importlib.metadata import PackageNotFoundError, version

from hub.hookspecs import hookimpl

try:
    __version__ = version("hub")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = ["__version__", "hookimpl"]
