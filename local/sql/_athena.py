"""The cloud engine: the same SQL text on the template's Athena workgroup, through awswrangler.

awswrangler is the best tool here (query submission, polling, paging and typed results in
one call) and loads only when a query goes to Athena.
"""

from __future__ import annotations

import boto3
import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from local.sql._errors import EngineUnavailableError, SqlError

__all__ = ["run_athena"]


def run_athena(
    sql: str,
    *,
    database: str,
    workgroup: str,
    session: boto3.session.Session | None = None,
) -> pa.Table:
    """Run ``sql`` on Athena (the template's workgroup) through awswrangler.

    The plain ``StartQueryExecution`` path (``ctas_approach=False``): no temporary table is
    created, results come from the workgroup's output location. moto's Athena accepts
    queries but runs no SQL, so this path is exercised only against AWS.

    Raises
    ------
    SqlError
        Athena failed or refused the query (its message).
    EngineUnavailableError
        AWS cannot be reached with the ambient credentials.
    """
    import awswrangler as wr
    import pandas as pd

    try:
        frame = wr.athena.read_sql_query(
            sql,
            database=database,
            ctas_approach=False,
            workgroup=workgroup,
            boto3_session=session,
        )
    except (wr.exceptions.QueryFailed, wr.exceptions.QueryCancelled) as error:
        raise SqlError(str(error)) from None
    except ClientError as error:
        details = error.response.get("Error", {})
        if details.get("Code") == "InvalidRequestException":
            raise SqlError(str(details.get("Message", error))) from None
        raise EngineUnavailableError(f"Athena: {details.get('Message', error)}") from None
    except BotoCoreError as error:
        raise EngineUnavailableError(f"Athena: {error}") from None
    if not isinstance(frame, pd.DataFrame):  # only chunked reads return an iterator
        raise TypeError("expected one DataFrame from awswrangler")
    return pa.Table.from_pandas(frame, preserve_index=False)
