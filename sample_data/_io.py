"""Writers and readers for the vendor file formats (long-form CSV and Parquet)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from sample_data.generator import (
    EXTRA_COLUMNS,
    PRICE_COLUMNS,
    PRICE_DECIMALS,
    PRICE_SCHEMA_EXTRA,
)

__all__ = ["read_prices", "write_csv", "write_parquet"]

_TYPES: Final[dict[str, pa.DataType]] = {f.name: f.type for f in PRICE_SCHEMA_EXTRA}
_FLOATS: Final[frozenset[str]] = frozenset({"close", "open", "high", "low"})


def _columns(table: pa.Table) -> list[str]:
    """Validate and return the columns to write, in canonical order."""
    names = table.column_names
    missing = [c for c in PRICE_COLUMNS if c not in names]
    if missing:
        raise ValueError(f"price table lacks required column(s) {missing}")
    unknown = [c for c in names if c not in _TYPES]
    if unknown:
        raise ValueError(f"price table has unexpected column(s) {unknown}")
    return [c for c in (*PRICE_COLUMNS, *EXTRA_COLUMNS) if c in names]


def write_csv(table: pa.Table, path: str | Path, decimals: int = PRICE_DECIMALS) -> Path:
    """Write a long price table as a vendor CSV file.

    The output is stable byte for byte: UTF-8, ``\\n`` line endings, a header row,
    ISO dates, prices with exactly ``decimals`` decimals, integer volumes, columns in
    the canonical order ``date,ticker,close[,open,high,low,volume]`` and rows in the
    table's order (the generator's is sorted by date then ticker).

    Parameters
    ----------
    table : pyarrow.Table
        Long-form price table (e.g. from :func:`sample_data.generate_prices`) without
        nulls.
    path : str or pathlib.Path
        Destination; parent directories are created.
    decimals : int
        Decimals written for the price columns.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    out = Path(path)
    cols = _columns(table)
    if any(table.column(c).null_count for c in cols):
        raise ValueError("write_csv does not support null values")
    values: list[list[object]] = []
    formats: list[str] = []
    for name in cols:
        column = table.column(name)
        if name == "date":
            as_dates = column.cast(pa.date32())
            iso = {d: d.isoformat() for d in set(as_dates.to_pylist())}
            values.append([iso[d] for d in as_dates.to_pylist()])
            formats.append("%s")
        elif name == "ticker":
            values.append(column.to_pylist())
            formats.append("%s")
        elif name in _FLOATS:
            values.append(column.cast(pa.float64()).to_pylist())
            formats.append(f"%.{decimals}f")
        else:
            values.append(column.cast(pa.int64()).to_pylist())
            formats.append("%d")
    line = ",".join(formats) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(",".join(cols) + "\n")
        fh.writelines(line % row for row in zip(*values, strict=True))
    return out


def write_parquet(table: pa.Table, path: str | Path) -> Path:
    """Write a long price table as a vendor Parquet file.

    Parameters
    ----------
    table : pyarrow.Table
        Long-form price table; columns are written in canonical order with the
        canonical types (``date32``, ``string``, ``float64``, ``int64``), snappy
        compressed, in the table's row order.
    path : str or pathlib.Path
        Destination; parent directories are created.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    out = Path(path)
    cols = _columns(table)
    schema = pa.schema([(c, _TYPES[c]) for c in cols])
    data = table.select(cols).cast(schema)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(data, out, compression="snappy")
    return out


def read_prices(path: str | Path) -> pa.Table:
    """Read a vendor price file (``.csv`` or ``.parquet``) into the canonical schema.

    Parameters
    ----------
    path : str or pathlib.Path
        A file written by :func:`write_csv` or :func:`write_parquet` (or any file
        with the long-form columns).

    Returns
    -------
    pyarrow.Table
        Columns ``date,ticker,close[,open,high,low,volume]`` with the canonical types.

    Raises
    ------
    ValueError
        On an unknown file suffix or unexpected columns.
    """
    src = Path(path)
    suffix = src.suffix.lower()
    if suffix == ".csv":
        table = pa_csv.read_csv(src, convert_options=pa_csv.ConvertOptions(column_types=_TYPES))
    elif suffix == ".parquet":
        table = pq.read_table(src)
    else:
        raise ValueError(f"unsupported price file {src.name!r}: expected .csv or .parquet")
    cols = _columns(table)
    return table.select(cols).cast(pa.schema([(c, _TYPES[c]) for c in cols]))
