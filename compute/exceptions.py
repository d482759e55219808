"""Typed errors raised by :mod:`compute`.

Every error derives from :class:`ComputeError`, itself a :class:`ValueError`, so callers can
catch the whole family at once (the API layer maps it to a 4xx answer) or a single kind.
"""

from __future__ import annotations

__all__ = [
    "ComputeError",
    "ConvergenceError",
    "InfeasibleError",
    "InvalidInputError",
    "NotPositiveDefiniteError",
]


class ComputeError(ValueError):
    """Base class of every error raised by :mod:`compute`."""


class InvalidInputError(ComputeError):
    """An argument has the wrong shape, a non-finite value or a value out of its domain."""


class NotPositiveDefiniteError(InvalidInputError):
    """A covariance matrix is not positive (semi-)definite where the method needs it to be."""


class InfeasibleError(ComputeError):
    """No portfolio satisfies the constraints or the target.

    Attributes
    ----------
    lower, upper
        The feasible range of the quantity that was out of range (for example the sum of the
        bounds, or the frontier's return range); ``None`` when there is no such range.
    """

    def __init__(
        self, message: str, *, lower: float | None = None, upper: float | None = None
    ) -> None:
        super().__init__(message)
        self.lower = lower
        self.upper = upper


class ConvergenceError(ComputeError):
    """An iterative method did not reach its tolerance within its iteration limit."""
