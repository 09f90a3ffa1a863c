"""Marketplace Hub plugin for JD (JOS, 京东宙斯): the /routerjson gateway.

Modules: :mod:`hub_jd.settings` (shop settings), :mod:`hub_jd.signing` (pure md5
signing), :mod:`hub_jd.client` (requests, error classification, API operations),
:mod:`hub_jd.mappers` (JD JSON <-> canonical models), :mod:`hub_jd.sandbox` (a stateful
JD shop behind the real wire protocol) and :mod:`hub_jd.plugin` (the hooks).
"""

PLATFORM = "jd"

__all__ = ["PLATFORM"]
