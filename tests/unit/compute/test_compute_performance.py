"""Performance metrics and tearsheet series: hand computations on short series written out with
plain Python arithmetic, QuantStats 0.0.86's stored numbers (``data/quantstats_golden.json``,
made by ``tests/support/make_quantstats_golden.py``), the undefined cases and the errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compute import InvalidInputError
from compute.performance import (
    BENCHMARK_METRICS,
    METRICS,
    DrawdownPeriod,
    drawdown,
    drawdown_periods,
    metrics,
    period_returns,
    rolling_sharpe,
    rolling_volatility,
)

GOLDEN = json.loads(
    (Path(__file__).parent / "data" / "quantstats_golden.json").read_text(encoding="utf-8")
)
# Relative agreement with QuantStats. The metrics agree to ~1e-14 (pandas accumulates skew and
# kurtosis moments online and sums rolling windows with running updates; we use two passes).
GOLDEN_RTOL = 1e-12
# Drawdowns near 0 are compared absolutely: QuantStats rebuilds prices as 1 + (cumprod - 1).
DRAWDOWN_ATOL = 1e-15

R5 = [0.01, -0.02, 0.015, 0.0, -0.005]
B5 = [0.005, -0.01, 0.01, 0.002, -0.004]


# --------------------------------------------------------------------------- hand computations


def _mean(xs: list[float]) -> float:
    return math.fsum(xs) / len(xs)


def _sample_std(xs: list[float]) -> float:
    m = _mean(xs)
    return math.sqrt(math.fsum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def test_metrics_of_a_five_day_series_match_the_formulas_by_hand() -> None:
    rf_annual, periods = 0.03, 252
    got = metrics(R5, risk_free_rate=rf_annual, periods_per_year=periods)
    n = len(R5)

    equity, value = [], 1.0
    for r in R5:
        value *= 1.0 + r
        equity.append(value)
    # 1.01, 0.9898, 1.004647, 1.004647, 0.999623765; the peak is 1.01 from day 1 on.
    peak, deepest = 1.0, 0.0
    for e in equity:
        peak = max(peak, e)
        deepest = min(deepest, e / peak - 1.0)
    assert deepest == pytest.approx(-0.02, rel=1e-12)  # 1.01 * 0.98 / 1.01 - 1
    cagr = equity[-1] ** (periods / n) - 1.0  # years = 5 / 252

    rf = (1.0 + rf_annual) ** (1.0 / periods) - 1.0
    excess = [r - rf for r in R5]
    downside = math.sqrt(math.fsum(x * x for x in excess if x < 0.0) / n)
    mean, std = _mean(R5), _sample_std(R5)
    z = NormalDist().inv_cdf(0.05)
    m2 = math.fsum((r - mean) ** 2 for r in R5)
    m3 = math.fsum((r - mean) ** 3 for r in R5)
    m4 = math.fsum((r - mean) ** 4 for r in R5)
    expected = {
        "cagr": cagr,
        "volatility": std * math.sqrt(periods),
        "sharpe": _mean(excess) / _sample_std(excess) * math.sqrt(periods),
        "sortino": _mean(excess) / downside * math.sqrt(periods),
        "max_drawdown": deepest,
        "calmar": cagr / abs(deepest),
        "value_at_risk": mean + z * std,
        "conditional_value_at_risk": mean - std * NormalDist().pdf(z) / 0.05,
        "skew": n * math.sqrt(n - 1) / (n - 2) * m3 / m2**1.5,
        "kurtosis": (
            n * (n + 1) * (n - 1) / ((n - 2) * (n - 3)) * m4 / m2**2
            - 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))
        ),
        "best": 0.015,
        "worst": -0.02,
        "win_rate": 2 / 4,  # two gains among four non-zero days (the flat day is left out)
    }
    assert list(got) == list(METRICS)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


def test_benchmark_metrics_of_a_five_day_series_by_hand() -> None:
    got = metrics(R5, benchmark=B5, risk_free_rate=0.05, periods_per_year=12)
    mr, mb = _mean(R5), _mean(B5)
    cov = math.fsum((r - mr) * (b - mb) for r, b in zip(R5, B5, strict=True)) / 4
    var_b = math.fsum((b - mb) ** 2 for b in B5) / 4
    beta = cov / var_b
    active = [r - b for r, b in zip(R5, B5, strict=True)]
    expected = {
        "beta": beta,
        "alpha": (mr - beta * mb) * 12,  # annualised, no risk-free rate (QuantStats' greeks)
        "tracking_error": _sample_std(active) * math.sqrt(12),
        "information_ratio": _mean(active) / _sample_std(active),  # per period
        "correlation": cov / (_sample_std(R5) * _sample_std(B5)),
    }
    assert list(got) == list(METRICS) + list(BENCHMARK_METRICS)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key


def test_a_loss_on_the_first_day_is_a_drawdown_from_the_starting_equity() -> None:
    np.testing.assert_allclose(drawdown([-0.1, 0.05, 0.2]), [-0.1, 0.9 * 1.05 - 1, 0.0], atol=1e-15)
    assert metrics([-0.1, 0.05])["max_drawdown"] == pytest.approx(-0.1, rel=1e-12)
    # After a new high the peak is the equity, not the start.
    np.testing.assert_allclose(drawdown([0.1, -0.1]), [0.0, 1.1 * 0.9 / 1.1 - 1], atol=1e-15)


def test_rolling_sharpe_and_volatility_by_hand() -> None:
    rf = (1.02) ** (1 / 252) - 1
    sharpe = rolling_sharpe(R5, 3, risk_free_rate=0.02)
    volatility = rolling_volatility(R5, 3)
    assert sharpe.shape == volatility.shape == (3,)  # windows ending on rows 2, 3 and 4
    for k in range(3):
        window = R5[k : k + 3]
        excess = [r - rf for r in window]
        assert sharpe[k] == pytest.approx(
            _mean(excess) / _sample_std(excess) * math.sqrt(252), rel=1e-12
        )
        assert volatility[k] == pytest.approx(_sample_std(window) * math.sqrt(252), rel=1e-12)
    assert rolling_volatility(R5, 5, periods_per_year=12)[0] == pytest.approx(
        _sample_std(R5) * math.sqrt(12), rel=1e-12
    )


def test_rolling_series_shorter_than_the_window_are_empty_and_flat_windows_zero() -> None:
    assert rolling_sharpe(R5, 6).shape == (0,)
    assert rolling_volatility(R5, 126).shape == (0,)
    flat = rolling_sharpe([0.01, 0.01, 0.01, 0.02], 3)
    assert flat[0] == 0.0
    assert flat[1] == pytest.approx(
        _mean([0.01, 0.01, 0.02]) / _sample_std([0.01, 0.01, 0.02]) * math.sqrt(252), rel=1e-12
    )


def test_period_returns_compound_within_months_and_years() -> None:
    dates = np.array(
        ["2023-12-28", "2023-12-29", "2024-01-02", "2024-01-31", "2024-02-01"],
        dtype="datetime64[D]",
    )
    labels, values = period_returns(R5, dates, "monthly")
    assert labels.dtype == np.dtype("datetime64[M]")
    assert [str(label) for label in labels] == ["2023-12", "2024-01", "2024-02"]
    np.testing.assert_allclose(
        values, [1.01 * 0.98 - 1, 1.015 * 1.0 - 1, -0.005], rtol=1e-12, atol=1e-15
    )
    labels, values = period_returns(R5, dates, "yearly")
    assert labels.dtype == np.dtype("datetime64[Y]")
    assert [str(label) for label in labels] == ["2023", "2024"]
    np.testing.assert_allclose(values, [1.01 * 0.98 - 1, 1.015 * 1.0 * 0.995 - 1], rtol=1e-12)
    # ISO strings and nanosecond timestamps are dates too.
    strings, _ = period_returns(R5, [str(d) for d in dates], "yearly")
    stamps, _ = period_returns(R5, dates.astype("datetime64[ns]"), "yearly")
    assert strings.tolist() == stamps.tolist() == labels.tolist()


def test_drawdown_periods_by_hand() -> None:
    # Equity: 0.9 | 1.08 (new high) | 1.026, 0.9747, 1.07217 | 1.0829 (new high) | 0.75803 ...
    returns = [-0.1, 0.2, -0.05, -0.05, 0.1, 0.01, -0.3, 0.05]
    spells = drawdown_periods(returns)
    assert [(s.start, s.trough, s.recovery, s.length) for s in spells] == [
        (6, 6, None, 2),  # -30 %, still under water at the end
        (0, 0, 1, 1),  # -10 % from the starting equity 1, recovered on row 1
        (2, 3, 5, 3),  # 1.08 -> 0.9747, back above 1.08 on row 5
    ]
    assert spells[0].depth == pytest.approx(-0.3, rel=1e-12)
    assert spells[1].depth == pytest.approx(-0.1, rel=1e-12)
    assert spells[2].depth == pytest.approx(0.95 * 0.95 - 1, rel=1e-12)
    assert spells[0].to_dict() == {
        "start": 6,
        "trough": 6,
        "recovery": None,
        "depth": spells[0].depth,
        "length": 2,
    }
    assert drawdown_periods([0.01, 0.0, 0.02]) == []
    # A lone spell from row 0 that never recovers is reported (QuantStats 0.0.86 drops it).
    assert drawdown_periods([-0.1, 0.05]) == [
        DrawdownPeriod(start=0, trough=0, recovery=None, depth=pytest.approx(-0.1), length=2)
    ]


# --------------------------------------------------------------------------- undefined cases


def test_constant_returns_give_zero_for_undefined_ratios() -> None:
    got = metrics([0.001] * 30, benchmark=[0.002] * 30, risk_free_rate=0.02)
    assert got["volatility"] == pytest.approx(0.0, abs=1e-15)
    assert got["max_drawdown"] == 0.0
    for key in ("sharpe", "sortino", "calmar", "skew", "kurtosis"):
        assert got[key] == 0.0, key
    for key in ("beta", "alpha", "information_ratio", "correlation"):
        assert got[key] == 0.0, key
    assert got["cagr"] == pytest.approx((1.001**30) ** (252 / 30) - 1, rel=1e-12)
    json.dumps(got, allow_nan=False)


def test_other_undefined_cases() -> None:
    zeros = metrics([0.0, 0.0, 0.0, 0.0])
    assert zeros["win_rate"] == 0.0
    assert zeros["cagr"] == 0.0
    assert all(value == 0.0 for value in zeros.values())
    # No losses: the downside deviation is 0, so is sortino; calmar too (no drawdown).
    gains = metrics([0.01, 0.02, 0.005])
    assert gains["sortino"] == 0.0
    assert gains["calmar"] == 0.0
    assert gains["sharpe"] > 0.0
    # A constant loss does have a downside: sortino = mean / |mean| * sqrt(P).
    assert metrics([-0.01] * 5)["sortino"] == pytest.approx(-math.sqrt(252), rel=1e-12)
    # Skew needs 3 observations and kurtosis 4.
    assert metrics([0.01, -0.02])["skew"] == 0.0
    three = metrics([0.01, -0.02, 0.05])
    assert three["kurtosis"] == 0.0
    assert three["skew"] != 0.0
    # The same series as the benchmark: no tracking error, information ratio 0, beta 1.
    same = metrics(R5, benchmark=R5)
    assert same["tracking_error"] == 0.0
    assert same["information_ratio"] == 0.0
    assert same["beta"] == pytest.approx(1.0, rel=1e-12)
    assert same["correlation"] == pytest.approx(1.0, rel=1e-12)
    # Tiny returns: the moments are taken on values scaled by a power of two, so the squares
    # do not underflow and the scale-free statistics are those of the scaled series.
    tiny = metrics([x * 1e-150 for x in R5], benchmark=[x * 1e-160 for x in B5])
    normal = metrics(R5, benchmark=B5)
    for key in ("sharpe", "sortino", "skew", "kurtosis", "win_rate", "correlation"):
        assert tiny[key] == pytest.approx(normal[key], rel=1e-12), key
    assert tiny["beta"] == pytest.approx(normal["beta"] * 1e10, rel=1e-12)
    # A total loss: equity 0, cagr -1, drawdown -100 %.
    ruin = metrics([0.1, -1.0, 0.0])
    assert ruin["cagr"] == -1.0
    assert ruin["max_drawdown"] == -1.0


@settings(max_examples=60, deadline=None)
@given(
    returns=st.lists(
        st.one_of(st.just(0.0), st.just(0.01), st.floats(-1.0, 1.0, allow_nan=False)),
        min_size=2,
        max_size=40,
    ),
    shift=st.floats(-0.05, 0.05, allow_nan=False),
    rf=st.sampled_from([0.0, 0.02, -0.01]),
)
def test_metrics_are_always_finite(returns: list[float], shift: float, rf: float) -> None:
    benchmark = [min(max(r + shift, -1.0), 1.0) for r in reversed(returns)]
    got = metrics(returns, benchmark=benchmark, risk_free_rate=rf)
    assert all(math.isfinite(value) for value in got.values()), got
    dd = drawdown(returns)
    assert np.all(dd <= 0.0)
    assert got["max_drawdown"] == float(np.min(dd))
    assert -1.0 <= got["correlation"] <= 1.0
    assert 0.0 <= got["win_rate"] <= 1.0


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"returns": [0.01]}, "at least 2"),
        ({"returns": []}, "at least 2"),
        ({"returns": [[0.01, 0.02]]}, "1-dimensional"),
        ({"returns": [0.01, float("nan")]}, "NaN"),
        ({"returns": [0.01, float("inf")]}, "NaN or infinite"),
        ({"returns": [0.01, -1.5]}, "below -1"),
        ({"returns": ["a", "b"]}, "numeric"),
        ({"returns": R5, "benchmark": B5[:4]}, "length"),
        ({"returns": R5, "benchmark": [*B5[:4], float("nan")]}, "NaN"),
        ({"returns": R5, "risk_free_rate": -1.0}, "risk_free_rate"),
        ({"returns": R5, "risk_free_rate": float("nan")}, "risk_free_rate"),
        ({"returns": R5, "periods_per_year": 0}, "periods_per_year"),
        ({"returns": R5, "periods_per_year": -252}, "periods_per_year"),
    ],
)
def test_metrics_reject_bad_input(kwargs: dict[str, Any], message: str) -> None:
    returns = kwargs.pop("returns")
    with pytest.raises(InvalidInputError, match=message):
        metrics(returns, **kwargs)


def test_series_reject_bad_input() -> None:
    dates = np.arange(5).astype("datetime64[D]")
    with pytest.raises(InvalidInputError, match="at least 1"):
        drawdown([])
    with pytest.raises(InvalidInputError, match="window"):
        rolling_sharpe(R5, 1)
    with pytest.raises(InvalidInputError, match="window"):
        rolling_volatility(R5, 2.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="periods_per_year"):
        rolling_volatility(R5, 3, periods_per_year=0)
    with pytest.raises(InvalidInputError, match="period must be one of"):
        period_returns(R5, dates, "weekly")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="length"):
        period_returns(R5, dates[:4], "monthly")
    with pytest.raises(InvalidInputError, match="strictly increasing"):
        period_returns(R5, dates[[0, 1, 1, 2, 3]], "monthly")
    with pytest.raises(InvalidInputError, match="NaT"):
        period_returns(R5, np.array([*dates[:4], np.datetime64("NaT")]), "monthly")
    with pytest.raises(InvalidInputError, match="dates"):
        period_returns(R5, ["2024-01-01", "x", "y", "z", "w"], "monthly")
    with pytest.raises(InvalidInputError, match="below -1"):
        drawdown_periods([0.1, -2.0])
    # Compounding past the largest float is an error, not an infinite or NaN result.
    with pytest.raises(InvalidInputError, match="floating-point range"):
        drawdown([1e200, 1e200])
    with pytest.raises(InvalidInputError, match="floating-point range"):
        metrics([1e200, 1e200])
    with pytest.raises(InvalidInputError, match="overflow"):
        metrics([1e10, 1e10])  # cagr = (1e20) ** 126
    with pytest.raises(InvalidInputError, match="floating-point range"):
        period_returns([1e200, 1e200], dates[:2], "yearly")


# --------------------------------------------------------------------------- QuantStats


def _check_against_quantstats(case: dict[str, Any], rtol: float = GOLDEN_RTOL) -> None:
    """Every number of one QuantStats record (see make_quantstats_golden.case_record)."""
    returns = np.array(case["returns"])
    benchmark = np.array(case["benchmark"])
    periods = 252
    for rf_text, expected in case["metrics"].items():
        got = metrics(
            returns, benchmark=benchmark, risk_free_rate=float(rf_text), periods_per_year=periods
        )
        assert set(got) == set(expected)
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, rel=rtol, abs=1e-15), (rf_text, key)

    np.testing.assert_allclose(drawdown(returns), case["drawdown"], rtol=0, atol=DRAWDOWN_ATOL)

    for key, stored in case["rolling"].items():
        kind, window_text, *rest = key.split("_")
        window = int(window_text)
        if kind == "volatility":
            series = rolling_volatility(returns, window, periods_per_year=periods)
        else:
            rf = float(rest[0].removeprefix("rf"))
            series = rolling_sharpe(returns, window, risk_free_rate=rf, periods_per_year=periods)
        assert series.shape == (returns.shape[0] - window + 1,)
        # Entry k is the window ending on row k + window - 1.
        got = series[np.array(stored["rows"]) - (window - 1)]
        np.testing.assert_allclose(got, stored["values"], rtol=rtol, atol=1e-14, err_msg=key)

    dates = np.array(case["dates"], dtype="datetime64[D]")
    for period, table in (("monthly", case["monthly"]), ("yearly", case["yearly"])):
        labels, values = period_returns(returns, dates, period)
        assert [str(label) for label in labels] == table["labels"]
        np.testing.assert_allclose(values, table["values"], rtol=rtol, atol=1e-15)

    row_of = {date: row for row, date in enumerate(case["dates"])}
    spells = sorted(drawdown_periods(returns), key=lambda spell: spell.start)
    assert len(spells) == len(case["drawdown_details"])
    for spell, details in zip(spells, case["drawdown_details"], strict=True):
        assert spell.start == row_of[details["start"]]
        assert spell.trough == row_of[details["valley"]]
        last_under_water = returns.shape[0] - 1 if spell.recovery is None else spell.recovery - 1
        assert last_under_water == row_of[details["end"]]
        assert 100 * spell.depth == pytest.approx(details["max_drawdown_percent"], rel=rtol)


def test_golden_file_is_quantstats_0_0_86() -> None:
    assert GOLDEN["quantstats"] == "0.0.86"
    assert GOLDEN["periods_per_year"] == 252
    assert {case["name"] for case in GOLDEN["cases"]} == {
        "gaussian_3y",
        "fat_tails_underwater",
        "short_with_flat_days",
    }


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=lambda case: case["name"])
def test_matches_stored_quantstats_numbers(case: dict[str, Any]) -> None:
    _check_against_quantstats(case)


def test_matches_quantstats_live() -> None:
    """The same comparison on a fresh series, when QuantStats is installed (not in the venv)."""
    qs = pytest.importorskip("quantstats")
    from tests.support.make_quantstats_golden import case_record

    rng = np.random.default_rng(20240517)
    benchmark = np.round(0.0003 + 0.01 * rng.standard_normal(300), 6)
    returns = np.round(0.0001 + 0.9 * benchmark + 0.006 * rng.standard_t(4, 300), 6)
    _check_against_quantstats(case_record(qs, "live", "2021-03-01", returns, benchmark))
