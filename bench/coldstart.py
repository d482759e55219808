"""Cold-start import cost of every Lambda handler in template.yaml; prints a markdown table.

    python bench/coldstart.py                     # 5 fresh interpreters per handler
    python bench/coldstart.py --repeat 9 --json coldstart.json
    python bench/coldstart.py --check             # exit 1 if a CRUD handler misses its target
    python bench/coldstart.py --built             # from the deploy artifacts, as Lambda would

``--built`` imports each handler from what ``sam build`` ships (``python -m layers build``):
the function's own package, its stripped layers in Lambda's order and a stand-in for
``/var/runtime``, in ``python -I -S -B`` (see :mod:`layers.verify`). Nothing else of this
machine is on ``sys.path`` and no bytecode is written — as on Lambda, where ``/opt`` and
``/var/task`` are read-only, so a cold start compiles every module shipped without bytecode
(see ``layers.build.BYTECODE_LAYERS``).

What is measured: for each ``Handler: module.function`` of template.yaml (read with
:class:`stack.Template`), a fresh interpreter (``python -X importtime -c ...``, cwd and
``PYTHONPATH`` the repository root) runs ``import module; getattr(module, "function")`` between
two ``time.perf_counter()`` calls and prints the elapsed time, so interpreter start-up and
shutdown are not counted. The child also reports how many modules the import added to
``sys.modules`` (over the bare ``-c`` interpreter it started as) and whether numpy, pandas,
pyarrow, scipy, matplotlib or awswrangler are among them. The ``-X importtime`` lines written
during the import give the heaviest imports, ranked: each outermost non-project entry (an
import our own code makes) by cumulative time, summed per top-level package (``boto3``), and
each of our modules (``core.models``) by self time, so nothing is counted twice; and, for
each heavy package, the chain of imports that first loaded it.

The baseline is the same measurement of ``import boto3, pydantic; from
aws_lambda_powertools.event_handler import APIGatewayRestResolver`` (what every API function
needs: the SDK, the models and the router). The CRUD functions (Portfolios, Runs, ReportLinks,
ApiDocs) must stay within 1.5x of it and import none of numpy, pandas or pyarrow.

Method: one discarded warm-up run per target (writes bytecode caches, warms the page cache),
then ``--repeat`` rounds; each round runs every target once, in turn, so that background load
on a shared machine lands on all targets alike. Times reported are medians; ``range`` is
min-max over the rounds. Functions sharing a handler are measured once. The child's CPU time
(``time.process_time()``) is reported too: where other work competes for the CPUs it inflates
wall times but hardly CPU times, so the CPU ratio is the steadier of the two; the targets
(and ``--check``) use the wall-time medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from stack import Template  # noqa: E402  (needs ROOT on sys.path)

HEAVY = ("numpy", "pandas", "pyarrow", "scipy", "matplotlib", "awswrangler")
FORBIDDEN = ("numpy", "pandas", "pyarrow")
CRUD = ("PortfoliosFunction", "RunsFunction", "ReportLinksFunction", "ApiDocsFunction")
CRUD_MAX_RATIO = 1.5
PROJECT_PACKAGES = frozenset({"api", "compute", "core", "ingest", "reports", "local"})
BASELINE_CODE = (
    "import boto3, pydantic\n"
    "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
)
BEGIN = "--coldstart-begin--"
END = "--coldstart-end--"
TIMEOUT_S = 300.0
TOP_N = 3
LOADED = 1.15  # baseline wall/CPU above this: the machine is busy, say so

# Runs in the child. ``{code}`` is the import under test, indented into the ``try``.
CHILD = """\
import sys
from time import perf_counter as _pc, process_time as _cpu
_before = set(sys.modules)
sys.stderr.write({begin!r} + "\\n"); sys.stderr.flush()
_error = None
_c0 = _cpu()
_t0 = _pc()
try:
{code}
except BaseException as exc:  # report, do not crash
    _error = f"{{type(exc).__name__}}: {{exc}}"
_elapsed = _pc() - _t0
_cpu_s = _cpu() - _c0
sys.stderr.write({end!r} + "\\n"); sys.stderr.flush()
_added = set(sys.modules) - _before
_heavy = sorted(m for m in {heavy!r} if m in sys.modules)
import json as _json
print(_json.dumps({{"seconds": _elapsed, "cpu_seconds": _cpu_s, "added": len(_added),
                   "bare": len(_before), "heavy": _heavy, "error": _error}}))
"""


@dataclass
class Target:
    """One thing to import in a fresh interpreter: a handler or the baseline."""

    key: str
    code: str
    # sys.path of an isolated interpreter (``--built``); None: the repository's environment.
    paths: list[Path] | None = None


@dataclass
class Node:
    """One ``-X importtime`` entry with the entries it imported."""

    name: str
    self_us: int
    cumulative_us: int
    children: list[Node] = field(default_factory=list)


@dataclass
class Sample:
    """What one fresh interpreter reported."""

    seconds: float
    cpu_seconds: float
    added: int
    bare: int
    heavy: list[str]
    error: str | None
    costs_us: dict[str, int]
    chains: dict[str, list[str]]


@dataclass
class Result:
    """One target over all rounds."""

    key: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        errors = [s.error for s in self.samples if s.error]
        return errors[0] if errors else None

    @property
    def median_ms(self) -> float:
        return statistics.median(s.seconds for s in self.samples) * 1e3

    @property
    def min_ms(self) -> float:
        return min(s.seconds for s in self.samples) * 1e3

    @property
    def max_ms(self) -> float:
        return max(s.seconds for s in self.samples) * 1e3

    @property
    def cpu_ms(self) -> float:
        return statistics.median(s.cpu_seconds for s in self.samples) * 1e3

    @property
    def modules(self) -> int:
        return int(statistics.median(s.added for s in self.samples))

    @property
    def heavy(self) -> list[str]:
        return sorted({m for s in self.samples for m in s.heavy})

    @property
    def chains(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for sample in self.samples:
            for name, chain in sample.chains.items():
                found.setdefault(name, chain)
        return found

    def heaviest(self, n: int = TOP_N) -> list[tuple[str, float]]:
        """The costliest entries of :func:`import_costs`, by median ms over the rounds."""
        names = {p for s in self.samples for p in s.costs_us}
        ms = {p: statistics.median(s.costs_us.get(p, 0) for s in self.samples) / 1e3 for p in names}
        return sorted(ms.items(), key=lambda kv: -kv[1])[:n]


def parse_importtime(stderr: str) -> list[Node]:
    """The ``-X importtime`` entries between the markers, as a forest (top level first)."""
    lines = stderr.splitlines()
    if BEGIN in lines and END in lines:
        lines = lines[lines.index(BEGIN) + 1 : lines.index(END)]
    pending: dict[int, list[Node]] = {}
    for line in lines:
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|", 2)
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header line
        raw = parts[2][1:]  # one space after the bar, then two per nesting level
        depth = (len(raw) - len(raw.lstrip(" "))) // 2
        node = Node(raw.strip(), int(parts[0]), int(parts[1]))
        # Entries are printed when they finish, so children come before their parent.
        node.children = pending.pop(depth + 1, [])
        pending.setdefault(depth, []).append(node)
    if not pending:
        return []
    return pending[min(pending)]


def _is_project(name: str) -> bool:
    return name.split(".", 1)[0] in PROJECT_PACKAGES


def import_costs(roots: list[Node]) -> dict[str, int]:
    """Where the import time goes, in µs, without double counting.

    Walking down from the top-level entries, each module of ours (api, core, ...) counts its
    self time under its own name; the first non-project entry met on a path (an import our
    code makes) counts its cumulative time under its top-level package (``boto3``,
    ``pandas``, ...), and its subtree is not walked further.
    """
    totals: dict[str, int] = {}

    def walk(node: Node) -> None:
        if _is_project(node.name):
            totals[node.name] = totals.get(node.name, 0) + node.self_us
            for child in node.children:
                walk(child)
            return
        package = node.name.split(".", 1)[0]
        totals[package] = totals.get(package, 0) + node.cumulative_us

    for root in roots:
        walk(root)
    return totals


def heavy_chains(roots: list[Node]) -> dict[str, list[str]]:
    """For each heavy package, the chain of imports that first loaded it (outermost first)."""
    chains: dict[str, list[str]] = {}

    def walk(node: Node, path: list[str]) -> None:
        # Children print (and so load) before their parent finishes: visit them first.
        here = [*path, node.name]
        for child in node.children:
            walk(child, here)
        top = node.name.split(".", 1)[0]
        if top in HEAVY and top not in chains and node.name == top:
            chains[top] = here

    for root in roots:
        walk(root, [])
    return chains


def run_once(target: Target) -> Sample:
    indented = "".join(f"    {line}\n" for line in target.code.splitlines())
    script = CHILD.format(begin=BEGIN, end=END, code=indented, heavy=HEAVY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-X", "importtime", "-c", script]
    if target.paths is not None:
        prelude = f"import sys\nsys.path[:0] = {[str(p) for p in target.paths]!r}\n"
        command = [sys.executable, "-I", "-S", "-B", "-X", "importtime", "-c", prelude + script]
        env = {"PATH": env.get("PATH", ""), "LANG": "C.UTF-8", "HOME": env.get("HOME", "/tmp")}
    try:
        proc = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Sample(TIMEOUT_S, TIMEOUT_S, 0, 0, [], f"timed out after {TIMEOUT_S:.0f} s", {}, {})
    try:
        report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = [x for x in proc.stderr.splitlines() if not x.startswith("import time:")]
        reason = tail[-1] if tail else f"exit status {proc.returncode}"
        return Sample(0.0, 0.0, 0, 0, [], f"child failed: {reason}", {}, {})
    roots = parse_importtime(proc.stderr)
    return Sample(
        seconds=float(report["seconds"]),
        cpu_seconds=float(report["cpu_seconds"]),
        added=int(report["added"]),
        bare=int(report["bare"]),
        heavy=list(report["heavy"]),
        error=report["error"],
        costs_us=import_costs(roots),
        chains=heavy_chains(roots),
    )


def handler_code(handler: str) -> str:
    module, _, function = handler.rpartition(".")
    if not module:
        return f"raise ValueError({f'handler {handler!r} is not module.function'!r})"
    return f"import {module}\ngetattr({module}, {function!r})"


def measure(targets: list[Target], repeat: int) -> dict[str, Result]:
    results = {t.key: Result(t.key) for t in targets}
    for target in targets:  # warm-up, discarded
        run_once(target)
    for round_no in range(repeat):
        for target in targets:
            results[target.key].samples.append(run_once(target))
        print(f"round {round_no + 1}/{repeat} done", file=sys.stderr)
    return results


def _flag(result: Result, name: str) -> str:
    return "yes" if name in result.heavy else "-"


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def table(rows: list[dict[str, Any]], baseline: Result) -> str:
    head = (
        "| function | handler | memory | import ms (median) | range ms | cpu ms (median) "
        "| × baseline (wall / cpu) | modules | numpy | pandas | pyarrow | other heavy "
        "| heaviest imports (ms) "
        f"| CRUD ≤{CRUD_MAX_RATIO}× | CRUD no np/pd/pa |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for row in [*rows, _row("baseline", "boto3 + pydantic + router", None, baseline, baseline)]:
        lines.append("| " + " | ".join(str(v) for v in row["cells"]) + " |")
    return "\n".join(lines)


def _row(
    function: str, handler: str, memory: int | None, result: Result, baseline: Result
) -> dict[str, Any]:
    crud = function in CRUD
    ratio = result.median_ms / baseline.median_ms if baseline.median_ms else float("nan")
    cpu_ratio = result.cpu_ms / baseline.cpu_ms if baseline.cpu_ms else float("nan")
    forbidden = [m for m in FORBIDDEN if m in result.heavy]
    if result.error:
        cells = [function, f"`{handler}`", memory or "—", f"ERROR: {result.error}"]
        cells += ["—"] * 11
        return {
            "cells": cells,
            "ok": not crud,
            "ratio": None,
            "cpu_ratio": None,
            "forbidden": forbidden,
        }
    heaviest = ", ".join(f"{name} {ms:.0f}" for name, ms in result.heaviest()) or "—"
    others = ", ".join(m for m in result.heavy if m not in FORBIDDEN) or "-"
    cells = [
        function,
        f"`{handler}`",
        f"{memory} MB" if memory else "—",
        f"{result.median_ms:.0f}",
        f"{result.min_ms:.0f}–{result.max_ms:.0f}",
        f"{result.cpu_ms:.0f}",
        f"{ratio:.2f} / {cpu_ratio:.2f}",
        result.modules,
        _flag(result, "numpy"),
        _flag(result, "pandas"),
        _flag(result, "pyarrow"),
        others,
        heaviest,
        _mark(ratio <= CRUD_MAX_RATIO) if crud else "",
        _mark(not forbidden) if crud else "",
    ]
    ok = not crud or (ratio <= CRUD_MAX_RATIO and not forbidden)
    return {
        "cells": cells,
        "ok": ok,
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "forbidden": forbidden,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds (fresh interpreters)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--check", action="store_true", help="exit 1 if a CRUD target is missed")
    parser.add_argument(
        "--built", action="store_true", help="import from the built packages and layers"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    functions = Template.load().functions()
    if args.built:
        targets, key_of = _built_targets()
    else:
        handlers = sorted({f.handler for f in functions})
        targets = [Target("baseline", BASELINE_CODE)]
        targets += [Target(h, handler_code(h)) for h in handlers]

        def key_of(function: Any) -> str:
            return str(function.handler)

    results = measure(targets, args.repeat)
    baseline = results["baseline"]
    if baseline.error:
        print(f"baseline import failed: {baseline.error}", file=sys.stderr)
        return 2

    rows = [
        _row(f.logical_id, f.handler, f.memory_mb, results[key_of(f)], baseline) for f in functions
    ]
    bare = baseline.samples[0].bare
    where = (
        "built packages + stripped layers, as deployed (bytecode only where the build ships it)"
        if args.built
        else "repository"
    )
    print(
        f"Imports from the {where}. "
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{args.repeat} rounds, medians; bare interpreter has {bare} modules.\n"
    )
    print(
        f"Baseline (boto3 + pydantic + router): {baseline.median_ms:.0f} ms median "
        f"({baseline.min_ms:.0f}–{baseline.max_ms:.0f}), {baseline.modules} modules.\n"
    )
    if baseline.median_ms > LOADED * baseline.cpu_ms:
        print(
            f"Note: the baseline's wall time is {baseline.median_ms / baseline.cpu_ms:.2f}× "
            "its CPU time, so the machine is busy and wall times (and the ✓/✗, which use "
            "them) are noisy; the CPU ratios are steadier. Re-run on a quieter machine "
            "or with more --repeat.\n"
        )
    print(table(rows, baseline))

    chained = [(h, r) for h, r in results.items() if h != "baseline" and r.chains]
    if chained:
        print("\nFirst import chain of each heavy package:\n")
        for handler, result in chained:
            for package, chain in result.chains.items():
                print(f"- `{handler}` loads {package}: " + " → ".join(chain))

    failures = []
    for function, row in zip(functions, rows, strict=True):
        if function.logical_id not in CRUD:
            continue
        result = results[key_of(function)]
        if result.error:
            failures.append(f"{function.logical_id}: import failed: {result.error}")
            continue
        if row["forbidden"]:
            for package in row["forbidden"]:
                via = " → ".join(result.chains.get(package, ["?"]))
                failures.append(f"{function.logical_id} imports {package} via {via}")
        if row["ratio"] > CRUD_MAX_RATIO:
            failures.append(
                f"{function.logical_id}: {result.median_ms:.0f} ms is {row['ratio']:.2f}× "
                f"the baseline {baseline.median_ms:.0f} ms (limit {CRUD_MAX_RATIO}×)"
            )

    if args.json:
        payload: dict[str, Any] = {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "repeat": args.repeat,
            "bare_modules": bare,
            "baseline": _result_json(baseline),
            "functions": [
                {
                    "function": f.logical_id,
                    "handler": f.handler,
                    "memory_mb": f.memory_mb,
                    "layers": list(f.layers),
                    "crud": f.logical_id in CRUD,
                    "ratio": row["ratio"],
                    "cpu_ratio": row["cpu_ratio"],
                    **_result_json(results[key_of(f)]),
                }
                for f, row in zip(functions, rows, strict=True)
            ],
            "failures": failures,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")

    if failures:
        print("\nCRUD targets missed:\n" + "\n".join(f"- {f}" for f in failures))
    else:
        print(
            f"\nCRUD targets met: all within {CRUD_MAX_RATIO}× baseline, no numpy/pandas/pyarrow."
        )
    return 1 if args.check and failures else 0


def _built_targets() -> tuple[list[Target], Any]:
    """One target per function: its package, its layers, the runtime stand-in."""
    import tempfile

    from layers import build_all
    from layers.verify import lambda_sys_path, runtime_site

    built = build_all()
    by_id = {layer.logical_id: layer.python_dir for layer in built.layers}
    runtime = runtime_site(Path(tempfile.mkdtemp(prefix="var-runtime-")))
    targets = [Target("baseline", BASELINE_CODE, [by_id["CoreLayer"], runtime])]
    for budget in built.budgets:
        logical_id = budget.package.logical_id
        layers = [layer.python_dir for layer in budget.layers]
        targets.append(
            Target(
                logical_id,
                handler_code(budget.package.handler),
                lambda_sys_path(budget.package.directory, layers, runtime),
            )
        )

    def key_of(function: Any) -> str:
        return str(function.logical_id)

    return targets, key_of


def _result_json(result: Result) -> dict[str, Any]:
    return {
        "error": result.error,
        "median_ms": None if result.error else result.median_ms,
        "cpu_median_ms": None if result.error else result.cpu_ms,
        "min_ms": None if result.error else result.min_ms,
        "max_ms": None if result.error else result.max_ms,
        "modules": result.modules,
        "heavy": result.heavy,
        "heaviest_ms": dict(result.heaviest()),
        "chains": result.chains,
        "samples": [asdict(s) for s in result.samples],
    }


if __name__ == "__main__":
    sys.exit(main())
