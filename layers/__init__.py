"""layers: the Lambda layers and function packages of template.yaml, built and size-checked.

``layers/<name>/requirements.txt`` lists each layer's packages; :mod:`layers.build` installs
them for the Lambda runtime and strips them, :mod:`layers.package` copies each function's
own modules, :mod:`layers.budget` checks both against Lambda's limits. Build tooling only:
nothing here is deployed.
"""

from __future__ import annotations

from layers.budget import (
    BUDGET_BYTES,
    LAMBDA_LIMIT_BYTES,
    MAX_LAYERS,
    FunctionBudget,
    check_budgets,
    format_tables,
)
from layers.build import LAMBDA_PLATFORMS, BuiltLayer, LayerSpec, build_layer, layer_specs
from layers.cli import BuildResult, build_all
from layers.exceptions import LayerBuildError, PackageError, SizeBudgetError
from layers.package import FunctionPackage, handler_modules, package_function

__all__ = [
    "BUDGET_BYTES",
    "LAMBDA_LIMIT_BYTES",
    "LAMBDA_PLATFORMS",
    "MAX_LAYERS",
    "BuildResult",
    "BuiltLayer",
    "FunctionBudget",
    "FunctionPackage",
    "LayerBuildError",
    "LayerSpec",
    "PackageError",
    "SizeBudgetError",
    "build_all",
    "build_layer",
    "check_budgets",
    "format_tables",
    "handler_modules",
    "layer_specs",
    "package_function",
]
