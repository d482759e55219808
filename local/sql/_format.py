"""Query results as text: aligned table, RFC 4180 CSV, or JSON records."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final, Literal, get_args

import pyarrow as pa

from core.text_safety import TERMINAL_UNSAFE, spreadsheet_safe

__all__ = ["OutputFormat", "format_result"]

OutputFormat = Literal["table", "csv", "json"]

_NAMED_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_TABLE_MAX_DECIMALS: Final = 6


def format_result(table: pa.Table, fmt: OutputFormat = "table") -> str:
    """Render a result as aligned text, RFC 4180 CSV or a JSON list of records.

    ``table``: a header, a dashed rule, right-aligned numbers (floats to a shared number of
    decimals per column, at most six), ``NULL`` for nulls, and a row count.
    ``csv``: CRLF rows with a header; nulls are empty; text cells a spreadsheet could run
    (``core.text_safety.spreadsheet_safe``: ``= + - @`` after leading whitespace, full-width
    forms included, or a leading tab/CR/LF) get a leading ``'``.
    ``json``: ``[{column: value}, …]`` with ISO dates and timestamps, NaN/±inf as null.
    """
    names = _unique_names(table.column_names)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    if fmt == "table":
        return _format_table(names, columns, table.schema, table.num_rows)
    if fmt == "csv":
        return _format_csv(names, columns, table.num_rows)
    if fmt == "json":
        records = [
            {name: _json_value(column[row]) for name, column in zip(names, columns, strict=True)}
            for row in range(table.num_rows)
        ]
        return json.dumps(records, indent=2, ensure_ascii=False, allow_nan=False)
    raise ValueError(f"unknown format {fmt!r}; expected one of {get_args(OutputFormat)}")


def _unique_names(names: Sequence[str]) -> list[str]:
    """Column names made unique (``x``, ``x_1``) so no JSON key is lost."""
    seen: set[str] = set()
    unique: list[str] = []
    for name in names:
        candidate, suffix = name, 0
        while candidate in seen:
            suffix += 1
            candidate = f"{name}_{suffix}"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def _is_numeric(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_decimal(data_type)
    )


def _format_table(
    names: list[str], columns: list[list[Any]], schema: pa.Schema, num_rows: int
) -> str:
    cells: list[list[str]] = []
    for column, field in zip(columns, schema, strict=True):
        if pa.types.is_floating(field.type):
            cells.append(_float_cells(column))
        else:
            cells.append([_text_cell(value) for value in column])
    widths = [
        max([len(name), *(len(cell) for cell in column)])
        for name, column in zip(names, cells, strict=True)
    ]
    right = [_is_numeric(field.type) for field in schema]

    def line(values: Sequence[str]) -> str:
        padded = (
            value.rjust(width) if align_right else value.ljust(width)
            for value, width, align_right in zip(values, widths, right, strict=True)
        )
        return "  ".join(padded).rstrip()

    lines = [line(names), "  ".join("-" * width for width in widths)]
    lines.extend(line([column[row] for column in cells]) for row in range(num_rows))
    lines.append(f"({num_rows} row{'' if num_rows == 1 else 's'})")
    return "\n".join(lines)


def _float_cells(values: list[Any]) -> list[str]:
    """A float column with one number of decimals (≤ 6), so decimal points line up."""

    def fixed(value: float) -> bool:
        return value == 0 or 1e-6 <= abs(value) < 1e15

    decimals = 1
    for value in values:
        if value is not None and math.isfinite(value) and fixed(value):
            digits = f"{value:.{_TABLE_MAX_DECIMALS}f}".rstrip("0").partition(".")[2]
            decimals = max(decimals, len(digits))
    cells: list[str] = []
    for value in values:
        if value is None:
            cells.append("NULL")
        elif math.isnan(value):
            cells.append("NaN")
        elif math.isinf(value):
            cells.append("inf" if value > 0 else "-inf")
        elif fixed(value):
            cells.append(f"{value:.{decimals}f}")
        else:
            cells.append(f"{value:.6g}")
    return cells


def _text_cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    text = str(value).replace("\\", "\\\\")
    # One row per line, and nothing a terminal would run: control characters are escaped.
    # (core.text_safety.TERMINAL_UNSAFE: ESC sequences, bidi overrides, line breaks.)
    return TERMINAL_UNSAFE.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED_ESCAPES.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


def _format_csv(names: list[str], columns: list[list[Any]], num_rows: int) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_csv_text(name) for name in names])
    for row in range(num_rows):
        writer.writerow([_csv_cell(column[row]) for column in columns])
    return buffer.getvalue()


def _csv_text(text: str) -> str:
    return spreadsheet_safe(text)  # the one formula-injection rule (core.text_safety)


def _csv_cell(value: Any) -> str:
    # Numbers are written by us from numeric columns (a negative number is not a formula);
    # only text can carry an injected formula.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return _csv_text(base64.b64encode(value).decode("ascii"))
    if isinstance(value, list | dict):
        return _csv_text(json.dumps(_json_value(value), ensure_ascii=False))
    return _csv_text(str(value))


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return str(value)
