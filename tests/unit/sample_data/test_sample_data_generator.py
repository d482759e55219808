"""Unit tests of the synthetic price generator and the committed sample."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import sample_data
from sample_data import (
    EPOCH,
    EXTRA_COLUMNS,
    PRICE_SCHEMA,
    PRICE_SCHEMA_EXTRA,
    SAMPLE_FILES,
    SAMPLE_HISTORY_END,
    SAMPLE_TICKERS,
    SECTORS,
    UNIVERSE,
    ModelParams,
    build_sample,
    generate_prices,
    nyse_holidays,
    read_prices,
    sample_files,
    to_wide,
    trading_days,
    universe,
    write_csv,
    write_parquet,
)
from sample_data.__main__ import main

FloatArray = npt.NDArray[np.float64]
PORTFOLIO = {"AAPL": 0.25, "MSFT": 0.25, "GOOGL": 0.20, "AMZN": 0.20, "META": 0.10}


@pytest.fixture(scope="module")
def default_table() -> pa.Table:
    """The default generation: whole universe, 2014-01-02 to 2024-12-31, seed 7."""
    return generate_prices(extra_columns=True)


@pytest.fixture(scope="module")
def default_returns(default_table: pa.Table) -> tuple[list[str], FloatArray]:
    """Daily log returns (NaN where either close is absent) of the default table."""
    _, tickers, closes = to_wide(default_table)
    return tickers, np.diff(np.log(closes), axis=0)


def _pairwise_corr(x: FloatArray) -> FloatArray:
    """Pairwise-complete correlation matrix of the columns of ``x`` (NaN = absent)."""
    m = (~np.isnan(x)).astype(np.float64)
    z = np.nan_to_num(x)
    n = m.T @ m
    sx = z.T @ m  # sum of x_i over rows where x_j is present too
    sxx = (z * z).T @ m
    sxy = z.T @ z
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy / n - (sx / n) * (sx.T / n)
        var_i = sxx / n - (sx / n) ** 2
        return np.asarray(cov / np.sqrt(var_i * var_i.T))


def _excess_kurtosis(x: FloatArray) -> float:
    x = x[~np.isnan(x)]
    x = x - x.mean()
    return float((x**4).mean() / (x**2).mean() ** 2 - 3.0)


def _acf1_squared(x: FloatArray) -> float:
    x = x[~np.isnan(x)]
    y = x * x - (x * x).mean()
    return float((y[1:] * y[:-1]).mean() / (y * y).mean())


# --- determinism ----------------------------------------------------------------------


def test_same_seed_gives_identical_tables() -> None:
    a = generate_prices(40, "2018-01-02", "2020-12-31", seed=11, extra_columns=True)
    b = generate_prices(40, "2018-01-02", "2020-12-31", seed=11, extra_columns=True)
    assert a.equals(b)


def test_different_seeds_differ() -> None:
    a = generate_prices(["AAPL", "XOM"], "2020-01-02", "2020-12-31", seed=1)
    b = generate_prices(["AAPL", "XOM"], "2020-01-02", "2020-12-31", seed=2)
    _, _, wa = to_wide(a)
    _, _, wb = to_wide(b)
    both = ~np.isnan(wa) & ~np.isnan(wb)
    assert not np.allclose(wa[both], wb[both])


def test_values_do_not_depend_on_window_or_selection(default_table: pa.Table) -> None:
    chosen = ["MSFT", "AAPL", "GEHC", "XLNX", "BRK.B"]
    part = generate_prices(chosen, "2021-06-01", "2023-02-01", extra_columns=True)
    lo = pa.scalar(date(2021, 6, 1), pa.date32())
    hi = pa.scalar(date(2023, 2, 1), pa.date32())
    expected = default_table.filter(
        pc.and_(
            pc.is_in(default_table["ticker"], pa.array(chosen)),
            pc.and_(
                pc.greater_equal(default_table["date"], lo),
                pc.less_equal(default_table["date"], hi),
            ),
        )
    )
    assert part.num_rows > 0
    assert part.equals(expected)


def test_extending_the_end_keeps_the_prefix() -> None:
    short = generate_prices(["AAPL", "QAAB"], "2024-01-02", "2024-06-28")
    long = generate_prices(["AAPL", "QAAB"], "2024-01-02", "2026-06-30")
    assert long.slice(0, short.num_rows).equals(short)


def test_close_does_not_depend_on_extra_columns(default_table: pa.Table) -> None:
    plain = generate_prices()
    assert plain.schema.equals(PRICE_SCHEMA)
    assert plain.equals(default_table.select(["date", "ticker", "close"]))


# --- schema, sorting, validity ----------------------------------------------------------


def test_schema_and_sorting(default_table: pa.Table) -> None:
    assert default_table.schema.equals(PRICE_SCHEMA_EXTRA)
    assert default_table.column_names == ["date", "ticker", "close", *EXTRA_COLUMNS]
    order = pc.sort_indices(
        default_table, sort_keys=[("date", "ascending"), ("ticker", "ascending")]
    )
    assert np.array_equal(order.to_numpy(), np.arange(default_table.num_rows))
    assert all(default_table.column(c).null_count == 0 for c in default_table.column_names)


def test_no_duplicate_ticker_date(default_table: pa.Table) -> None:
    keys = default_table.group_by(["date", "ticker"]).aggregate([])
    assert keys.num_rows == default_table.num_rows


def test_prices_finite_and_positive(default_table: pa.Table) -> None:
    for name in ("close", "open", "high", "low"):
        values = default_table[name].to_numpy()
        assert np.isfinite(values).all()
        assert (values > 0).all()
        assert np.array_equal(values, np.round(values, sample_data.PRICE_DECIMALS))


def test_ohlc_consistent_and_volume_positive(default_table: pa.Table) -> None:
    o, h, low, c = (default_table[k].to_numpy() for k in ("open", "high", "low", "close"))
    assert (h >= np.maximum(o, c)).all()
    assert (low <= np.minimum(o, c)).all()
    volume = default_table["volume"]
    assert volume.type == pa.int64()
    assert (volume.to_numpy() > 0).all()
    # A realistic intraday range: median high/low of a few percent at most.
    assert 0.005 < float(np.median(np.log(h / low))) < 0.05


def test_default_universe_and_span(default_table: pa.Table) -> None:
    tickers = set(default_table["ticker"].to_pylist())
    assert len(tickers) >= 100
    assert set(PORTFOLIO) <= tickers
    dates = default_table["date"].to_numpy().astype("datetime64[D]")
    assert (dates.max() - dates.min()).astype(int) >= 10 * 365
    weekdays = (dates.astype(np.int64) + 3) % 7
    assert (weekdays < 5).all()
    assert len(np.unique(dates)) >= 10 * 250
    assert not np.isin(np.datetime64("2024-12-25"), dates)
    sectors = {info.sector for info in UNIVERSE if info.ticker in tickers}
    assert len(sectors) >= 10


# --- statistical properties -----------------------------------------------------------


def test_sector_factor_structure(default_returns: tuple[list[str], FloatArray]) -> None:
    tickers, returns = default_returns
    sector_of = {info.ticker: info.sector for info in UNIVERSE}
    corr = _pairwise_corr(returns)
    sectors = np.array([sector_of[t] for t in tickers])
    same = sectors[:, None] == sectors[None, :]
    upper = np.triu(np.ones_like(same), k=1) & np.isfinite(corr)
    within = float(np.mean(corr[upper & same]))
    cross = float(np.mean(corr[upper & ~same]))
    assert within > cross > 0.0
    assert 0.1 < cross < 0.5


def test_fat_tails(default_returns: tuple[list[str], FloatArray]) -> None:
    _, returns = default_returns
    kurtosis = np.array([_excess_kurtosis(returns[:, j]) for j in range(returns.shape[1])])
    assert float(np.median(kurtosis)) > 1.0
    assert float(np.mean(kurtosis > 1.0)) > 0.9


def test_volatility_clustering(default_returns: tuple[list[str], FloatArray]) -> None:
    _, returns = default_returns
    acf = np.array([_acf1_squared(returns[:, j]) for j in range(returns.shape[1])])
    assert float(np.mean(acf)) > 0.05


def test_annualised_volatilities_realistic(default_returns: tuple[list[str], FloatArray]) -> None:
    _, returns = default_returns
    vols = np.nanstd(returns, axis=0) * np.sqrt(252)
    assert 0.2 < float(np.median(vols)) < 0.4
    assert float(vols.min()) > 0.12
    assert float(vols.max()) < 0.8
    market = np.nanmean(returns, axis=1)
    assert 0.08 < float(np.std(market) * np.sqrt(252)) < 0.25


def test_listings_and_delistings(default_table: pa.Table) -> None:
    first = default_table.group_by("ticker").aggregate([("date", "min"), ("date", "max")])
    starts = dict(zip(first["ticker"].to_pylist(), first["date_min"].to_pylist(), strict=True))
    ends = dict(zip(first["ticker"].to_pylist(), first["date_max"].to_pylist(), strict=True))
    listed = [t for t, d in starts.items() if d > date(2014, 1, 31)]
    delisted = [t for t, d in ends.items() if d < date(2024, 12, 1)]
    assert len(listed) >= 3
    assert len(delisted) >= 3
    assert starts["GEHC"] == date(2023, 1, 4)
    assert ends["XLNX"] < date(2022, 2, 14)
    assert ends["XLNX"] >= date(2022, 2, 1)


def test_missing_days_present_but_rare(default_table: pa.Table) -> None:
    days = trading_days(date(2014, 1, 2), date(2024, 12, 31))
    expected = 0
    for info in UNIVERSE:
        lo = np.datetime64(info.listed or EPOCH, "D")
        hi = np.datetime64(info.delisted or date(9999, 12, 31), "D")
        expected += int(((days >= lo) & (days < hi)).sum())
    missing = 1.0 - default_table.num_rows / expected
    assert 0.0 < missing < 0.02


def test_missing_rate_zero_gives_complete_panel() -> None:
    table = generate_prices(
        ["AAPL", "JPM"], "2024-01-02", "2024-12-31", params=ModelParams(missing_rate=0.0)
    )
    assert table.num_rows == 2 * 252


# --- universe and calendar -------------------------------------------------------------


def test_universe() -> None:
    symbols = [info.ticker for info in UNIVERSE]
    assert len(symbols) >= 100
    assert len(set(symbols)) == len(symbols)
    assert all(re.fullmatch(r"[A-Z]{1,5}(\.[A-Z])?", s) for s in symbols)
    assert {"AAPL", "MSFT", "GOOGL", "AMZN", "META", "NVDA", "JPM", "XOM", "JNJ", "PG"} <= set(
        symbols
    )
    assert "BRK.B" in symbols
    assert {info.sector for info in UNIVERSE} == set(SECTORS)
    assert len(SECTORS) >= 10
    assert {info.sector for info in universe(len(SECTORS))} == set(SECTORS)
    extended = universe(len(UNIVERSE) + 3)
    assert [info.ticker for info in extended[-3:]] == ["QAAA", "QAAB", "QAAC"]
    assert all(info.trades_on(date(2020, 1, 2)) for info in extended[-3:])


def test_unknown_ticker_and_bad_arguments_raise() -> None:
    with pytest.raises(KeyError, match="APPL"):
        generate_prices(["APPL"])
    with pytest.raises(ValueError, match="start"):
        generate_prices(["AAPL"], start="1999-12-31")
    with pytest.raises(ValueError, match="ISO"):
        generate_prices(["AAPL"], start="yesterday")
    with pytest.raises(ValueError, match="seed"):
        generate_prices(["AAPL"], seed=-1)
    with pytest.raises(ValueError, match="calendar"):
        generate_prices(["AAPL"], calendar="lse")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="missing_rate"):
        ModelParams(missing_rate=0.7)


def test_empty_window_gives_empty_table() -> None:
    table = generate_prices(["AAPL"], "2024-12-25", "2024-12-25", extra_columns=True)
    assert table.num_rows == 0
    assert table.schema.equals(PRICE_SCHEMA_EXTRA)


def test_nyse_calendar() -> None:
    assert nyse_holidays(2024) == [
        date(2024, 1, 1),
        date(2024, 1, 15),
        date(2024, 2, 19),
        date(2024, 3, 29),
        date(2024, 5, 27),
        date(2024, 6, 19),
        date(2024, 7, 4),
        date(2024, 9, 2),
        date(2024, 11, 28),
        date(2024, 12, 25),
    ]
    assert len(trading_days(date(2022, 1, 1), date(2022, 12, 31))) == 251
    assert len(trading_days(date(2023, 1, 1), date(2023, 12, 31))) == 250
    assert len(trading_days(date(2024, 1, 1), date(2024, 12, 31))) == 252
    assert len(trading_days(date(2024, 1, 1), date(2024, 12, 31), "weekdays")) == 262


# --- writers and readers ---------------------------------------------------------------


def test_csv_and_parquet_round_trip(tmp_path: Path) -> None:
    table = generate_prices(12, "2023-06-01", "2023-08-31", seed=3, extra_columns=True)
    csv_path = write_csv(table, tmp_path / "p.csv")
    pq_path = write_parquet(table, tmp_path / "p.parquet")
    assert read_prices(csv_path).equals(table)
    assert read_prices(pq_path).equals(table)
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "date,ticker,close,open,high,low,volume"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d,[A-Z.]+(,\d+\.\d{4}){4},\d+", lines[1])
    again = write_csv(table, tmp_path / "again.csv")
    assert again.read_bytes() == csv_path.read_bytes()


def test_generates_the_full_universe_over_eleven_years() -> None:
    # No assertion on the duration: wall-clock time depends on the machine and its load.
    table = generate_prices(120, "2014-01-02", "2024-12-31", seed=7)
    assert table.num_rows > 300_000
    assert len(set(table.column("ticker").to_pylist())) == 120


# --- the committed sample --------------------------------------------------------------


def test_committed_files_reproduce(tmp_path: Path) -> None:
    history, monthly = build_sample()
    committed_csv, committed_parquet = sample_files()
    regenerated = write_csv(history, tmp_path / committed_csv.name)
    assert regenerated.read_bytes() == committed_csv.read_bytes()
    assert read_prices(committed_csv).equals(history)
    assert pq.read_table(committed_parquet).equals(monthly)


def test_sample_tells_the_two_delivery_story() -> None:
    paths = sample_files()
    assert [p.name for p in paths] == ["prices_history.csv", "prices_2024-12.parquet"]
    assert paths == list(SAMPLE_FILES)
    assert sum(p.stat().st_size for p in paths) < 3_000_000
    history, monthly = (read_prices(p) for p in paths)
    assert history.column_names == ["date", "ticker", "close", *EXTRA_COLUMNS]
    assert monthly.column_names == ["date", "ticker", "close"]
    assert len(set(SAMPLE_TICKERS)) == len(SAMPLE_TICKERS) == 30
    assert set(PORTFOLIO) <= set(history["ticker"].to_pylist())
    assert set(history["ticker"].to_pylist()) == set(SAMPLE_TICKERS)
    assert set(monthly["ticker"].to_pylist()) == set(SAMPLE_TICKERS)
    assert pc.max(history["date"]).as_py() == SAMPLE_HISTORY_END == date(2024, 11, 29)
    h_days = np.unique(history["date"].to_numpy())
    assert (h_days.max() - h_days.min()).astype(int) > 2 * 365
    m_dates = monthly["date"].to_pylist()
    assert min(m_dates) == date(2024, 12, 2)
    assert max(m_dates) == date(2024, 12, 31)
    # December continues the same paths: generating December alone gives the same values.
    december = generate_prices(SAMPLE_TICKERS, "2024-12-01", "2024-12-31", seed=7)
    assert december.equals(monthly)


def test_cli_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "prices.parquet"
    argv = ["--tickers", "AAPL,msft", "--start", "2024-01-02", "--end", "2024-03-28"]
    assert main([*argv, "--out", str(out)]) == 0
    table = read_prices(out)
    assert set(table["ticker"].to_pylist()) == {"AAPL", "MSFT"}
    assert table.equals(generate_prices(["AAPL", "MSFT"], "2024-01-02", "2024-03-28"))
    csv_out = tmp_path / "prices.csv"
    argv = ["--tickers", "15", "--start", "2024-01-02", "--end", "2024-01-31", "--seed", "3"]
    assert main([*argv, "--format", "csv", "--out", str(csv_out), "--extra-columns"]) == 0
    assert read_prices(csv_out).equals(
        generate_prices(15, "2024-01-02", "2024-01-31", seed=3, extra_columns=True)
    )
    assert main(["--write-sample", str(tmp_path / "sample")]) == 0
    for committed in SAMPLE_FILES:
        rebuilt = tmp_path / "sample" / committed.name
        assert read_prices(rebuilt).equals(read_prices(committed))
    assert "wrote" in capsys.readouterr().out
