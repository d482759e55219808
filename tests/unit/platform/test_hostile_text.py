"""Hostile input in the pure pieces: names, Content-Length, raw keys, size limit, terminal text."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pytest
from pydantic import ValidationError

from core.exceptions import ConfigurationError
from core.models import PLAIN_TEXT_PATTERN, PortfolioCreate, PortfolioFields
from core.settings import DEFAULT_MAX_INGEST_FILE_BYTES, max_ingest_file_bytes
from ingest.curate import SourceObject, _quarantine_prefix, _unsafe_key
from local.apigateway import API_PAYLOAD_LIMIT_BYTES, _content_length
from local.sql import _text_cell, format_result

REFUSED = ["\u0000", "\u0001", "\u0008", "\u000b", "\u000c", "\u001b", "\u001f", "\u007f",
           "\u0080", "\u0085", "\u009f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
           "\u2066", "\u2067", "\u2068", "\u2069"]  # fmt: skip
OVER = -1  # any length over the gateway's limit
ALLOWED = ["\t", "\n", "\r", "\u200b", "\ufeff", "\u200f", "é", "日", "🚀", "\U0010fffd", " "]


def _portfolio(**fields: str) -> PortfolioFields:
    """The ``portfolio`` of a ``POST /portfolios`` body, validated as the route does."""
    body = {"portfolio": {"name": "n", "assets": {"AAPL": 1.0}, **fields}}
    request = PortfolioCreate.model_validate_json(json.dumps(body), strict=True, by_alias=True)
    return request.portfolio


@pytest.mark.parametrize("field", ["name", "description"])
@pytest.mark.parametrize("char", REFUSED, ids=[f"U+{ord(c):04X}" for c in REFUSED])
def test_control_and_bidi_characters_are_refused_naming_the_code_point(
    field: str, char: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        _portfolio(**{field: f"a{char}b"})
    assert f"U+{ord(char):04X}" in str(caught.value)
    assert re.match(PLAIN_TEXT_PATTERN, f"a{char}b") is None  # the documented pattern agrees


@pytest.mark.parametrize("field", ["name", "description"])
@pytest.mark.parametrize("char", ALLOWED, ids=[f"U+{ord(c):04X}" for c in ALLOWED])
def test_other_text_is_kept_exactly(field: str, char: str) -> None:
    assert getattr(_portfolio(**{field: f"a{char}b"}), field) == f"a{char}b"
    assert re.match(PLAIN_TEXT_PATTERN, f"a{char}b") is not None


def test_the_openapi_schema_documents_the_pattern() -> None:
    schema = PortfolioFields.model_json_schema(by_alias=True)
    assert schema["properties"]["name"]["pattern"] == PLAIN_TEXT_PATTERN
    assert schema["properties"]["description"]["pattern"] == PLAIN_TEXT_PATTERN


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], 0),
        (["0"], 0),
        (["42"], 42),
        ([" 42 "], 42),
        (["42", "42"], 42),  # repeated but equal
        (["2147483648"], 2147483648),
        (["9" * 30], OVER),  # more than 19 digits: over any limit, never int()-ed
        (["-1"], None),
        (["+1"], None),
        (["1e3"], None),
        (["abc"], None),
        ([""], None),
        (["٣"], None),  # a non-ASCII digit
        (["5", "7"], None),
    ],
)
def test_content_length_is_parsed_strictly(values: list[str], expected: int | None) -> None:
    got = _content_length(values)
    if expected == OVER:
        assert got is not None
        assert got > API_PAYLOAD_LIMIT_BYTES
    else:
        assert got == expected


@pytest.mark.parametrize(
    "key",
    [
        "raw/prices/../../curated/x.csv",
        "raw/prices/a/../b.csv",
        "raw/prices/./x.csv",
        "raw/prices/a/..",
        "../raw/prices/x.csv",
        "raw/prices/a\u0000.csv",
        "raw/prices/a\u001b[2J.csv",
        "raw/prices/a\nb.csv",
        "raw/prices/a\tb.csv",
        "raw/prices/a\u0085.csv",
        "raw/prices/a\u202egnp.csv",
    ],
)
def test_unsafe_raw_keys_are_named_and_quarantined_under_a_digest(key: str) -> None:
    assert _unsafe_key(key)
    prefix = _quarantine_prefix(SourceObject("b", key, "v1", None))
    assert re.fullmatch(r"quarantine/prices/_unsafe-keys/[0-9a-f]{32}/v1/", prefix), prefix


@pytest.mark.parametrize(
    "key",
    [
        "raw/prices/2024/prices.csv",
        "raw/prices/%2e%2e/x.csv",
        "raw/prices/...csv",
        "raw/prices/a..b/x.csv",
        "raw/prices/ünï cødé/日本.csv",
    ],
)
def test_ordinary_keys_keep_their_path_in_quarantine(key: str) -> None:
    assert _unsafe_key(key) is None
    prefix = _quarantine_prefix(SourceObject("b", key, "v1", None))
    assert prefix == "quarantine/prices/" + key.removeprefix("raw/prices/") + "/v1/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, DEFAULT_MAX_INGEST_FILE_BYTES), ("", DEFAULT_MAX_INGEST_FILE_BYTES), ("1", 1),
     (" 1048576 ", 1048576)],
)  # fmt: skip
def test_the_ingest_size_limit_comes_from_the_environment(value: str | None, expected: int) -> None:
    env = {} if value is None else {"STRATIGOS_MAX_INGEST_FILE_BYTES": value}
    assert max_ingest_file_bytes(env) == expected


@pytest.mark.parametrize("value", ["0", "-1", "1e9", "lots", "1.5"])
def test_a_bad_ingest_size_limit_is_a_configuration_error(value: str) -> None:
    with pytest.raises(ConfigurationError, match="MAX_INGEST_FILE_BYTES"):
        max_ingest_file_bytes({"STRATIGOS_MAX_INGEST_FILE_BYTES": value})


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\u001b[31mred", "a\\x1b[31mred"),
        ("bell\u0007", "bell\\x07"),
        ("nul\u0000", "nul\\x00"),
        ("c1\u009b2J", "c1\\x9b2J"),
        ("rlo\u202eabc", "rlo\\u202eabc"),
        ("lri\u2066x\u2069", "lri\\u2066x\\u2069"),
        ("tab\tnl\ncr\r", "tab\\tnl\\ncr\\r"),
        ("back\\slash\\x1b", "back\\\\slash\\\\x1b"),  # a literal backslash stays distinct
        ("日本 🚀", "日本 🚀"),
    ],
)
def test_the_sql_table_format_never_prints_a_control_character(text: str, shown: str) -> None:
    assert _text_cell(text) == shown
    rendered = format_result(pa.table({"source_key": [text]}), "table")
    assert shown in rendered
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", rendered)
