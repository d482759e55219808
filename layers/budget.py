"""Lambda's size limits, checked per function: its code plus every layer it lists.

Lambda allows 250 MB unzipped for a function and all its layers together, and 5 layers
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). The build
fails above :data:`BUDGET_BYTES` (230 MB) so a dependency bump cannot silently push a
function over the hard limit at deploy time.
"""

from __future__ import annotations

from dataclasses import dataclass

from layers.build import BuiltLayer
from layers.exceptions import SizeBudgetError
from layers.package import FunctionPackage

__all__ = [
    "BUDGET_BYTES",
    "LAMBDA_LIMIT_BYTES",
    "MAX_LAYERS",
    "FunctionBudget",
    "check_budgets",
    "format_tables",
]

MB = 1024 * 1024
LAMBDA_LIMIT_BYTES = 250 * MB
BUDGET_BYTES = 230 * MB
MAX_LAYERS = 5


@dataclass(frozen=True)
class FunctionBudget:
    """One function's deployed size against the limit."""

    package: FunctionPackage
    layers: tuple[BuiltLayer, ...]

    @property
    def unzipped_bytes(self) -> int:
        return self.package.unzipped_bytes + sum(layer.unzipped_bytes for layer in self.layers)

    @property
    def over_budget(self) -> bool:
        return self.unzipped_bytes > BUDGET_BYTES or len(self.layers) > MAX_LAYERS


def check_budgets(budgets: list[FunctionBudget]) -> None:
    """Raise :class:`SizeBudgetError` naming every function over the budget."""
    over = [b for b in budgets if b.over_budget]
    if over:
        lines = [
            f"{b.package.logical_id}: {b.unzipped_bytes / MB:.1f} MB unzipped in "
            f"{len(b.layers)} layers (budget {BUDGET_BYTES // MB} MB, "
            f"limit {LAMBDA_LIMIT_BYTES // MB} MB, at most {MAX_LAYERS} layers)"
            for b in over
        ]
        raise SizeBudgetError("over the size budget:\n  " + "\n  ".join(lines))


def _mb(size: int) -> str:
    return f"{size / MB:.1f}"


def format_tables(layers: list[BuiltLayer], budgets: list[FunctionBudget]) -> str:
    """Two markdown tables: the layers, then each function against the limit."""
    out = [
        "| layer | zipped MB | unzipped MB | left out MB | packages |",
        "|---|---:|---:|---:|---|",
    ]
    for layer in layers:
        top = ", ".join(f"{name} {version}" for name, version in layer.distributions.items())
        out.append(
            f"| {layer.logical_id} | {_mb(layer.zipped_bytes)} | {_mb(layer.unzipped_bytes)} "
            f"| {_mb(sum(layer.stripped_bytes.values()))} | {top} |"
        )
    out += [
        "",
        f"| function | layers | code MB | layers MB | total MB | of {LAMBDA_LIMIT_BYTES // MB} MB "
        f"| budget {BUDGET_BYTES // MB} MB |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for budget in budgets:
        layer_bytes = sum(layer.unzipped_bytes for layer in budget.layers)
        names = " + ".join(layer.name for layer in budget.layers)
        share = budget.unzipped_bytes / LAMBDA_LIMIT_BYTES
        verdict = "**over**" if budget.over_budget else "ok"
        out.append(
            f"| {budget.package.logical_id} | {names} | {budget.package.unzipped_bytes / MB:.2f} "
            f"| {_mb(layer_bytes)} | {_mb(budget.unzipped_bytes)} | {share:.0%} | {verdict} |"
        )
    return "\n".join(out)
