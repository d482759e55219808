"""Unit tests of the ingest validation layer (vendor price files → good rows + quarantine)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.exceptions import FileRejectCode, FileRejectedError, IngestError
from ingest.schemas import PRICE_SCHEMA
from ingest.validation import (
    REPORT_VERSION,
    VALIDATED_SCHEMA,
    RejectedRow,
    RejectReason,
    ValidatedPrices,
    detect_format,
    quarantine_csv,
    quarantine_report,
    validate_prices,
)
from sample_data import generate_prices, sample_files, write_csv, write_parquet

TODAY = date(2024, 12, 31)
HEADER = "date,ticker,close,open,high,low,volume"
GOOD = "2024-01-02,AAPL,185.5,184.0,186.0,183.5,1000"


def run(text: str | bytes, *, filename: str = "prices.csv", **kwargs: Any) -> ValidatedPrices:
    """Validate inline CSV (or Parquet bytes) and check the accounting invariants."""
    data = text.encode() if isinstance(text, str) else text
    kwargs.setdefault("today", TODAY)
    result = validate_prices(data, filename=filename, **kwargs)
    assert_consistent(result)
    return result


def assert_consistent(result: ValidatedPrices) -> None:
    assert result.table.schema == VALIDATED_SCHEMA
    assert result.rows_read == result.table.num_rows + result.rows_rejected
    assert set(result.rejected_counts) == {str(r) for r in RejectReason}
    rows = [r.row for r in result.rejected]
    assert rows == sorted(set(rows))
    keys = list(
        zip(result.table["ticker"].to_pylist(), result.table["date"].to_pylist(), strict=True)
    )
    assert keys == sorted(set(keys)), "sorted by (ticker, date) and unique"


def rejected(result: ValidatedPrices) -> list[tuple[int, RejectReason]]:
    return [(r.row, r.reason) for r in result.rejected]


def csv_of(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


class NonSeekable(io.RawIOBase):
    """A stream like an S3 StreamingBody: readable once, not seekable, short reads."""

    def __init__(self, data: bytes, chunk: int = 1 << 20) -> None:
        super().__init__()
        self._inner = io.BytesIO(data)
        self._chunk = chunk

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        chunk = self._inner.read(min(len(buffer), self._chunk))
        buffer[: len(chunk)] = chunk
        return len(chunk)


# --------------------------------------------------------------------------- reasons


@pytest.mark.parametrize(
    ("row", "reason", "fragments"),
    [
        (",AAPL,10,,,,", RejectReason.MISSING_VALUE, ["date", "empty"]),
        ("2024-01-03,,10,,,,", RejectReason.MISSING_VALUE, ["ticker", "empty"]),
        ("2024-01-03,AAPL,,,,,", RejectReason.MISSING_VALUE, ["close", "empty"]),
        ("2024-01-03,AAPL,  ,,,,", RejectReason.MISSING_VALUE, ["close", "empty"]),
        ("2024-02-30,AAPL,10,,,,", RejectReason.BAD_DATE, ["'2024-02-30'", "ISO"]),
        ("2024/01/03,AAPL,10,,,,", RejectReason.BAD_DATE, ["'2024/01/03'"]),
        ("03-01-2024,AAPL,10,,,,", RejectReason.BAD_DATE, ["'03-01-2024'"]),
        ("2024-1-3,AAPL,10,,,,", RejectReason.BAD_DATE, ["'2024-1-3'"]),
        ("2024-01-03T25:00,AAPL,10,,,,", RejectReason.BAD_DATE, ["'2024-01-03T25:00'"]),
        ("2024-01-03T09:30,AAPL,10,,,,", RejectReason.DATE_HAS_TIME, ["'2024-01-03T09:30'"]),
        ("2024-01-03T00:00:01Z,AAPL,10,,,,", RejectReason.DATE_HAS_TIME, ["time of day"]),
        ("1899-12-31,AAPL,10,,,,", RejectReason.BAD_DATE, ["'1899-12-31'", "before 1900-01-01"]),
        ("2025-01-01,AAPL,10,,,,", RejectReason.FUTURE_DATE, ["'2025-01-01'", "2024-12-31"]),
        ("2024-01-03,aapl,10,,,,", RejectReason.BAD_TICKER, ["'aapl'", "upper-case"]),
        ("2024-01-03,ABCDEFGHIJK,10,,,,", RejectReason.BAD_TICKER, ["'ABCDEFGHIJK'"]),
        ("2024-01-03,1ABC,10,,,,", RejectReason.BAD_TICKER, ["'1ABC'"]),
        ("2024-01-03,BRK..B,10,,,,", RejectReason.BAD_TICKER, ["'BRK..B'"]),
        ("2024-01-03,BRK.BBBBB,10,,,,", RejectReason.BAD_TICKER, ["'BRK.BBBBB'"]),
        ("2024-01-03,AAPL,abc,,,,", RejectReason.BAD_NUMBER, ["close", "'abc'"]),
        ('2024-01-03,AAPL,10,"1,5",,,', RejectReason.BAD_NUMBER, ["open", "'1,5'"]),
        ("2024-01-03,AAPL,10,,0x10,,", RejectReason.BAD_NUMBER, ["high", "'0x10'"]),
        ("2024-01-03,AAPL,nan,,,,", RejectReason.NON_FINITE_PRICE, ["close", "'nan'"]),
        ("2024-01-03,AAPL,inf,,,,", RejectReason.NON_FINITE_PRICE, ["close", "'inf'"]),
        ("2024-01-03,AAPL,Infinity,,,,", RejectReason.NON_FINITE_PRICE, ["'Infinity'"]),
        ("2024-01-03,AAPL,-inf,,,,", RejectReason.NON_FINITE_PRICE, ["'-inf'"]),
        ("2024-01-03,AAPL,1e999,,,,", RejectReason.NON_FINITE_PRICE, ["'1e999'"]),
        ("2024-01-03,AAPL,10,,,NaN,", RejectReason.NON_FINITE_PRICE, ["low", "'NaN'"]),
        ("2024-01-03,AAPL,0,,,,", RejectReason.NON_POSITIVE_PRICE, ["close", "'0'"]),
        ("2024-01-03,AAPL,-1.5,,,,", RejectReason.NON_POSITIVE_PRICE, ["close", "'-1.5'"]),
        ("2024-01-03,AAPL,10,-2,,,", RejectReason.NON_POSITIVE_PRICE, ["open", "'-2'"]),
        ("2024-01-03,AAPL,1000000001,,,,", RejectReason.PRICE_OUT_OF_RANGE, ["'1000000001'"]),
        ("2024-01-03,AAPL,10,,2e9,,", RejectReason.PRICE_OUT_OF_RANGE, ["high", "'2e9'"]),
        ("2024-01-03,AAPL,10,,,,-5", RejectReason.BAD_VOLUME, ["volume", "'-5'"]),
        ("2024-01-03,AAPL,10,,,,12.5", RejectReason.BAD_VOLUME, ["volume", "'12.5'"]),
        ("2024-01-03,AAPL,10,,,,lots", RejectReason.BAD_VOLUME, ["volume", "'lots'"]),
        ("2024-01-03,AAPL,10,,,,1e30", RejectReason.BAD_VOLUME, ["volume", "'1e30'"]),
        ("2024-01-03,AAPL,10,,,,inf", RejectReason.BAD_VOLUME, ["volume", "'inf'"]),
        ("2024-01-03,AAPL,10,10,12,10.5,", RejectReason.INCONSISTENT_OHLC, ["low=10.5"]),
        ("2024-01-03,AAPL,10,11,10.5,9,", RejectReason.INCONSISTENT_OHLC, ["high=10.5"]),
        ("2024-01-03,AAPL,10,9,9.5,8,", RejectReason.INCONSISTENT_OHLC, ["close=10"]),
        ("2024-01-03,AAPL,10", RejectReason.MALFORMED_ROW, ["3 fields", "7"]),
        ("2024-01-03,AAPL,10,,,,,extra", RejectReason.MALFORMED_ROW, ["8 fields"]),
    ],
)
def test_each_reason_has_row_number_and_message(
    row: str, reason: RejectReason, fragments: list[str]
) -> None:
    result = run(csv_of(GOOD, row, "2024-01-04,MSFT,370.1,,,,"))
    assert rejected(result) == [(2, reason)]
    message = result.rejected[0].message
    for fragment in fragments:
        assert fragment in message
    assert result.rejected_counts[str(reason)] == 1
    assert result.rows_read == 3
    assert result.table["ticker"].to_pylist() == ["AAPL", "MSFT"]


def test_bad_ticker_message_says_tickers_are_upper_case_and_keeps_the_raw_value() -> None:
    result = run(csv_of("2024-01-03,brk.b,10,,,,"))
    [bad] = result.rejected
    assert "tickers are upper-case exchange symbols" in bad.message
    assert bad.values["ticker"] == "brk.b"
    assert result.table.num_rows == 0  # never silently upper-cased


@pytest.mark.parametrize("ticker", ["A", "AAPL", "BRK.B", "BF-B", "ABCDEFGHIJ", "X1.A2B3", "Q0"])
def test_valid_tickers(ticker: str) -> None:
    assert run(csv_of(f"2024-01-03,{ticker},10,,,,")).table["ticker"].to_pylist() == [ticker]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("1200", 1200),
        ("1200.0", 1200),
        ("+7", 7),
        (" 42 ", 42),
        ("0", 0),
        ("1.2e3", 1200),
        ("", None),
        ("123456789012345678", 123456789012345678),
    ],
)
def test_volume_accepted_forms(field: str, expected: int | None) -> None:
    result = run(csv_of(f"2024-01-03,AAPL,10,,,,{field}"))
    assert result.table["volume"].to_pylist() == [expected]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("10", 10.0),
        ("10.25", 10.25),
        (" 10.5 ", 10.5),
        ("+3", 3.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("1E-2", 0.01),
        ("1000000000", 1e9),
    ],
)
def test_price_accepted_forms(field: str, expected: float) -> None:
    assert run(csv_of(f"2024-01-03,AAPL,{field},,,,")).table["close"].to_pylist() == [expected]


def test_surrounding_whitespace_is_stripped_everywhere() -> None:
    result = run(csv_of("  2024-01-03 , AAPL ,  10.5 , 10 , 11 , 9.5 , 7 "))
    assert result.table.to_pylist() == [
        {
            "date": date(2024, 1, 3),
            "ticker": "AAPL",
            "close": 10.5,
            "open": 10.0,
            "high": 11.0,
            "low": 9.5,
            "volume": 7,
        }
    ]


def test_optional_prices_empty_are_null_and_ohlc_only_checked_when_complete() -> None:
    # high < close, but open is missing: not all four present, so no OHLC check.
    result = run(csv_of("2024-01-03,AAPL,10,,9,,"))
    assert result.rows_rejected == 0
    assert result.table.to_pylist()[0] == {
        "date": date(2024, 1, 3),
        "ticker": "AAPL",
        "close": 10.0,
        "open": None,
        "high": 9.0,
        "low": None,
        "volume": None,
    }


def test_ohlc_relative_tolerance() -> None:
    result = run(
        csv_of("2024-01-03,AAPL,100,100,100,100.00000001,", "2024-01-04,AAPL,100,100,100,100.001,")
    )
    assert rejected(result) == [(2, RejectReason.INCONSISTENT_OHLC)]


def test_future_date_uses_today_and_defaults_to_utc_today() -> None:
    tomorrow = date.fromordinal(datetime.now(UTC).date().toordinal() + 1).isoformat()
    result = validate_prices(csv_of(f"{tomorrow},AAPL,10,,,,", GOOD).encode(), filename="x.csv")
    assert rejected(result) == [(1, RejectReason.FUTURE_DATE)]
    assert run(csv_of("2024-12-31,AAPL,10,,,,")).rows_rejected == 0  # today itself is fine


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("bad,aapl,,x,,,-1", RejectReason.MISSING_VALUE),  # empty close beats the rest
        ("bad,aapl,x,,,,-1", RejectReason.BAD_DATE),
        ("2024-01-03,aapl,x,,,,-1", RejectReason.BAD_TICKER),
        ("2024-01-03,AAPL,10,x,,,-1", RejectReason.BAD_NUMBER),
        ("2024-01-03,AAPL,10,inf,-1,,", RejectReason.NON_FINITE_PRICE),
        ("2024-01-03,AAPL,10,11,2e9,0,", RejectReason.NON_POSITIVE_PRICE),
        ("2024-01-03,AAPL,10,11,12,13,-1", RejectReason.BAD_VOLUME),  # before OHLC
    ],
)
def test_a_row_gets_its_first_problem_only(row: str, reason: RejectReason) -> None:
    assert rejected(run(csv_of(row))) == [(1, reason)]


def test_first_problem_in_column_order_within_a_reason() -> None:
    [bad] = run(csv_of("2024-01-03,AAPL,x,y,,,")).rejected
    assert bad.reason == RejectReason.BAD_NUMBER
    assert bad.message.startswith("close 'x'")


def test_good_rows_survive_next_to_bad_ones_and_are_sorted() -> None:
    result = run(
        csv_of(
            "2024-01-03,MSFT,371,,,,",
            "2024-01-03,AAPL,x,,,,",
            "2024-01-02,MSFT,370,,,,",
            "2024-01-02,AAPL,185,,,,",
            "2024-01-04,aapl,186,,,,",
        )
    )
    assert rejected(result) == [(2, RejectReason.BAD_NUMBER), (5, RejectReason.BAD_TICKER)]
    assert [(r["ticker"], r["date"].isoformat(), r["close"]) for r in result.table.to_pylist()] == [
        ("AAPL", "2024-01-02", 185.0),
        ("MSFT", "2024-01-02", 370.0),
        ("MSFT", "2024-01-03", 371.0),
    ]
    assert result.rows_read == 5


def test_output_schema_is_price_schema_first_seven_fields() -> None:
    result = run(csv_of(GOOD), filename="x.csv")
    assert list(result.table.schema) == list(PRICE_SCHEMA)[:7]
    assert not result.table.schema.field("close").nullable


def test_rejected_values_are_raw_text() -> None:
    [bad] = run(csv_of(" 2024-01-03 ,AAPL,abc, 1.50 ,,,")).rejected
    assert bad.values == {
        "date": " 2024-01-03 ",
        "ticker": "AAPL",
        "close": "abc",
        "open": " 1.50 ",
        "high": "",
        "low": "",
        "volume": "",
    }


# --------------------------------------------------------------------------- duplicates


def test_every_occurrence_of_a_duplicate_key_is_rejected_naming_the_others() -> None:
    result = run(
        csv_of(
            "2024-01-02,AAPL,10,,,,",
            "2024-01-02,MSFT,20,,,,",
            "2024-01-02,AAPL,10.5,,,,",
            "2024-01-03,AAPL,11,,,,",
            " 2024-01-02 , AAPL ,10.25,,,,",
        )
    )
    assert rejected(result) == [
        (1, RejectReason.DUPLICATE_KEY),
        (3, RejectReason.DUPLICATE_KEY),
        (5, RejectReason.DUPLICATE_KEY),
    ]
    assert "(AAPL, 2024-01-02)" in result.rejected[0].message
    assert "row(s) 3, 5" in result.rejected[0].message
    assert "row(s) 1, 5" in result.rejected[1].message
    assert result.rejected[2].values["date"] == " 2024-01-02 "  # raw text, re-read
    assert result.rejected_counts["DUPLICATE_KEY"] == 3
    assert result.table["ticker"].to_pylist() == ["AAPL", "MSFT"]


def test_duplicate_with_another_problem_keeps_its_own_reason() -> None:
    result = run(
        csv_of("2024-01-02,AAPL,10,,,,", "2024-01-02,AAPL,abc,,,,", "2024-01-02,AAPL,,,,,")
    )
    assert rejected(result) == [
        (1, RejectReason.DUPLICATE_KEY),
        (2, RejectReason.BAD_NUMBER),
        (3, RejectReason.MISSING_VALUE),
    ]
    assert "row(s) 2, 3" in result.rejected[0].message
    assert result.table.num_rows == 0


def test_same_date_different_tickers_and_same_ticker_different_dates_are_not_duplicates() -> None:
    result = run(csv_of("2024-01-02,AAPL,1,,,,", "2024-01-02,AAP,1,,,,", "2024-01-03,AAPL,1,,,,"))
    assert result.rows_rejected == 0


@pytest.mark.parametrize("batch_rows", [1, 2, 3])
def test_duplicates_spanning_batches(batch_rows: int) -> None:
    rows = [f"2024-01-{d:02d},T{t},{10 + d},,,," for t in range(3) for d in range(2, 8)]
    rows.insert(16, "2024-01-02,T0,99,,,,")  # row 17 repeats row 1
    result = run(csv_of(*rows), batch_rows=batch_rows)
    assert rejected(result) == [(1, RejectReason.DUPLICATE_KEY), (17, RejectReason.DUPLICATE_KEY)]
    assert "row(s) 17" in result.rejected[0].message
    assert result.rejected[1].values["close"] == "99"
    assert result.table.num_rows == 17


def test_duplicate_values_from_a_non_seekable_stream_are_rendered() -> None:
    data = csv_of("2024-01-02,AAPL,10.50,,,,", "2024-01-02,AAPL,11,,,,").encode()
    result = validate_prices(NonSeekable(data), filename="x.csv", today=TODAY)  # type: ignore[arg-type]
    assert rejected(result) == [(1, RejectReason.DUPLICATE_KEY), (2, RejectReason.DUPLICATE_KEY)]
    assert result.rejected[0].values["close"] == "10.5"
    assert result.rejected[0].values["date"] == "2024-01-02"


def test_many_duplicates_message_is_bounded() -> None:
    result = run(csv_of(*["2024-01-02,AAPL,10,,,,"] * 15))
    assert result.rejected_counts["DUPLICATE_KEY"] == 15
    assert "and 4 more" in result.rejected[0].message


# --------------------------------------------------------------------------- header


@pytest.mark.parametrize(
    "header",
    [
        "date,ticker,close",
        "DATE,Ticker,CLOSE",
        " date , ticker ,close ",
        "\ufeffdate,ticker,close",
        "\ufeff Date ,TICKER,Close",
        '"date","ticker","close"',
    ],
)
def test_header_variants(header: str) -> None:
    result = run(f"{header}\n2024-01-02,AAPL,10\n".encode())
    assert result.columns == ("date", "ticker", "close")
    assert result.table.num_rows == 1


def test_extra_columns_are_ignored_and_listed_and_order_is_free() -> None:
    result = run("Source,ticker,Currency,close,date\nx,AAPL,USD,10,2024-01-02\n")
    assert result.columns == ("source", "ticker", "currency", "close", "date")
    assert result.ignored_columns == ("source", "currency")
    assert result.table.to_pylist()[0]["ticker"] == "AAPL"
    result = run("Source,ticker,Currency,close,date\nx,AAPL,USD,bad,2024-01-02\n")
    assert result.rejected[0].values == {
        "source": "x",
        "ticker": "AAPL",
        "currency": "USD",
        "close": "bad",
        "date": "2024-01-02",
    }


@pytest.mark.parametrize("header", ["date,ticker,close,Close", "date,ticker,close,x, X "])
def test_duplicate_columns_refuse_the_file(header: str) -> None:
    with pytest.raises(FileRejectedError) as info:
        run(f"{header}\n")
    assert info.value.code == FileRejectCode.DUPLICATE_COLUMN


@pytest.mark.parametrize(
    ("header", "missing"),
    [("date,ticker", "close"), ("ticker,close", "date"), ("date,symbol,close", "ticker")],
)
def test_missing_required_column_refuses_the_file(header: str, missing: str) -> None:
    with pytest.raises(FileRejectedError) as info:
        run(f"{header}\n2024-01-02,AAPL\n")
    assert info.value.code == FileRejectCode.MISSING_COLUMN
    assert missing in info.value.message


# --------------------------------------------------------------------------- whole files


def test_zero_byte_file_is_refused() -> None:
    with pytest.raises(FileRejectedError) as info:
        run(b"")
    assert info.value.code == FileRejectCode.EMPTY_FILE
    assert isinstance(info.value, IngestError)
    assert info.value.as_dict()["code"] == "EMPTY_FILE"


@pytest.mark.parametrize("data", [b"\n\n", b"\xef\xbb\xbf", b"\r\n"])
def test_file_without_header_is_refused(data: bytes) -> None:
    with pytest.raises(FileRejectedError) as info:
        run(data)
    assert info.value.code == FileRejectCode.NO_HEADER


@pytest.mark.parametrize("data", [HEADER, HEADER + "\n", HEADER + "\r\n\r\n", "date,ticker,close"])
def test_header_only_file_is_not_an_error(data: str) -> None:
    result = run(data)
    assert result.rows_read == 0
    assert result.table.num_rows == 0
    assert result.table.schema == VALIDATED_SCHEMA
    assert result.rejected == ()


# pyarrow reports (as "exception ignored") that it cannot decode a bad row's text.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_garbage_bytes_are_refused() -> None:
    garbage = bytes(range(256)) * 20
    with pytest.raises(FileRejectedError) as info:
        run(garbage, filename="prices.csv")
    assert info.value.code in {FileRejectCode.INVALID_ENCODING, FileRejectCode.UNPARSEABLE}
    with pytest.raises(FileRejectedError) as info:
        run(garbage, filename="prices.parquet")
    assert info.value.code == FileRejectCode.UNPARSEABLE


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(FileRejectedError) as info:
        run(csv_of(GOOD).encode() + b"2024-01-03,AAPL,10,,,,caf\xe9\n", filename="x.csv")
    assert info.value.code == FileRejectCode.INVALID_ENCODING


def test_invalid_utf8_in_a_later_batch_still_refuses_the_whole_file() -> None:
    rows = [f"2024-01-02,T{i},1,,,," for i in range(200)]
    data = csv_of(*rows).encode() + b"2024-01-03,\xff\xfe,1,,,,\n"
    with pytest.raises(FileRejectedError) as info:
        run(data, batch_rows=10)
    assert info.value.code == FileRejectCode.INVALID_ENCODING


def test_unknown_format_is_refused() -> None:
    with pytest.raises(FileRejectedError) as info:
        run(csv_of(GOOD), filename="prices.xlsx")
    assert info.value.code == FileRejectCode.UNSUPPORTED_FORMAT
    # An explicit format skips detection.
    assert run(csv_of(GOOD), filename="prices.xlsx", file_format="csv").table.num_rows == 1


def test_detect_format() -> None:
    assert detect_format("a.csv", b"date,") == "csv"
    assert detect_format("raw/prices/A.CSV", b"date,") == "csv"
    assert detect_format("a.parquet", b"") == "parquet"
    assert detect_format("a.pq", b"xx") == "parquet"
    assert detect_format("a.csv", b"PAR1\x15\x04") == "parquet"  # content beats name
    assert detect_format("", b"PAR1") == "parquet"
    for name in ("", "a.txt", "a.csv.gz", "csv"):
        with pytest.raises(FileRejectedError):
            detect_format(name, b"date,ticker,close")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="batch_rows"):
        run(csv_of(GOOD), batch_rows=0)
    with pytest.raises(ValueError, match="max_rejected_details"):
        run(csv_of(GOOD), max_rejected_details=-1)


# --------------------------------------------------------------------------- CSV syntax


def test_embedded_quotes_newlines_and_crlf() -> None:
    data = (
        "date,ticker,close,note\r\n"
        '2024-01-02,AAPL,10,"say ""hi"""\r\n'
        '2024-01-03,AAPL,11,"two\r\nlines"\r\n'
        '2024-01-04,AAPL,x,"a,b\nc"\r\n'
        '"2024-01-05","AAPL","12",""\r\n'
    )
    result = run(data)
    assert result.rows_read == 4
    assert result.table["close"].to_pylist() == [10.0, 11.0, 12.0]
    [bad] = result.rejected
    assert (bad.row, bad.reason) == (3, RejectReason.BAD_NUMBER)  # records, not lines
    assert bad.values["note"] == "a,b\nc"


def test_malformed_rows_are_numbered_as_records_and_keep_their_fields() -> None:
    data = csv_of(
        "2024-01-02,AAPL,1,,,,", '2024-01-03,"A\nB",1', "", "2024-01-04,AAPL,2,,,,", "oops"
    )
    result = run(data)
    assert rejected(result) == [(2, RejectReason.MALFORMED_ROW), (4, RejectReason.MALFORMED_ROW)]
    assert result.rejected[0].values == {"date": "2024-01-03", "ticker": "A\nB", "close": "1"}
    assert result.rows_read == 4  # the blank line is not a record


def test_malformed_rows_across_batches_keep_later_row_numbers_right() -> None:
    rows = [f"2024-01-02,T{i},1,,,," if i % 7 else f"2024-01-02,T{i}" for i in range(60)]
    rows.append("2024-01-03,BAD,x,,,,")
    result = run(csv_of(*rows), batch_rows=4)
    malformed = [r.row for r in result.rejected if r.reason == RejectReason.MALFORMED_ROW]
    assert malformed == list(range(1, 61, 7))
    assert rejected(result)[-1] == (61, RejectReason.BAD_NUMBER)


def test_unterminated_quote_is_a_malformed_row() -> None:
    result = run('date,ticker,close\n2024-01-02,AAPL,1\n2024-01-03,"AAPL,2\n')
    assert rejected(result) == [(2, RejectReason.MALFORMED_ROW)]
    assert result.table.num_rows == 1


# --------------------------------------------------------------------------- Parquet


def test_parquet_typed_columns() -> None:
    table = pa.table(
        {
            "Date": pa.array(
                [date(2024, 1, 2), date(2024, 1, 3), None, date(2024, 1, 5)], pa.date32()
            ),
            "TICKER": pa.array(["AAPL", "AAPL", "AAPL", "msft"]).dictionary_encode(),
            "close": pa.array([10.0, float("nan"), 12.0, 13.0]),
            "volume": pa.array([1200.0, 5.0, None, 1.0]),
            "vendor_id": pa.array([[1], [2], [3], [4]]),  # ignored, even if nested
        }
    )
    result = run(parquet_bytes(table), filename="p.parquet")
    assert result.file_format == "parquet"
    assert result.ignored_columns == ("vendor_id",)
    assert rejected(result) == [
        (2, RejectReason.NON_FINITE_PRICE),
        (3, RejectReason.MISSING_VALUE),
        (4, RejectReason.BAD_TICKER),
    ]
    assert result.rejected[0].values == {
        "date": "2024-01-03",
        "ticker": "AAPL",
        "close": "nan",
        "volume": "5",
    }
    assert "null" in result.rejected[1].message
    assert result.table.to_pylist() == [
        {
            "date": date(2024, 1, 2),
            "ticker": "AAPL",
            "close": 10.0,
            "open": None,
            "high": None,
            "low": None,
            "volume": 1200,
        }
    ]


@pytest.mark.parametrize(
    ("stamps", "type_", "expected"),
    [
        # Midnight in New York is 05:00 UTC: still Jan 2, the day in the file's own zone.
        (
            [datetime(2024, 1, 2, 5, 0, tzinfo=UTC)],
            pa.timestamp("us", tz="America/New_York"),
            date(2024, 1, 2),
        ),
        # Midnight in Tokyo is 15:00 UTC the day before: never floored to UTC's day.
        (
            [datetime(2024, 1, 1, 15, 0, tzinfo=UTC)],
            pa.timestamp("us", tz="Asia/Tokyo"),
            date(2024, 1, 2),
        ),
        (
            [datetime(2024, 1, 1, 14, 0, tzinfo=UTC)],
            pa.timestamp("s", tz="+10:00"),
            date(2024, 1, 2),
        ),
        ([datetime(2024, 1, 2, 0, 0)], pa.timestamp("ns"), date(2024, 1, 2)),
        ([datetime(2024, 1, 2, 0, 0)], pa.timestamp("s", tz="UTC"), date(2024, 1, 2)),
        ([datetime(2024, 1, 2, 0, 0)], pa.timestamp("ms"), date(2024, 1, 2)),
        ([date(2024, 1, 2)], pa.date64(), date(2024, 1, 2)),
        (["2024-01-02"], pa.string(), date(2024, 1, 2)),
        ([" 2024-01-02 "], pa.large_string(), date(2024, 1, 2)),
    ],
)
def test_parquet_date_types(stamps: list[Any], type_: pa.DataType, expected: date) -> None:
    table = pa.table({"date": pa.array(stamps, type_), "ticker": ["AAPL"], "close": [10.0]})
    result = run(parquet_bytes(table), filename="p.parquet")
    assert result.table["date"].to_pylist() == [expected]


def test_zone_aware_parquet_dates_are_their_own_zones_days() -> None:
    """The issue's probe: Tokyo closes for Jan 6/7/8 used to land as Jan 5/6/7."""
    tokyo = ZoneInfo("Asia/Tokyo")
    days = [datetime(2025, 1, d, tzinfo=tokyo) for d in (6, 7, 8)]
    table = pa.table(
        {
            "date": pa.array(days, pa.timestamp("us", tz="Asia/Tokyo")),
            "ticker": ["AAPL"] * 3,
            "close": [1.0, 2.0, 3.0],
        }
    )
    result = run(parquet_bytes(table), filename="p.parquet", today=date(2025, 2, 1))
    assert result.table["date"].to_pylist() == [date(2025, 1, d) for d in (6, 7, 8)]


@pytest.mark.parametrize(
    ("stamp", "type_"),
    [
        (datetime(2024, 1, 2, 9, 30), pa.timestamp("ms")),
        (datetime(2024, 1, 2, 23, 59, 59), pa.timestamp("ns")),
        # Midnight UTC is 09:00 in Tokyo: a time of day in the file's own zone.
        (datetime(2024, 1, 2, 0, 0, tzinfo=UTC), pa.timestamp("us", tz="Asia/Tokyo")),
        (datetime(2024, 1, 2, 0, 0, 0, 1), pa.timestamp("us")),
    ],
)
def test_parquet_timestamps_with_a_time_of_day_are_quarantined(
    stamp: datetime, type_: pa.DataType
) -> None:
    table = pa.table({"date": pa.array([stamp], type_), "ticker": ["AAPL"], "close": [10.0]})
    result = run(parquet_bytes(table), filename="p.parquet")
    assert rejected(result) == [(1, RejectReason.DATE_HAS_TIME)]
    assert "time of day" in result.rejected[0].message
    assert result.table.num_rows == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-06T00:00:00+09:00", date(2025, 1, 6)),  # the day it is written with
        ("2025-01-06T00:00:00-05:00", date(2025, 1, 6)),
        ("2025-01-06T00:00:00Z", date(2025, 1, 6)),
        ("2025-01-06 00:00", date(2025, 1, 6)),
        ("2025-01-06T00:00:00.000000+0900", date(2025, 1, 6)),
    ],
)
def test_csv_date_times_at_midnight_are_the_day_they_are_written_with(
    text: str, expected: date
) -> None:
    result = run(csv_of(f"{text},AAPL,10,,,,"), today=date(2025, 2, 1))
    assert result.table["date"].to_pylist() == [expected]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2025-01-05T15:00:00Z", RejectReason.DATE_HAS_TIME),  # Tokyo's midnight, in UTC
        ("2025-01-06T09:30:00+09:00", RejectReason.DATE_HAS_TIME),
        ("2025-01-06T00:00:00+25:00", RejectReason.BAD_DATE),
        ("2025-01-06T00:60", RejectReason.BAD_DATE),
        ("2025-02-30T00:00", RejectReason.BAD_DATE),
    ],
)
def test_csv_date_times_off_midnight_or_malformed_are_quarantined(
    text: str, reason: RejectReason
) -> None:
    result = run(csv_of(f"{text},AAPL,10,,,,"), today=date(2025, 2, 1))
    assert rejected(result) == [(1, reason)]


def test_a_parquet_time_zone_the_database_lacks_refuses_the_file() -> None:
    table = pa.table(
        {
            "date": pa.array([0], pa.timestamp("s", tz="Nowhere/Atlantis")),
            "ticker": ["AAPL"],
            "close": [10.0],
        }
    )
    with pytest.raises(FileRejectedError) as raised:
        run(parquet_bytes(table), filename="p.parquet")
    assert raised.value.code == FileRejectCode.BAD_COLUMN_TYPE
    assert "Nowhere/Atlantis" in raised.value.message


def test_prices_below_the_plausible_minimum_are_out_of_range() -> None:
    """The issue's probe: a close of 1e-300 then 100 made a return of 1e+302."""
    result = run(csv_of("2024-01-02,AAPL,1e-300,,,,", "2024-01-03,AAPL,100,,,,"))
    assert rejected(result) == [(1, RejectReason.PRICE_OUT_OF_RANGE)]
    assert "[1e-06, 1,000,000,000]" in result.rejected[0].message
    assert run(csv_of("2024-01-02,AAPL,0.000001,,,,")).table.num_rows == 1
    assert rejected(run(csv_of("2024-01-02,AAPL,10,,,0.0000009,"))) == [
        (1, RejectReason.PRICE_OUT_OF_RANGE)
    ]


def test_parquet_dates_before_1900_and_in_the_future() -> None:
    table = pa.table(
        {
            "date": pa.array(
                [datetime(1850, 1, 1), datetime(2030, 1, 1), datetime(2024, 1, 2)],
                pa.timestamp("ms"),
            ),
            "ticker": ["AAPL"] * 3,
            "close": pa.array([1, 2, 3], pa.int32()),
        }
    )
    result = run(parquet_bytes(table), filename="p.parquet")
    assert rejected(result) == [(1, RejectReason.BAD_DATE), (2, RejectReason.FUTURE_DATE)]
    assert "before 1900-01-01" in result.rejected[0].message
    assert result.table["close"].to_pylist() == [3.0]


def test_parquet_string_prices_and_volumes_are_parsed_like_csv() -> None:
    table = pa.table(
        {
            "date": ["2024-01-02", "2024-01-03", "2024-01-04"],
            "ticker": ["AAPL"] * 3,
            "close": ["10.5", "x", None],
            "volume": ["7", "1", "2.5"],
        }
    )
    result = run(parquet_bytes(table), filename="p.parquet")
    assert rejected(result) == [(2, RejectReason.BAD_NUMBER), (3, RejectReason.MISSING_VALUE)]
    assert result.table["volume"].to_pylist() == [7]


def test_parquet_integer_volumes() -> None:
    table = pa.table(
        {
            "date": ["2024-01-02", "2024-01-03", "2024-01-04"],
            "ticker": ["AAPL"] * 3,
            "close": [1.0, 2.0, 3.0],
            "volume": pa.array([5, 2**62, -3], pa.int64()),
        }
    )
    result = run(parquet_bytes(table), filename="p.parquet")
    assert rejected(result) == [(3, RejectReason.BAD_VOLUME)]
    table = table.set_column(3, "volume", pa.array([5, 2**64 - 1, 0], pa.uint64()))
    assert rejected(run(parquet_bytes(table), filename="p.parquet")) == [
        (2, RejectReason.BAD_VOLUME)
    ]


@pytest.mark.parametrize(
    ("column", "array"),
    [
        ("close", pa.array([[1.0]])),
        ("close", pa.array([{"v": 1.0}])),
        ("close", pa.array([True])),
        ("ticker", pa.array([1])),
        ("date", pa.array([1.5])),
        ("volume", pa.array([b"x"])),
    ],
)
def test_parquet_with_wrong_schema_is_refused(column: str, array: pa.Array) -> None:
    data = {
        "date": pa.array([date(2024, 1, 2)]),
        "ticker": pa.array(["AAPL"]),
        "close": pa.array([1.0]),
    }
    data[column] = array
    with pytest.raises(FileRejectedError) as info:
        run(parquet_bytes(pa.table(data)), filename="p.parquet")
    assert info.value.code == FileRejectCode.BAD_COLUMN_TYPE
    assert column in info.value.message


def test_parquet_missing_column_and_duplicate_columns_are_refused() -> None:
    with pytest.raises(FileRejectedError) as info:
        run(parquet_bytes(pa.table({"date": ["2024-01-02"], "close": [1.0]})), filename="p.parquet")
    assert info.value.code == FileRejectCode.MISSING_COLUMN
    dup = pa.Table.from_arrays(
        [pa.array(["2024-01-02"]), pa.array(["A"]), pa.array([1.0]), pa.array([2.0])],
        names=["date", "ticker", "close", "CLOSE"],
    )
    with pytest.raises(FileRejectedError) as info:
        run(parquet_bytes(dup), filename="p.parquet")
    assert info.value.code == FileRejectCode.DUPLICATE_COLUMN


def test_parquet_header_only_and_duplicates_across_row_groups() -> None:
    empty = pa.table(
        {
            "date": pa.array([], pa.date32()),
            "ticker": pa.array([], pa.string()),
            "close": pa.array([], pa.float64()),
        }
    )
    assert run(parquet_bytes(empty), filename="p.parquet").rows_read == 0
    table = pa.table(
        {
            "date": [date(2024, 1, d) for d in (2, 3, 4, 2)],
            "ticker": ["A"] * 4,
            "close": [1.0, 2.0, 3.0, 4.0],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=2)
    result = run(sink.getvalue(), filename="p.parquet", batch_rows=1)
    assert rejected(result) == [(1, RejectReason.DUPLICATE_KEY), (4, RejectReason.DUPLICATE_KEY)]
    assert result.rejected[1].values == {"date": "2024-01-02", "ticker": "A", "close": "4"}


# --------------------------------------------------------------------------- sources


def test_sources_bytes_paths_and_streams(tmp_path: Path) -> None:
    data = csv_of(GOOD, "2024-01-03,AAPL,x,,,,").encode()
    path = tmp_path / "prices.csv"
    path.write_bytes(data)
    seekable = io.BytesIO(b"junk" + data)
    seekable.seek(4)  # read from the current position
    sources: list[Any] = [data, bytearray(data), memoryview(data), path, str(path), seekable]
    for source in sources:
        name = "" if isinstance(source, Path | str) else "prices.csv"
        result = validate_prices(source, filename=name, today=TODAY)
        assert rejected(result) == [(2, RejectReason.BAD_NUMBER)], type(source)
    with path.open("rb") as fh:
        assert validate_prices(fh, today=TODAY).table.num_rows == 1  # name from the file
    stream = NonSeekable(data)
    assert validate_prices(stream, filename="p.csv", today=TODAY).table.num_rows == 1  # type: ignore[arg-type]
    parquet = parquet_bytes(pa.table({"date": ["2024-01-02"], "ticker": ["A"], "close": [1.0]}))
    stream = NonSeekable(parquet)
    assert validate_prices(stream, today=TODAY).table.num_rows == 1  # type: ignore[arg-type]


def test_duplicates_in_a_seekable_stream_are_re_read_from_its_start_position() -> None:
    data = csv_of("2024-01-02,AAPL,10.50,,,,", "2024-01-02,AAPL,11,,,,").encode()
    stream = io.BytesIO(b"prefix" + data)
    stream.seek(6)
    result = validate_prices(stream, filename="x.csv", today=TODAY)
    assert [r.values["close"] for r in result.rejected] == ["10.50", "11"]


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_non_seekable_stream_with_short_reads_and_no_final_newline(chunk: int) -> None:
    data = csv_of(GOOD, "2024-01-03,AAPL,x,,,,").rstrip("\n").encode()
    result = validate_prices(NonSeekable(data, chunk), filename="x.csv", today=TODAY)  # type: ignore[arg-type]
    assert_consistent(result)
    assert rejected(result) == [(2, RejectReason.BAD_NUMBER)]
    header_only = NonSeekable(HEADER.encode(), chunk)
    assert validate_prices(header_only, filename="x.csv").rows_read == 0  # type: ignore[arg-type]


def test_no_final_newline(tmp_path: Path) -> None:
    data = csv_of(GOOD, "2024-01-03,AAPL,11,,,,").rstrip("\n")
    assert run(data).table["close"].to_pylist() == [185.5, 11.0]
    path = tmp_path / "p.csv"
    path.write_text(data)
    assert validate_prices(path, today=TODAY).table.num_rows == 2


def test_too_many_columns_is_refused() -> None:
    header = "date,ticker,close," + ",".join(f"c{i}" for i in range(1100))
    with pytest.raises(FileRejectedError) as info:
        run(header + "\n")
    assert info.value.code == FileRejectCode.TOO_MANY_COLUMNS


def test_sample_files_validate_with_zero_rejects() -> None:
    for path in sample_files():
        result = validate_prices(path)
        assert_consistent(result)
        assert result.rows_rejected == 0, result.rejected[:3]
        assert result.rows_read == result.table.num_rows > 0
        assert result.file_format == path.suffix.lstrip(".")


def test_generated_files_round_trip_in_small_batches(tmp_path: Path) -> None:
    table = generate_prices(12, "2024-01-02", "2024-03-28", extra_columns=True)
    expected = table.sort_by([("ticker", "ascending"), ("date", "ascending")])
    progress: list[int] = []
    for path in (
        write_csv(table, tmp_path / "p.csv"),
        write_parquet(table, tmp_path / "p.parquet"),
    ):
        progress.clear()
        result = validate_prices(path, today=TODAY, batch_rows=97, on_progress=progress.append)
        assert_consistent(result)
        assert result.rows_rejected == 0
        for name in table.column_names:
            assert result.table[name].equals(expected[name]), name
        assert progress == sorted(progress)
        assert progress[-1] == table.num_rows
        assert len(progress) >= table.num_rows // 97


# --------------------------------------------------------------------------- reports


def _mixed() -> ValidatedPrices:
    return run(
        csv_of(
            GOOD,
            "2024-01-03,AAPL,=cmd|' /C calc'!A0,,,,",
            "2024-01-04,aapl,-1,,,,",
            '2024-01-05,AAPL,"x\ny",,,,',
            "2024-01-02,AAPL,185.5,,,,",
        ),
    )


def test_quarantine_report_is_json_and_complete() -> None:
    result = _mixed()
    report = quarantine_report(result, source_key="raw/prices/v/2024.csv", source_version="v1")
    again = json.loads(json.dumps(report))
    assert again == report
    assert report["report_version"] == REPORT_VERSION
    assert report["source"] == {
        "key": "raw/prices/v/2024.csv",
        "version": "v1",
        "format": "csv",
        "columns": list(HEADER.split(",")),
        "ignored_columns": [],
    }
    assert report["counts"]["read"] == 5
    assert report["counts"]["accepted"] == 0
    assert report["counts"]["rejected"] == 5
    assert report["counts"]["by_reason"]["DUPLICATE_KEY"] == 2
    assert report["counts"]["by_reason"]["BAD_NUMBER"] == 2
    assert report["truncated"] is False
    assert [r["row"] for r in report["rejected_rows"]] == [1, 2, 3, 4, 5]
    assert set(report["rejected_rows"][0]) == {"row", "reason", "message", "values"}
    assert report["rejected_rows"][2]["reason"] == "BAD_TICKER"
    assert (
        quarantine_report(result, source_key="k", source_version=None)["source"]["version"] is None
    )


def test_quarantine_csv_escapes_formulas_and_quotes_properly() -> None:
    rows = [
        RejectedRow(
            1, RejectReason.BAD_NUMBER, "m", {"close": "=cmd|' /C calc'!A0", "ticker": "+1"}
        ),
        RejectedRow(2, RejectReason.BAD_NUMBER, "m", {"close": "-1", "ticker": "@SUM(1)"}),
        RejectedRow(3, RejectReason.BAD_NUMBER, "m", {"close": "\t9", "ticker": "\r9"}),
        RejectedRow(4, RejectReason.BAD_NUMBER, "m", {"close": 'say "hi"', "ticker": "a\nb,c"}),
        RejectedRow(5, RejectReason.MISSING_VALUE, "m", {"close": None}),
    ]
    data = quarantine_csv(rows, ["ticker", "close", "=evil"])
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert parsed[0] == ["row", "reason", "ticker", "close", "'=evil"]
    assert parsed[1] == ["1", "BAD_NUMBER", "'+1", "'=cmd|' /C calc'!A0", ""]
    assert parsed[2] == ["2", "BAD_NUMBER", "'@SUM(1)", "'-1", ""]
    assert parsed[3] == ["3", "BAD_NUMBER", "'\r9", "'\t9", ""]
    assert parsed[4] == ["4", "BAD_NUMBER", "a\nb,c", 'say "hi"', ""]
    assert parsed[5] == ["5", "MISSING_VALUE", "", "", ""]
    assert b'"say ""hi"""' in data


def test_quarantine_csv_of_a_real_result() -> None:
    result = _mixed()
    parsed = list(
        csv.reader(
            io.StringIO(quarantine_csv(result.rejected, result.columns).decode(), newline="")
        )
    )
    assert parsed[0] == ["row", "reason", *HEADER.split(",")]
    assert parsed[2][4] == "'=cmd|' /C calc'!A0"
    assert parsed[3][4] == "'-1"
    assert parsed[4][4] == "x\ny"
    assert len(parsed) == 6


def test_max_rejected_details_truncates_but_counts_stay_complete() -> None:
    rows = [f"2024-01-02,T{i},x,,,," for i in range(30)] + [
        "2024-01-03,A,1,,,,",
        "2024-01-03,A,1,,,,",
    ]
    result = run(csv_of(*rows), max_rejected_details=5, batch_rows=4)
    assert [r.row for r in result.rejected] == [1, 2, 3, 4, 5]
    assert result.rejected_counts["BAD_NUMBER"] == 30
    assert result.rejected_counts["DUPLICATE_KEY"] == 2
    assert result.rows_rejected == 32
    assert result.truncated
    report = quarantine_report(result, source_key="k", source_version=None)
    assert report["truncated"] is True
    assert len(report["rejected_rows"]) == 5
    assert report["counts"]["rejected"] == 32
    # Duplicates with lower row numbers take their place among the kept details.
    rows = ["2024-01-03,A,1,,,,", "2024-01-03,A,1,,,,"] + [
        f"2024-01-02,T{i},x,,,," for i in range(30)
    ]
    assert [r.row for r in run(csv_of(*rows), max_rejected_details=3, batch_rows=4).rejected] == [
        1,
        2,
        3,
    ]
    none = run(csv_of(*rows), max_rejected_details=0)
    assert none.rejected == ()
    assert none.rows_rejected == 32


def test_on_progress_after_each_batch() -> None:
    calls: list[int] = []
    run(
        csv_of(*[f"2024-01-02,T{i},1,,,," for i in range(10)], "x"),
        batch_rows=3,
        on_progress=calls.append,
    )
    assert calls[-1] == 11
    assert calls == sorted(calls)
    assert len(calls) >= 4


# --------------------------------------------------------------------------- property

# kind → (line for a day and ticker, the reason it must get on its own).
_ROWS: dict[str, tuple[Callable[[str, str], str], RejectReason | None]] = {
    "good": (lambda d, t: f"{d},{t},10,10,11,9,100", None),
    "missing": (lambda d, t: f"{d},{t},,,,,", RejectReason.MISSING_VALUE),
    "bad_date": (lambda d, t: f"{d[:4]}/{d[5:]},{t},10,,,,", RejectReason.BAD_DATE),
    "future": (lambda d, t: f"2031{d[4:]},{t},10,,,,", RejectReason.FUTURE_DATE),
    "bad_ticker": (lambda d, t: f"{d},{t.lower()},10,,,,", RejectReason.BAD_TICKER),
    "bad_number": (lambda d, t: f"{d},{t},ten,,,,", RejectReason.BAD_NUMBER),
    "non_finite": (lambda d, t: f"{d},{t},nan,,,,", RejectReason.NON_FINITE_PRICE),
    "non_positive": (lambda d, t: f"{d},{t},-3,,,,", RejectReason.NON_POSITIVE_PRICE),
    "too_big": (lambda d, t: f"{d},{t},1e10,,,,", RejectReason.PRICE_OUT_OF_RANGE),
    "bad_volume": (lambda d, t: f"{d},{t},10,,,,1.5", RejectReason.BAD_VOLUME),
    "ohlc": (lambda d, t: f"{d},{t},10,10,9,8,", RejectReason.INCONSISTENT_OHLC),
    "malformed": (lambda d, t: f"{d},{t}", RejectReason.MALFORMED_ROW),
    "quoted": (lambda d, t: f'"{d}"," {t} ",10.5,,,," 7 "', None),
    "multiline": (lambda d, t: f'{d},{t},"1{chr(10)}0",,,,', RejectReason.BAD_NUMBER),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(
        st.tuples(st.sampled_from(sorted(_ROWS)), st.integers(0, 2), st.booleans()),
        min_size=0,
        max_size=40,
    ),
    batch_rows=st.sampled_from([1, 2, 5, 64]),
)
def test_property_good_and_rejected_rows_partition_the_file(
    kinds: list[tuple[str, int, bool]], batch_rows: int
) -> None:
    lines: list[str] = []
    own: list[RejectReason | None] = []
    for i, (kind, ticker, repeat) in enumerate(kinds):
        day = date.fromordinal(date(2020, 1, 1).toordinal() + i).isoformat()
        if repeat and lines:
            j = ticker % len(lines)  # an exact copy of an earlier row
            lines.append(lines[j])
            own.append(own[j])
        else:
            make, reason = _ROWS[kind]
            lines.append(make(day, ("AAPL", "BRK.B", "BF-B")[ticker]))
            own.append(reason)
    result = run(csv_of(*lines), batch_rows=batch_rows)
    n = len(lines)
    assert result.rows_read == n
    rejected_rows = {r.row for r in result.rejected}
    assert len(rejected_rows) == result.rows_rejected  # nothing truncated here
    # Each accepted (ticker, date) comes from exactly one line; map it back to its row.
    by_key: dict[tuple[str, str], list[int]] = {}
    for row, line in enumerate(lines, start=1):
        fields = next(csv.reader([line]))
        if len(fields) == 7:
            by_key.setdefault((fields[1].strip(), fields[0]), []).append(row)
    accepted_rows: set[int] = set()
    for ticker, day in zip(
        result.table["ticker"].to_pylist(), result.table["date"].to_pylist(), strict=True
    ):
        [row] = by_key[(ticker, day.isoformat())]
        accepted_rows.add(row)
    assert accepted_rows.isdisjoint(rejected_rows)
    assert accepted_rows | rejected_rows == set(range(1, n + 1))
    # And each row got the expected reason: its own, else DUPLICATE_KEY when repeated.
    copies = {line: lines.count(line) for line in lines}
    expected = {
        row: reason or (RejectReason.DUPLICATE_KEY if copies[line] > 1 else None)
        for row, (line, reason) in enumerate(zip(lines, own, strict=True), start=1)
    }
    assert {r.row: r.reason for r in result.rejected} == {
        row: reason for row, reason in expected.items() if reason is not None
    }
