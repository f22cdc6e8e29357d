"""Every error Scenaria raises on purpose derives from :class:`ScenariaError`.

    ScenariaError
    ├── NotFound                  an id that names nothing
    ├── Conflict                  the request clashes with the current state
    │   ├── IllegalTransition     a task or scenario status change outside its table
    │   └── ScenarioNotActive     capture into a scenario that is not active
    ├── InvalidInput              bad input, reported with a readable reason
    │   └── ScenarioInvalid       a scenario that cannot be saved or activated
    └── DeliveryError             a provider refused or failed a message
        ├── RetryableDeliveryError   try again later (timeouts, 5xx, 4xx SMTP codes)
        │   └── UnreachableError     the resource could not be reached (circuit breaker)
        └── PermanentDeliveryError   never retry (bad address, forbidden host, 4xx HTTP)

An exception's docstring is its default message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scenaria.model.problems import Problem


class ScenariaError(Exception):
    """Scenaria failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class NotFound(ScenariaError):
    """Not found."""


class Conflict(ScenariaError):
    """The request conflicts with the current state."""


class IllegalTransition(Conflict):
    """This state change is not allowed."""


class ScenarioNotActive(Conflict):
    """The scenario is not active, so it captures nobody."""


class InvalidInput(ScenariaError):
    """The input is invalid."""


class ScenarioInvalid(InvalidInput):
    """The scenario has problems that must be fixed first."""

    def __init__(self, problems: Sequence[Problem], message: str | None = None) -> None:
        self.problems = list(problems)
        text = "; ".join(str(p) for p in self.problems)
        super().__init__(message or f"The scenario has problems: {text}")


class DeliveryError(ScenariaError):
    """The provider did not accept the message."""

    def __init__(self, message: str | None = None, response: dict[str, Any] | None = None) -> None:
        self.response = response
        super().__init__(message)


class RetryableDeliveryError(DeliveryError):
    """The provider failed for now; the message will be retried."""


class PermanentDeliveryError(DeliveryError):
    """The provider refused the message for good; it will not be retried."""


class UnreachableError(RetryableDeliveryError):
    """The provider could not be reached (connection refused, timed out, no greeting)."""
