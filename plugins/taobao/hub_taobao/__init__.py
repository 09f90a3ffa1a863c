"""Marketplace Hub plugin for Taobao/Tmall (the TOP router API).

Modules: :mod:`.settings` (shop settings), :mod:`.signing` (pure TOP signers),
:mod:`.client` (requests, error classification, API operations), :mod:`.mappers`
(TOP JSON <-> canonical models; the only place money and time are converted),
:mod:`.sandbox` (a stateful TOP sandbox) and :mod:`.plugin` (the hook functions).
"""

PLATFORM = "taobao"

__all__ = ["PLATFORM"]
