"""Write ``tests/unit/compute/data/quantstats_golden.json``: QuantStats' numbers for a few
seeded daily series, the reference of ``tests/unit/compute/test_compute_performance.py``.

QuantStats is not a project dependency; run this with a separate interpreter that has it::

    python3.11 -m venv /tmp/qs && /tmp/qs/bin/pip install "quantstats==0.0.86"
    /tmp/qs/bin/python tests/support/make_quantstats_golden.py

Each case stores its inputs (business-day dates, returns and a benchmark, rounded to 6
decimals so the JSON stays small and the floats both sides read are exactly the same) and,
for ``rf = 0`` and ``rf = 0.02``, what ``qs.stats.<name>(returns, rf=rf, periods=252)`` returns
for every metric of :func:`compute.performance.metrics` (each function called directly, with
``rf``/``periods`` where it takes them). QuantStats has no ``tracking_error`` or
``correlation``: those two are written out here in pandas (``(r - b).std() * sqrt(252)``, and
``r.corr(b)`` as ``qs.reports.metrics`` computes its "Correlation"). Also stored: the drawdown
series, rolling Sharpe/volatility (every 5th entry, to keep the file small), the monthly and
yearly compounded returns of ``qs.stats.monthly_returns`` and ``qs.stats.drawdown_details``.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PERIODS = 252
RISK_FREE_RATES = (0.0, 0.02)
ROLLING_WINDOWS = (126, 252)
ROLLING_STRIDE = 5
OUTPUT = (
    Path(__file__).resolve().parents[1] / "unit" / "compute" / "data" / "quantstats_golden.json"
)


def _cases() -> list[dict[str, Any]]:
    """The seeded inputs: name, start date, returns and benchmark (6 decimals)."""
    rng = np.random.default_rng(1717)
    cases: list[dict[str, Any]] = []

    # Three years of gaussian returns with a correlated benchmark.
    n = 756
    benchmark = 0.0003 + 0.009 * rng.standard_normal(n)
    returns = 0.0002 + 0.8 * benchmark + 0.007 * rng.standard_normal(n)
    cases.append({"name": "gaussian_3y", "start": "2019-01-02", "r": returns, "b": benchmark})

    # Fat tails (Student t, 3 dof), a loss on the first day (the drawdown starts at row 0)
    # and a slide at the end, so the series finishes under water.
    n = 400
    benchmark = 0.0002 + 0.006 * rng.standard_t(3, n)
    returns = 0.0006 + 0.5 * benchmark + 0.008 * rng.standard_t(3, n)
    returns[0] = -0.012
    returns[-45:] -= 0.004
    cases.append(
        {"name": "fat_tails_underwater", "start": "2020-11-16", "r": returns, "b": benchmark}
    )

    # Forty days with flat (zero) days, shorter than any rolling window, across a month end.
    n = 40
    benchmark = 0.0001 + 0.01 * rng.standard_normal(n)
    returns = 0.001 + 0.012 * rng.standard_normal(n)
    returns[[3, 7, 8, 20]] = 0.0
    returns[0] = -0.004
    cases.append(
        {"name": "short_with_flat_days", "start": "2023-01-16", "r": returns, "b": benchmark}
    )

    for case in cases:
        case["r"] = np.round(case["r"], 6)
        case["b"] = np.round(case["b"], 6)
    return cases


def _metrics(qs: Any, r: pd.Series, b: pd.Series, rf: float) -> dict[str, float]:
    stats = qs.stats
    greeks = stats.greeks(r, b, periods=PERIODS)
    values = {
        "cagr": stats.cagr(r, rf=rf, periods=PERIODS),
        "volatility": stats.volatility(r, periods=PERIODS),
        "sharpe": stats.sharpe(r, rf=rf, periods=PERIODS),
        "sortino": stats.sortino(r, rf=rf, periods=PERIODS),
        "max_drawdown": stats.max_drawdown(r),
        "calmar": stats.calmar(r, periods=PERIODS),
        "value_at_risk": stats.value_at_risk(r),
        "conditional_value_at_risk": stats.conditional_value_at_risk(r),
        "skew": stats.skew(r),
        "kurtosis": stats.kurtosis(r),
        "best": stats.best(r),
        "worst": stats.worst(r),
        "win_rate": stats.win_rate(r),
        "beta": greeks["beta"],
        "alpha": greeks["alpha"],
        # Not QuantStats functions (0.0.86 has neither): the standard definitions in pandas.
        "tracking_error": (r - b).std() * math.sqrt(PERIODS),
        "information_ratio": stats.information_ratio(r, b),
        "correlation": r.corr(b),
    }
    return {key: float(value) for key, value in values.items()}


def _rolling(series: pd.Series) -> dict[str, list[Any]]:
    """Every ROLLING_STRIDE-th valid entry (and the last), with its row in the input."""
    values = series.to_numpy()
    valid = np.flatnonzero(~np.isnan(values))
    rows = valid[::ROLLING_STRIDE]
    if valid.size and rows[-1] != valid[-1]:
        rows = np.append(rows, valid[-1])
    return {"rows": [int(i) for i in rows], "values": [float(values[i]) for i in rows]}


def case_record(
    qs: Any, name: str, start: str, returns: np.ndarray, benchmark: np.ndarray
) -> dict[str, Any]:
    """QuantStats' numbers for one series on business days from ``start`` (the JSON record).

    ``qs`` is the imported ``quantstats`` module; the live test in
    ``tests/unit/compute/test_compute_performance.py`` calls this too.
    """
    dates = pd.bdate_range(start, periods=len(returns))
    r = pd.Series(returns, index=dates, name="returns")
    b = pd.Series(benchmark, index=dates, name="benchmark")
    stats = qs.stats
    rolling: dict[str, dict[str, list[Any]]] = {}
    for window in ROLLING_WINDOWS:
        if len(r) < window:
            continue
        rolling[f"volatility_{window}"] = _rolling(
            stats.rolling_volatility(r, rolling_period=window, periods_per_year=PERIODS)
        )
        for rf in RISK_FREE_RATES:
            rolling[f"sharpe_{window}_rf{rf}"] = _rolling(
                stats.rolling_sharpe(r, rf=rf, rolling_period=window, periods_per_year=PERIODS)
            )
    table = stats.monthly_returns(r, eoy=True)
    months = sorted({(d.year, d.month) for d in dates})
    names = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    monthly = {
        "labels": [f"{year:04d}-{month:02d}" for year, month in months],
        "values": [float(table.loc[str(year), names[month - 1]]) for year, month in months],
    }
    yearly = {
        "labels": [str(year) for year in table.index],
        "values": [float(value) for value in table["EOY"]],
    }
    details = stats.drawdown_details(stats.to_drawdown_series(r))
    periods = [
        {
            "start": str(row["start"]),
            "valley": str(row["valley"]),
            "end": str(row["end"]),
            "max_drawdown_percent": float(row["max drawdown"]),
        }
        for _, row in details.iterrows()
    ]
    return {
        "name": name,
        "dates": [d.strftime("%Y-%m-%d") for d in dates],
        "returns": [float(x) for x in returns],
        "benchmark": [float(x) for x in benchmark],
        "metrics": {str(rf): _metrics(qs, r, b, rf) for rf in RISK_FREE_RATES},
        "drawdown": [float(x) for x in stats.to_drawdown_series(r)],
        "rolling": rolling,
        "monthly": monthly,
        "yearly": yearly,
        "drawdown_details": periods,
    }


def main() -> int:
    qs: Any = importlib.import_module("quantstats")
    document = {
        "about": (
            "QuantStats reference values for compute.performance; regenerate with "
            "tests/support/make_quantstats_golden.py (see its docstring)"
        ),
        "quantstats": str(qs.__version__),
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "periods_per_year": PERIODS,
        "rolling_stride": ROLLING_STRIDE,
        "cases": [
            case_record(qs, case["name"], case["start"], case["r"], case["b"]) for case in _cases()
        ],
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
