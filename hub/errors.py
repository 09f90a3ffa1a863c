"""The hub's error hierarchy.

Every error the hub raises derives from :class:`HubError`. Each class says whether
the operation that raised it may be retried (``retryable``) and which exit code the
CLI uses for it (``exit_code``: 1 = the run failed or partly failed, 2 = configuration
or authentication needs a human). Platform clients classify their platform's error
codes into these classes, so the engine decides retries from the class alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar


class HubError(Exception):
    """Root of every error the hub raises on purpose."""

    retryable: ClassVar[bool] = False
    exit_code: ClassVar[int] = 1


# --- configuration and plugins ---------------------------------------------------------


class ConfigError(HubError):
    """Settings, credentials or arguments are missing or wrong; a human must fix them."""

    exit_code = 2


class UnknownPlatform(ConfigError):
    """A shop names a platform no installed plugin registers."""

    def __init__(self, platform: str, installed: Sequence[str]):
        self.platform = platform
        self.installed = list(installed)
        names = ", ".join(sorted(installed)) or "none"
        super().__init__(f"unknown platform {platform!r}; installed platforms: {names}")


class UnknownShop(ConfigError):
    """A command names a shop that is not configured."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"unknown shop {name!r}; see `hub shops list`")


class SecretKeyError(ConfigError):
    """Stored secrets cannot be read or written: the key is missing, wrong or malformed.

    The message says which key was used, where it came from and how to fix it; it never
    contains a secret or the key."""


class SecretTampered(SecretKeyError):
    """A stored secret fails its integrity check: it was altered or corrupted in the
    database, so it is not used."""


class PluginError(HubError):
    """A plugin could not be loaded or does not do what was asked of it."""


class PluginLoadError(PluginError):
    """A plugin's entry point failed to import or register."""

    def __init__(self, name: str, distribution: str | None, cause: BaseException):
        self.name = name
        self.distribution = distribution
        self.cause = cause
        dist = f" (from {distribution})" if distribution else ""
        super().__init__(f"plugin {name!r}{dist} failed to load: {type(cause).__name__}: {cause}")


class CapabilityNotSupported(PluginError):
    """The shop's platform plugin does not implement this operation."""

    def __init__(self, platform: str, capability: str):
        self.platform = platform
        self.capability = capability
        super().__init__(f"platform {platform!r} does not support {capability}")


# --- platform calls --------------------------------------------------------------------


class PlatformError(HubError):
    """A call to a platform failed. Raised by platform clients, never with secrets in it.

    ``code``/``sub_code`` are the platform's own codes; ``request_id`` is the platform's
    trace id when it sent one, so a support ticket can quote it.
    """

    def __init__(
        self,
        message: str,
        *,
        platform: str = "",
        operation: str = "",
        code: str | int | None = None,
        sub_code: str | None = None,
        request_id: str | None = None,
    ):
        self.message = message
        self.platform = platform
        self.operation = operation
        self.code = code
        self.sub_code = sub_code
        self.request_id = request_id
        super().__init__(message)

    def __str__(self) -> str:
        where = ":".join(p for p in (self.platform, self.operation) if p)
        codes = "/".join(str(c) for c in (self.code, self.sub_code) if c not in (None, ""))
        parts = [f"[{where}]" if where else "", self.message]
        if codes:
            parts.append(f"(code {codes})")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(p for p in parts if p)


class TransportError(PlatformError):
    """The network failed after the request may have reached the platform."""

    retryable = True


class ConnectFailed(TransportError):
    """The request never reached the platform, so even a non-idempotent call may be retried."""


class RequestTimeout(TransportError):
    """No answer in time; the platform may or may not have applied the call."""


class CircuitOpen(PlatformError):
    """The shop's circuit breaker is open: its platform failed to answer several times in
    a row, so calls fail at once (never sent) until a later probe gets through. Not
    retried within the run; the next run (or cycle) probes again."""


class MalformedResponse(PlatformError):
    """The platform answered with a body we cannot read (often a proxy or gateway hiccup)."""

    retryable = True


class RateLimited(PlatformError):
    """The platform throttled us; ``retry_after`` is its requested wait in seconds, if given."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class QuotaExhausted(RateLimited):
    """A quota for a longer period (e.g. the day's calls) is used up: waiting within this
    run will not help, so it is not retried."""

    retryable = False


class ServerError(PlatformError):
    """The platform failed on its side (5xx, isp.*, "system busy"); retry later."""

    retryable = True


class AuthError(PlatformError):
    """Credentials are wrong or expired. ``refreshable`` means a token refresh may cure it.
    ``credential`` says which one the platform refused, when its answer tells: ``"app"``
    (the app key or secret, e.g. a bad signature) or ``"token"`` (the shop's access token)."""

    exit_code = 2

    def __init__(
        self, message: str, *, refreshable: bool = False, credential: str | None = None, **kw: object
    ):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.refreshable = refreshable
        self.credential = credential


class PermissionDenied(PlatformError):
    """The app or shop lacks permission for this API."""

    exit_code = 2


class InvalidRequest(PlatformError):
    """The platform rejected the request's content; ``parameter`` names the field if known."""

    def __init__(self, message: str, *, parameter: str | None = None, **kw: object):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.parameter = parameter


class NotFound(PlatformError):
    """The platform does not know the item, SKU or order."""


class UnexpectedData(PlatformError):
    """The platform answered with a shape or value the plugin does not understand (an
    unknown status, a missing field). Asking again will not change it."""


# --- input, sync and storage --------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with user input: where (e.g. a line number) and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


class InputError(HubError):
    """User input (a file, an argument) is invalid; nothing was changed."""

    exit_code = 2

    def __init__(self, message: str, problems: Sequence[Problem] = ()):
        self.problems = list(problems)
        lines = [message, *(f"  {p}" for p in self.problems)]
        super().__init__("\n".join(lines))


class SyncError(HubError):
    """A sync step failed in a way that is not a single platform call."""


class LeaseHeld(SyncError):
    """Another process holds the lease on this shop and stream; it is doing the work."""

    retryable = True


class JobFailed(SyncError):
    """A worker job's stream did not complete. ``retryable`` (per instance) says whether
    the queue tries it again with backoff (a transient platform error, a lease another
    process holds, a worker that was stopping) or records it as failed with ``reason``."""

    def __init__(self, reason: str, *, retryable: bool, exit_code: int = 1):
        self.reason = reason
        self.retryable = retryable  # type: ignore[misc]
        self.exit_code = exit_code  # type: ignore[misc]
        super().__init__(reason)


class StorageError(HubError):
    """The database failed an operation (a lost connection, a lock held too long)."""


class StorageRefused(StorageError):
    """The database refused the data (a constraint: a duplicate, a value too long); nothing
    was changed, and the same input will be refused again."""

    exit_code = 2


# --- pushes from platforms ---------------------------------------------------------------


class BadPush(HubError):
    """A push message a platform (or anyone) sent us cannot be accepted: nothing of it is
    stored. ``reason`` is one line without secrets, for the log. The sender gets the
    platform's error answer; a genuine platform push will be redelivered."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class PushSignatureInvalid(BadPush):
    """The push's signature (or app id) does not match the shop's credentials."""


class PushMalformed(BadPush):
    """The push's body cannot be read (truncated, not JSON, missing fields, too large)."""


class PushExpired(BadPush):
    """The push carries a timestamp too old to be accepted (a replay)."""
