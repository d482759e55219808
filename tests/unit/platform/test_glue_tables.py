"""template.yaml's Glue tables are the lake's datasets: one per curated and results dataset,
columns equal to the Arrow schemas the writers use, partitions projected (nobody registers
a table or a partition at run time)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from analyses.results import result_datasets
from core.lake import athena_type_name
from ingest._checks import MIN_DATE
from ingest.schemas import CURATED_DATASETS, CuratedDataset, partition_key
from local.sql import LakeColumn, LakeTable, arrow_type
from stack import Template

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
RESULT_DATASETS = result_datasets()  # the registered analyses' tables and run_index
# Every dataset's table name → the Arrow schema its writer uses.
WRITTEN: dict[str, pa.Schema] = {
    **{dataset.table: dataset.schema for dataset in CURATED_DATASETS},
    **{name: dataset.schema for name, dataset in RESULT_DATASETS.items()},
}


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


def _tables(template: Template) -> dict[str, dict[str, Any]]:
    return {
        props["TableInput"]["Name"]: props
        for props in template.resources_of("AWS::Glue::Table").values()
    }


def test_one_table_per_curated_and_results_dataset(template: Template) -> None:
    curated = [dataset.table for dataset in CURATED_DATASETS]
    assert len(set(curated)) == len(curated)
    assert not set(curated) & set(RESULT_DATASETS)
    assert sorted(_tables(template)) == sorted([*curated, *RESULT_DATASETS])


@pytest.mark.parametrize("dataset", CURATED_DATASETS, ids=lambda d: d.table)
def test_curated_tables_equal_their_arrow_schemas(
    template: Template, dataset: CuratedDataset
) -> None:
    bucket = template.physical_name("DataBucket")
    props = _tables(template)[dataset.table]
    assert props["DatabaseName"] == template.physical_name("LakeDatabase")
    table = props["TableInput"]
    assert table["Description"] == dataset.description
    assert table["TableType"] == "EXTERNAL_TABLE"
    storage = table["StorageDescriptor"]
    assert storage["Location"] == f"s3://{bucket}/{dataset.prefix}"
    assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == dataset.glue_columns()
    assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == [
        (field.name, athena_type_name(str(field.type))) for field in dataset.schema
    ]
    assert storage["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert table["PartitionKeys"] == [{"Name": "year", "Type": "int"}]


@pytest.mark.parametrize("dataset", CURATED_DATASETS, ids=lambda d: d.table)
def test_curated_years_are_projected_over_every_date_ingest_accepts(
    template: Template, dataset: CuratedDataset
) -> None:
    bucket = template.physical_name("DataBucket")
    parameters = _tables(template)[dataset.table]["TableInput"]["Parameters"]
    assert parameters["classification"] == "parquet"
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.year.type"] == "integer"
    first, last = (int(year) for year in parameters["projection.year.range"].split(","))
    assert first <= MIN_DATE.year  # the oldest date validation lets in
    assert last >= 2100
    # ${!year} is Fn::Sub's escape: Athena gets the literal ${year}.
    template_path = parameters["storage.location.template"]
    assert template_path == f"s3://{bucket}/{dataset.prefix}year=${{year}}/"
    # The writers' one object per year lies in the projected partition's folder.
    for year in (MIN_DATE.year, 2024, date.today().year):
        folder = template_path.replace("${year}", str(year))
        assert f"s3://{bucket}/{partition_key(dataset.prefix, year)}".startswith(folder)


@pytest.mark.parametrize("table", list(WRITTEN))
def test_the_local_engine_reads_each_table_as_its_writer_wrote_it(
    template: Template, table: str
) -> None:
    """The Glue → Arrow map of local.sql is the inverse of core.lake's Arrow → Athena map."""
    written = WRITTEN[table]
    table_input = _tables(template)[table]["TableInput"]
    lake_table = LakeTable(
        name=table,
        location=table_input["StorageDescriptor"]["Location"],
        columns=tuple(
            LakeColumn(c["Name"], c["Type"]) for c in table_input["StorageDescriptor"]["Columns"]
        ),
        partition_keys=tuple(
            LakeColumn(k["Name"], k["Type"]) for k in table_input["PartitionKeys"]
        ),
    )
    read = lake_table.arrow_schema()
    assert read.names[: len(written)] == written.names
    for field in written:
        as_read = read.field(field.name).type
        if pa.types.is_timestamp(field.type):
            # Athena's timestamp has no zone and no unit: read as naive UTC microseconds.
            assert pa.types.is_timestamp(as_read), field.name
        else:
            assert as_read == field.type, field.name
    for key in table_input["PartitionKeys"]:
        arrow_type(key["Type"])  # a partition key the local engine can type
