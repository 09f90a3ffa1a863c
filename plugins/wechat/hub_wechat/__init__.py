"""Marketplace Hub plugin for the WeChat store (微信小店, formerly 视频号小店).

Modules: :mod:`~hub_wechat.plugin` (the hooks), :mod:`~hub_wechat.settings`,
:mod:`~hub_wechat.client` (requests, tokens, error classification),
:mod:`~hub_wechat.mappers` (wire JSON <-> canonical models),
:mod:`~hub_wechat.signing` (event-push signatures) and :mod:`~hub_wechat.sandbox`.
"""

PLATFORM = "wechat"

__all__ = ["PLATFORM"]
