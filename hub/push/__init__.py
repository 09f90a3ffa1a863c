"""Platform push messages: what plugins parse them into (:mod:`hub.push.events`), the
durable inbox (:mod:`hub.push.inbox`), the targeted work an event triggers
(:mod:`hub.push.process`) and the ASGI app of ``hub serve`` (:mod:`hub.push.app`).

This package's ``__init__`` imports nothing, so :mod:`hub.client` can use the event types
without importing the app."""
