"""Marketplace Hub plugin for the Douyin shop open platform (抖店, op.jinritemai.com).

Modules: :mod:`~hub_douyin.settings` (shop settings), :mod:`~hub_douyin.signing` (pure
request signing), :mod:`~hub_douyin.client` (wire protocol, error classification, API
operations), :mod:`~hub_douyin.mappers` (platform JSON <-> canonical models),
:mod:`~hub_douyin.sandbox` (a stateful Douyin shop behind the real protocol) and
:mod:`~hub_douyin.plugin` (the hook implementations).
"""

PLATFORM = "douyin"

__all__ = ["PLATFORM"]
