"""``stratigos layers …`` and ``python -m layers …``: build, check, and SAM's make targets.

    stratigos layers build                 # every layer + every function package, the tables
    stratigos layers build --layer numeric # one layer
    stratigos layers sam-build CoreLayer "$ARTIFACTS_DIR"   # what `sam build` runs via make

``build`` exits 1 when a function is over the size budget (see :mod:`layers.budget`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from layers.budget import FunctionBudget, check_budgets, format_tables
from layers.build import ROOT, BuiltLayer, build_layer, layer_specs
from layers.exceptions import LayerBuildError, PackageError, SizeBudgetError
from layers.package import package_function
from stack import Template

__all__ = ["BuildResult", "build_all", "configure_parser", "main"]

DEFAULT_OUT = ROOT / "build"


class BuildResult:
    """Everything ``build_all`` made, and the tables describing it."""

    def __init__(self, layers: list[BuiltLayer], budgets: list[FunctionBudget]) -> None:
        self.layers = layers
        self.budgets = budgets

    def tables(self) -> str:
        return format_tables(self.layers, self.budgets)


def build_all(
    template: Path = ROOT / "template.yaml",
    out: Path = DEFAULT_OUT,
    *,
    only: list[str] | None = None,
    force: bool = False,
    refresh: bool = False,
) -> BuildResult:
    """Build the template's layers (in parallel) and every function's code package."""
    resolved = Template.load(template)
    specs = [s for s in layer_specs(resolved) if not only or s.name in only]
    with ThreadPoolExecutor(max_workers=len(specs) or 1) as pool:
        built = list(
            pool.map(
                lambda spec: build_layer(spec, out / "layers", force=force, refresh=refresh),
                specs,
            )
        )
    by_id = {layer.logical_id: layer for layer in built}
    budgets = []
    if not only:
        for function in resolved.functions():
            package = package_function(function.logical_id, function.handler, out / "functions")
            unknown = [name for name in function.layer_ids if name not in by_id]
            if unknown:
                raise SizeBudgetError(
                    f"{function.logical_id}: layers {unknown} are not layers of this template"
                )
            budgets.append(FunctionBudget(package, tuple(by_id[n] for n in function.layer_ids)))
    return BuildResult(built, budgets)


def _cmd_build(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        result = build_all(
            Path(args.template),
            Path(args.out),
            only=args.layer,
            force=args.force,
            refresh=args.refresh,
        )
    except (LayerBuildError, PackageError, SizeBudgetError) as error:
        print(f"stratigos layers: {error}", file=sys.stderr)
        return 1
    print(result.tables())
    reused = sum(layer.cached for layer in result.layers)
    print(
        f"\nbuilt in {time.perf_counter() - started:.1f} s "
        f"({reused} of {len(result.layers)} layers reused from {args.out}/layers)"
    )
    try:
        check_budgets(result.budgets)
    except SizeBudgetError as error:
        print(f"stratigos layers: {error}", file=sys.stderr)
        return 1
    return 0


def _cmd_sam_build(args: argparse.Namespace) -> int:
    """``make build-<LogicalId>`` for ``sam build``: fill ``$(ARTIFACTS_DIR)``."""
    template = Template.load(Path(args.template))
    artifacts = Path(args.artifacts_dir)
    artifacts.mkdir(parents=True, exist_ok=True)
    layers = {spec.logical_id: spec for spec in layer_specs(template)}
    handlers = {f.logical_id: f.handler for f in template.functions()}
    if args.logical_id in layers:
        built = build_layer(layers[args.logical_id], Path(args.out) / "layers")
        shutil.copytree(built.python_dir, artifacts / "python", dirs_exist_ok=True)
        print(f"{args.logical_id}: {built.unzipped_bytes / 2**20:.1f} MB → {artifacts}")
        return 0
    if args.logical_id in handlers:
        package = package_function(
            args.logical_id, handlers[args.logical_id], artifacts, zip_it=False
        )
        print(f"{args.logical_id}: {len(package.modules)} modules → {artifacts}")
        return 0
    print(f"stratigos layers: {args.logical_id} is not a function or layer", file=sys.stderr)
    return 2


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``build`` and ``sam-build`` subcommands to ``parser``."""
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="build directory (build/)")
    commands = parser.add_subparsers(dest="layers_command", required=True)
    build = commands.add_parser("build", help="build layers and function packages, check sizes")
    build.add_argument("--layer", action="append", help="only this layer (repeatable)")
    build.add_argument("--force", action="store_true", help="rebuild even if unchanged")
    build.add_argument("--refresh", action="store_true", help="re-resolve against the index")
    build.set_defaults(func=_cmd_build)
    sam = commands.add_parser("sam-build", help="fill $(ARTIFACTS_DIR) for one resource")
    sam.add_argument("logical_id")
    sam.add_argument("artifacts_dir")
    sam.set_defaults(func=_cmd_sam_build)


def main(argv: list[str] | None = None) -> int:
    """``python -m layers``."""
    parser = argparse.ArgumentParser(prog="python -m layers", description=__doc__)
    configure_parser(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))
