"""Input checks shared by the public functions; each raises a typed :mod:`compute` error."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compute.exceptions import InvalidInputError, NotPositiveDefiniteError

# A Cholesky pivot this small relative to the largest variance means the matrix is singular to
# working precision even though the factorisation itself went through.
_SINGULAR_PIVOT_RATIO = 1e-12
# Symmetry is checked relative to the largest entry; the matrix is then symmetrised exactly.
_SYMMETRY_TOLERANCE = 1e-8


def as_float_array(value: Any, name: str, ndim: int) -> NDArray[np.float64]:
    """Convert to a float64 array of the given number of dimensions or raise."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be numeric: {exc}") from exc
    if array.ndim != ndim:
        raise InvalidInputError(f"{name} must be {ndim}-dimensional, got shape {array.shape}")
    return array


def require_finite(array: NDArray[np.float64], name: str) -> None:
    """Raise unless every entry is finite."""
    if not np.all(np.isfinite(array)):
        raise InvalidInputError(f"{name} contains NaN or infinite values")


def positive_number(value: float, name: str) -> float:
    """Return ``value`` as a float after checking it is finite and > 0."""
    number = float(value)
    if not math.isfinite(number) or number <= 0.0:
        raise InvalidInputError(f"{name} must be a positive finite number, got {value!r}")
    return number


def positive_int(value: int, name: str, minimum: int = 1) -> int:
    """Return ``value`` after checking it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInputError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise InvalidInputError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def clean_returns(returns: Any, name: str = "returns") -> NDArray[np.float64]:
    """Validate a T×N matrix of simple returns and drop its incomplete rows.

    NaN policy: a row (day) with a NaN in any column is removed (listwise deletion), which keeps
    every estimate built from the remaining rows positive semi-definite. Infinite values are an
    error. At least two complete rows and two columns must remain.
    """
    matrix = as_float_array(returns, name, 2)
    if matrix.shape[1] < 2:
        raise InvalidInputError(f"{name} needs at least 2 assets (columns), got {matrix.shape[1]}")
    if np.any(np.isinf(matrix)):
        raise InvalidInputError(f"{name} contains infinite values")
    complete_rows = ~np.any(np.isnan(matrix), axis=1)
    if not np.all(complete_rows):
        matrix = matrix[complete_rows]
    if matrix.shape[0] < 2:
        raise InvalidInputError(
            f"{name} needs at least 2 complete rows (days without NaN), got {matrix.shape[0]}"
        )
    return matrix


def check_covariance(cov: Any, name: str = "cov") -> NDArray[np.float64]:
    """Return a finite, exactly symmetric N×N copy of ``cov`` (N >= 2) or raise.

    Positive (semi-)definiteness is checked separately because methods differ in what they need.
    """
    matrix = as_float_array(cov, name, 2)
    rows, cols = matrix.shape
    if rows != cols:
        raise InvalidInputError(f"{name} must be square, got shape {matrix.shape}")
    if rows < 2:
        raise InvalidInputError(f"{name} needs at least 2 assets, got {rows}")
    require_finite(matrix, name)
    scale = float(np.max(np.abs(matrix)))
    if np.max(np.abs(matrix - matrix.T)) > _SYMMETRY_TOLERANCE * max(scale, 1e-300):
        raise InvalidInputError(f"{name} is not symmetric")
    symmetric: NDArray[np.float64] = 0.5 * (matrix + matrix.T)
    if np.any(np.diag(symmetric) < 0.0):
        raise NotPositiveDefiniteError(f"{name} has a negative variance on its diagonal")
    return symmetric


def cholesky_or_raise(cov: NDArray[np.float64], name: str = "cov") -> NDArray[np.float64]:
    """Lower Cholesky factor of a positive definite ``cov``; raise if it is not (numerically) PD.

    The caller is told to shrink the estimate (e.g. with Ledoit-Wolf), which is the usual fix for
    a singular sample covariance when assets outnumber observations.
    """
    hint = (
        f"{name} is not positive definite (singular or indefinite); "
        "a Ledoit-Wolf shrunk estimate is positive definite"
    )
    # Imported here, not with the module: the render function draws the tearsheet's series
    # (compute.performance, which validates with this module) on layers without scipy.
    import scipy.linalg

    try:
        factor: NDArray[np.float64] = scipy.linalg.cholesky(cov, lower=True, check_finite=False)
    except np.linalg.LinAlgError as exc:
        raise NotPositiveDefiniteError(hint) from exc
    pivots = np.diag(factor) ** 2
    if float(np.min(pivots)) <= _SINGULAR_PIVOT_RATIO * float(np.max(np.diag(cov))):
        raise NotPositiveDefiniteError(hint)
    return factor


def psd_factor(cov: NDArray[np.float64], name: str = "cov") -> NDArray[np.float64]:
    """A matrix ``A`` with ``A @ A.T == cov`` for a positive semi-definite ``cov``.

    Built from the eigendecomposition so singular matrices (perfectly correlated or riskless
    assets) are allowed; eigenvalues below ``-1e-10 * max|eigenvalue|`` are an error and the
    remaining tiny negative ones are rounding, set to zero.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(cov)
    largest = float(np.max(np.abs(eigenvalues))) if eigenvalues.size else 0.0
    if float(np.min(eigenvalues)) < -1e-10 * max(largest, 1e-300):
        raise NotPositiveDefiniteError(
            f"{name} is not positive semi-definite (smallest eigenvalue "
            f"{float(np.min(eigenvalues)):.3g})"
        )
    root = np.sqrt(np.clip(eigenvalues, 0.0, None))
    factor: NDArray[np.float64] = eigenvectors * root
    return factor


def vector_of_length(value: Any, name: str, length: int) -> NDArray[np.float64]:
    """A finite 1-D float vector of the given length, or raise."""
    vector = as_float_array(value, name, 1)
    if vector.shape[0] != length:
        raise InvalidInputError(f"{name} must have length {length}, got {vector.shape[0]}")
    require_finite(vector, name)
    return vector


def finite_number(value: Any, name: str) -> float:
    """``value`` as a float; a non-number, NaN or an infinity raises
    :class:`InvalidInputError`."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(number):
        raise InvalidInputError(f"{name} must be finite, got {value!r}")
    return number


def number_or_infinity(value: Any, name: str) -> float:
    """``value`` as a float; a non-number or NaN raises :class:`InvalidInputError` (infinities
    pass: they are meaningful for a floor, a cap or an open side of a limit)."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a number, got {value!r}") from exc
    if math.isnan(number):
        raise InvalidInputError(f"{name} is NaN")
    return number
