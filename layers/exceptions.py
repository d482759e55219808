"""Typed errors of the layer and package build."""

from __future__ import annotations

__all__ = ["LayerBuildError", "PackageError", "SizeBudgetError"]


class LayerBuildError(RuntimeError):
    """pip could not install a layer's requirements for the Lambda platform."""


class PackageError(RuntimeError):
    """A function's code package cannot be assembled (missing or dev-only module)."""


class SizeBudgetError(RuntimeError):
    """A function plus its layers is over the size budget, or uses more than 5 layers."""
