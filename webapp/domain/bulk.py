"""Writing many rows at once inside the caller's transaction (a bulk import): COPY on
PostgreSQL, executemany elsewhere. For callers that have checked every row by the rules
of the commands whose rows they write (webapp/domain/member_import.py); no session hook
runs here, so the caller writes what the hooks would (keys, completeness, audit)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

BATCH = 5000


def among(session: Session, column, values: Sequence[Any]):
    """`column IN values` for a long list: on PostgreSQL one array parameter
    (`= ANY(:values)`), which the driver and the server parse at once, not one per value."""
    values = list(values)
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    if isinstance(column.type, Integer) and all(type(v) is int for v in values):
        # Ids sent as an array's text (the driver's list adapter is slow on long lists),
        # unnested in a subquery: read once, not once per row scanned.
        text_array = "{" + ",".join(map(str, values)) + "}"
        return column.in_(select(func.unnest(cast(literal(text_array, Text()), ARRAY(Integer)))))
    return column == any_(literal(values, ARRAY(column.type)))


def next_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` ids drawn from the table's id sequence (PostgreSQL), in order."""
    if count == 0:
        return []
    return list(
        session.scalars(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": count},
        )
    )


def insert_rows(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], *, with_ids: bool = False
) -> list[int] | None:
    """Insert `rows` (dicts with the same keys) into `table`; with `with_ids` their new ids,
    in order, are returned (and set on PostgreSQL before the COPY). Columns the rows leave
    out get their scalar defaults, as an INSERT through SQLAlchemy would give them."""
    if not rows:
        return [] if with_ids else None
    defaults = {
        column.key: column.default.arg
        for column in table.columns
        if column.key not in rows[0]
        and column.key != "id"
        and column.default is not None
        and column.default.is_scalar
    }
    if defaults:
        rows = [{**row, **defaults} for row in rows]
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        if with_ids:
            result = connection.execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
            )
            return list(result.scalars())
        for start in range(0, len(rows), BATCH):
            connection.execute(insert(table), list(rows[start : start + BATCH]))
        return None
    ids = next_ids(session, table, len(rows)) if with_ids else None
    names = list(rows[0])
    if with_ids and "id" not in names:
        names = ["id", *names]
    json_columns = {c.key for c in table.columns if isinstance(c.type, JSON)}
    quoted = ", ".join(f'"{name}"' for name in names)
    json_at = [i for i, name in enumerate(names) if name in json_columns]
    id_at = names.index("id") if ids is not None else None
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        for position, row in enumerate(rows):
            # Enum values go as their text (psycopg would dump a plain Enum by its name).
            values = [
                value.value if isinstance(value, Enum) else value for value in map(row.get, names)
            ]
            if id_at is not None:
                values[id_at] = ids[position]
            for i in json_at:
                if values[i] is not None:
                    values[i] = json.dumps(values[i], ensure_ascii=False)
            copy.write_row(values)
    cursor.close()
    return ids


def update_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    given: Sequence[str],
    computed: Sequence[str],
    *,
    versioned: bool = True,
) -> int:
    """Update many rows of a versioned `table` at once (a bulk import's edits). Each row
    holds its `id`, the `version_id` it was read at, the `given` columns (None keeps the
    stored value: a blank cell changes nothing) and the `computed` ones (always written).
    Each row's version is raised by one and its `updated_at` set, as the ORM's update
    does; a row whose version differs (changed by someone since) is left alone, so the
    caller compares the count returned with its rows. Not `versioned`: the rows need no
    `version_id` and keep their version (derived columns, as the hooks write them). One
    statement reading arrays (`unnest`) on PostgreSQL, executemany elsewhere."""
    if not rows:
        return 0
    connection = session.connection()
    columns = table.c
    names = ["id", *(["version_id"] if versioned else []), *given, *computed]

    def plain(value):
        return value.value if isinstance(value, Enum) else value

    if connection.dialect.name != "postgresql":
        statement = (
            update(table)
            .where(
                columns.id == bindparam("b_id"),
                *([columns.version_id == bindparam("b_version_id")] if versioned else []),
            )
            .values(
                {
                    **{
                        name: func.coalesce(
                            bindparam(f"b_{name}", type_=columns[name].type), columns[name]
                        )
                        for name in given
                    },
                    **{name: bindparam(f"b_{name}", type_=columns[name].type) for name in computed},
                    **({"version_id": columns.version_id + 1} if versioned else {}),
                    "updated_at": func.now(),
                }
            )
        )
        result = connection.execute(
            statement, [{f"b_{name}": plain(row.get(name)) for name in names} for row in rows]
        )
        return result.rowcount
    dialect = connection.dialect
    arrays = ", ".join(
        f"CAST(:p{i} AS {_array_of(columns[name].type.compile(dialect=dialect))})"
        for i, name in enumerate(names)
    )
    assignments = [f'"{name}" = COALESCE(v."{name}", t."{name}")' for name in given]
    assignments += [f'"{name}" = v."{name}"' for name in computed]
    assignments += [*(["version_id = t.version_id + 1"] if versioned else []), "updated_at = now()"]
    quoted = ", ".join(f'"{name}"' for name in names)
    statement = text(
        f'UPDATE "{table.name}" AS t SET {", ".join(assignments)}'
        f" FROM unnest({arrays}) AS v({quoted}) WHERE t.id = v.id"
        + (" AND t.version_id = v.version_id" if versioned else "")
    )
    parameters = {f"p{i}": [plain(row.get(name)) for row in rows] for i, name in enumerate(names)}
    return connection.execute(statement, parameters).rowcount


def _array_of(type_name: str) -> str:
    """The array type of a column type as PostgreSQL spells it (its collation left out)."""
    return re.sub(r"\s+COLLATE\s+\S+", "", type_name) + "[]"
