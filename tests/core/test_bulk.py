"""Plain tuples written straight to the driver come back as they went, awkward characters
and all (core/bulk.py)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from patron.core import bulk
from patron.core.db import Database

ROWS = [
    (1, "plain", True, None),
    (2, "tab\there, new\nline, back\\slash, cr\r", False, '{"a": "x\\ty"}'),
    (3, "", None, "王小明"),
]


def test_tuples_round_trip_through_a_temporary_table(db: Database) -> None:
    def work(session: object) -> list[tuple[object, ...]]:
        name = bulk.temporary_table(
            session,  # type: ignore[arg-type]
            "tmp_bulk",
            {
                "n": ("bigint", "INTEGER"),
                "words": ("text", "TEXT"),
                "flag": ("boolean", "BOOLEAN"),
                "doc": ("text", "TEXT"),
            },
        )
        bulk.insert_tuples(session, name, ("n", "words", "flag", "doc"), ROWS)  # type: ignore[arg-type]
        found = session.execute(text(f"SELECT n, words, flag, doc FROM {name} ORDER BY n")).all()  # type: ignore[attr-defined]
        bulk.drop_table(session, name)  # type: ignore[arg-type]
        return [tuple(r) for r in found]

    got = db.write(work)
    assert [(n, w, None if f is None else bool(f), d) for n, w, f, d in got] == ROWS


def test_an_arrow_table_round_trips_with_dates_floats_nulls_and_awkward_text(
    db: Database,
) -> None:
    import pyarrow as pa

    rows = pa.table(
        {
            "n": pa.array([1, 2, 3], type=pa.int64()),
            "on_day": pa.array([date(2025, 12, 31), None, date(2024, 2, 29)], type=pa.date32()),
            "share": pa.array([0.1 + 0.2, 1e-300, 123456789.123456789]),
            "words": pa.array(['comma, "quoted"\nnew line', "", None]),
            "doc": pa.array(['[{"code": "long_gap", "numbers": {"ratio": 3}}]', "[]", "王小明"]),
        }
    )

    def work(session: object) -> list[tuple[object, ...]]:
        name = bulk.temporary_table(
            session,  # type: ignore[arg-type]
            "tmp_arrow",
            {
                "n": ("bigint", "INTEGER"),
                "on_day": ("date", "DATE"),
                "share": ("double precision", "FLOAT"),
                "words": ("text", "TEXT"),
                "doc": ("text", "TEXT"),
            },
        )
        assert bulk.insert_arrow(session, name, rows) == 3  # type: ignore[arg-type]
        found = session.execute(  # type: ignore[attr-defined]
            text(f"SELECT n, on_day, share, words, doc FROM {name} ORDER BY n")
        ).all()
        bulk.drop_table(session, name)  # type: ignore[arg-type]
        return [tuple(r) for r in found]

    got = db.write(work)
    as_dates = [
        d if d is None or isinstance(d, date) else date.fromisoformat(d) for _, d, *_ in got
    ]
    assert as_dates == rows.column("on_day").to_pylist()
    assert [r[0] for r in got] == [1, 2, 3]
    assert [r[2] for r in got] == rows.column("share").to_pylist(), "floats exactly"
    assert [r[3] for r in got] == rows.column("words").to_pylist(), "'' is not NULL"
    assert [r[4] for r in got] == rows.column("doc").to_pylist()


def test_a_runs_references_are_checked_once_and_an_unknown_one_is_named(db: Database) -> None:
    import pyarrow as pa
    import pytest

    def work(session: object) -> None:
        referred = bulk.temporary_table(session, "tmp_referred", {"id": ("bigint", "INTEGER")})  # type: ignore[arg-type]
        bulk.insert_tuples(session, referred, ("id",), [(1,), (2,)])  # type: ignore[arg-type]
        # run 7 names only known ids (one twice, and a null); run 8 names 99, which no
        # referred row holds
        known = pa.chunked_array([[1, 2], [2, None]], pa.int64())
        bulk.check_values_known(session, known, referred, table="tmp_rows", run_id=7)  # type: ignore[arg-type]
        with pytest.raises(RuntimeError, match=r"run 8's tmp_rows rows name .* 99, unknown"):
            bulk.check_values_known(  # type: ignore[arg-type]
                session, pa.array([1, 99], pa.int64()), referred, table="tmp_rows", run_id=8
            )
        bulk.drop_table(session, referred)  # type: ignore[arg-type]

    db.write(work)


def test_a_partition_refuses_rows_whose_run_or_constant_differs(pg_db: Database) -> None:
    """The run's key and the columns said to be constant are sent as the new partition's
    defaults, not per row: rows that differ are refused before anything is written."""
    import pyarrow as pa
    import pytest

    def rows(runs: list[int], days: list[date]) -> pa.Table:
        n = len(runs)
        return pa.table(
            {
                "run_id": pa.array(runs, pa.int64()),
                "customer_id": pa.array([7] * n, pa.int64()),
                "as_of": pa.array(days, pa.date32()),
                "rank": pa.array(list(range(1, n + 1)), pa.int16()),
                "sku": ["MILK"] * n,
                "score": [0.5] * n,
                "source": ["repeat"] * n,
                "due_on": pa.array([None] * n, pa.date32()),
            }
        )

    day = date(2026, 3, 1)
    table = "customer_recommendation"
    for bad, message in (
        (rows([4, 5], [day, day]), "run_id is not 4"),
        (rows([4, 4], [day, date(2026, 3, 2)]), "as_of is not 2026-03-01"),
    ):
        with pytest.raises(ValueError, match=message), pg_db.session(write=True) as session:
            bulk.insert_arrow_partition(
                session, table, bad, key="run_id", value=4, constants={"as_of": day}
            )
    with pg_db.session(write=True) as session:
        written = bulk.insert_arrow_partition(
            session,
            table,
            rows([4, 4], [day, day]),
            key="run_id",
            value=4,
            serial="id",
            constants={"as_of": day},
        )
    assert written == 2
    with pg_db.engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT id, run_id, as_of, rank FROM customer_recommendation_run_4 ORDER BY id"
        ).all()
        defaults = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_attrdef"
            " WHERE adrelid = to_regclass('customer_recommendation_run_4')"
        ).scalar()
    assert [tuple(r) for r in found] == [(1, 4, day, 1), (2, 4, day, 2)]
    assert defaults == 1  # the id's nextval from the parent; the run's and day's are gone


def _copied(pg_db: Database, columns: dict[str, str], rows: object) -> list[tuple[object, ...]]:
    """``rows`` (an Arrow table) through insert_arrow into a temporary table of ``columns``
    (name → PostgreSQL type), read back in the order of the first column."""

    def work(session: object) -> list[tuple[object, ...]]:
        typed = {c: (t, t) for c, t in columns.items()}
        name = bulk.temporary_table(session, "tmp_binary", typed)  # type: ignore[arg-type]
        assert bulk.insert_arrow(session, name, rows) == rows.num_rows  # type: ignore[arg-type, attr-defined]
        listed = ", ".join(f"{c}::text" if t == "json" else c for c, t in columns.items())
        first = next(iter(columns))
        found = session.execute(text(f"SELECT {listed} FROM {name} ORDER BY {first}")).all()  # type: ignore[attr-defined]
        return [tuple(r) for r in found]

    return pg_db.write(work)


def test_every_type_of_the_binary_copy_round_trips_with_nulls_in_every_column(
    pg_db: Database,
) -> None:
    """PostgreSQL reads Arrow's values as binary COPY (core/bulk.copy_binary): each type it
    encodes, NULL in each column, text from dictionaries and large strings, blocks that are
    slices of a longer table (their offsets start past 0)."""
    import numpy as np
    import pyarrow as pa

    n = 120_007  # three blocks, the last one short
    rng = np.random.default_rng(3)
    gaps = rng.random(n) < 0.2
    words = ["", "plain", "tab\there", "王小明", 'comma, "quoted"\nnew line', "\\N"]
    picks = rng.integers(0, len(words), n).astype(np.int32)
    rows = pa.table(
        {
            "n": pa.array(np.arange(n, dtype=np.int64)),
            "small": pa.array(rng.integers(-32768, 32768, n).astype(np.int16), mask=gaps),
            "mid": pa.array(rng.integers(-(2**31), 2**31, n), mask=gaps),  # int64 into int4
            "big": pa.array(rng.integers(-(2**62), 2**62, n), mask=gaps),
            "ratio": pa.array(rng.standard_normal(n) * 1e300, mask=gaps),
            "half": pa.array(rng.random(n).astype(np.float32), mask=gaps),
            "flag": pa.array(rng.random(n) < 0.5, mask=gaps),
            "day": pa.array(rng.integers(-719_000, 2_932_000, n).astype(np.int32), mask=gaps).cast(
                pa.date32()
            ),
            "word": pa.DictionaryArray.from_arrays(pa.array(picks, mask=gaps), pa.array(words)),
            "label": pa.array([words[p] for p in picks], pa.large_string(), mask=~gaps),
            "doc": pa.array(['{"a": [1, "王"]}'] * n, mask=gaps),
        }
    )
    columns = {
        "n": "bigint",
        "small": "smallint",
        "mid": "integer",
        "big": "bigint",
        "ratio": "double precision",
        "half": "real",
        "flag": "boolean",
        "day": "date",
        "word": "varchar(64)",
        "label": "text",
        "doc": "json",
    }
    got = _copied(pg_db, columns, rows)
    assert len(got) == n
    for position, name in enumerate(columns):
        column = rows.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(pa.string())
        found = [r[position] for r in got]
        if name == "half":  # psycopg gives a real as its shortest decimal
            found = [None if v is None else float(np.float32(v)) for v in found]
        assert found == column.to_pylist(), name


def test_both_layouts_of_the_binary_copy_give_the_same_bytes() -> None:
    """copy_binary lays rows out padded, or (a long text among short ones) at offsets
    worked out from the lengths: the same bytes either way, with the slices, NULLs, empty
    texts and a NULL whose slot in Arrow still holds bytes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    words = pa.array(["a", None, "", "王小明", "x" * 5000, "bc"] * 50)
    with_gap = pc.if_else(  # a NULL made over "zz": its bytes stay in the buffer
        pa.array([i % 7 == 3 for i in range(300)]),
        pa.nulls(300, pa.string()),
        pa.array(["zz"] * 300),
    )
    table = pa.table(
        {
            "n": pa.array(np.arange(300, dtype=np.int64)),
            "words": words,
            "gap": with_gap,
            "day": pa.array([date(2026, 3, 1), None, date(1999, 12, 31)] * 100),
            "flag": pa.array([True, None, False] * 100),
            "ratio": pa.array(np.linspace(-1, 1, 300), mask=np.arange(300) % 5 == 0),
        }
    )
    types = ["int8", "text", "varchar", "date", "bool", "float8"]
    for block in table.to_batches(64):
        batch = block.slice(3)
        assert bulk.copy_binary(batch, types, padded=True) == bulk.copy_binary(
            batch, types, padded=False
        )


def test_a_number_too_large_for_its_column_is_refused_and_other_types_go_as_csv(
    pg_db: Database,
) -> None:
    import pyarrow as pa
    import pytest

    with pytest.raises(ValueError, match=r"column n: .*40000 not in range"):
        _copied(pg_db, {"n": "smallint"}, pa.table({"n": pa.array([1, 40_000], pa.int64())}))
    # numeric has no binary encoding here: the table goes as CSV, as before
    rows = pa.table({"n": pa.array([1, 2], pa.int64()), "price": ["1.50", None]})
    got = _copied(pg_db, {"n": "bigint", "price": "numeric(10, 2)"}, rows)
    assert [(n, None if p is None else str(p)) for n, p in got] == [(1, "1.50"), (2, None)]
    # a number for a text column: CSV too; a date64 goes in binary as a date
    rows = pa.table(
        {
            "n": pa.array([1, 2], pa.int64()),
            "code": pa.array([7, None], pa.int64()),
            "day": pa.array([date(2026, 3, 1), None], pa.date64()),
        }
    )
    got = _copied(pg_db, {"n": "bigint", "code": "text", "day": "date"}, rows)
    assert got == [(1, "7", date(2026, 3, 1)), (2, None, None)]
    got = _copied(pg_db, {"n": "bigint", "day": "date"}, rows.drop_columns(["code"]))
    assert got == [(1, date(2026, 3, 1)), (2, None)]


def test_tuples_go_in_binary_with_json_as_text_and_other_types_as_text(pg_db: Database) -> None:
    """insert_tuples dumps the types it knows in binary (a JSON column's value is its
    text); a table with a column of another type (here an instant) goes as COPY text."""
    from datetime import UTC, datetime

    at = datetime(2026, 3, 1, 2, 30, 15, 123456, tzinfo=UTC)

    def work(session: object) -> list[list[tuple[object, ...]]]:
        found = []
        for extra in ({}, {"at": ("timestamptz", "TEXT")}):
            columns = {
                "n": ("integer", "INTEGER"),
                "small": ("smallint", "INTEGER"),
                "doc": ("json", "TEXT"),
                "words": ("varchar(64)", "TEXT"),
                **extra,
            }
            name = bulk.temporary_table(session, "tmp_tuples", columns)  # type: ignore[arg-type]
            rows = [
                (1, -3, '{"a": "x\\ty", "b": "王"}', "tab\there", at),
                (2, None, None, None, None),
            ]
            bulk.insert_tuples(session, name, list(columns), [r[: len(columns)] for r in rows])  # type: ignore[arg-type]
            listed = ", ".join("doc::text" if c == "doc" else c for c in columns)
            query = text(f"SELECT {listed} FROM {name} ORDER BY n")
            found.append([tuple(r) for r in session.execute(query).all()])  # type: ignore[attr-defined]
            bulk.drop_table(session, name)  # type: ignore[arg-type]
        return found

    binary, as_text = pg_db.write(work)
    assert binary == [(1, -3, '{"a": "x\\ty", "b": "王"}', "tab\there"), (2, None, None, None)]
    assert as_text == [
        (1, -3, '{"a": "x\\ty", "b": "王"}', "tab\there", at),
        (2, None, None, None, None),
    ]


def test_an_instant_is_written_for_sqlite_as_core_db_writes_it() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    shanghai = timezone(timedelta(hours=8))
    for value in (
        datetime(2026, 3, 1, 2, 0, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 3, 1, 10, 0, 0, 123, tzinfo=shanghai),  # another zone: its UTC
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),  # a year of three digits, as strftime has it
    ):
        assert bulk.sqlite_instant(value) == f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}"
    assert bulk.sqlite_instant(datetime(2026, 3, 1, 10, tzinfo=shanghai)) == (
        "2026-03-01 02:00:00.000000"
    )


def test_tuples_written_batch_after_batch_keep_their_instants(db: Database) -> None:
    from datetime import UTC, datetime, timedelta

    at = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    sqlite = db.engine.dialect.name == "sqlite"
    # 70 rows: past the point where PostgreSQL takes them by COPY; 3: by executemany
    for count in (3, 70):

        def work(session: object, count: int = count) -> list[tuple[object, ...]]:
            name = bulk.temporary_table(
                session,  # type: ignore[arg-type]
                "tmp_written",
                {"n": ("bigint", "INTEGER"), "words": ("text", "TEXT"),
                 "at": ("timestamptz", "TEXT")},
            )  # fmt: skip
            rows = [
                (n, f"行 {n}", bulk.sqlite_instant(at + timedelta(seconds=n)) if sqlite else
                 at + timedelta(seconds=n)) for n in range(count)
            ]  # fmt: skip
            conn = session.connection()  # type: ignore[attr-defined]
            bulk.write_tuples(conn, name, ("n", "words", "at"), rows)
            found = session.execute(text(f"SELECT n, words, at FROM {name} ORDER BY n")).all()  # type: ignore[attr-defined]
            bulk.drop_table(session, name)  # type: ignore[arg-type]
            return [tuple(r) for r in found]

        got = db.write(work)
        expected = [(n, f"行 {n}", at + timedelta(seconds=n)) for n in range(count)]
        if sqlite:
            expected = [(n, w, bulk.sqlite_instant(t)) for n, w, t in expected]
        assert got == expected


def test_a_partition_lays_its_rows_out_by_the_columns_named(pg_db: Database) -> None:
    """``laid_out_by``: the new partition's rows are stored in that order (equal values in
    the order given, NULL last, as an ascending index keeps them), their ids given in the
    order of the rows as passed."""
    import pyarrow as pa

    rows = pa.table(
        {
            "run_id": pa.array([5] * 4, pa.int64()),
            "customer_id": pa.array([1, 2, 3, 4], pa.int64()),
            "as_of": pa.array([date(2026, 3, 1)] * 4, pa.date32()),
            "frequency": pa.array([1] * 4, pa.int32()),
            "monetary_fen": pa.array([100] * 4, pa.int64()),
            "segment": pa.array(["loyal", None, "champions", "loyal"], pa.string()),
            "stage": ["active"] * 4,
        }
    )
    with pg_db.session(write=True) as session:
        written = bulk.insert_arrow_partition(
            session,
            "customer_score",
            rows,
            key="run_id",
            value=5,
            serial="id",
            laid_out_by=("segment",),
        )
        session.commit()
    assert written == 4
    with pg_db.engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT id, customer_id, segment FROM customer_score_run_5 ORDER BY ctid"
        ).all()
    assert [tuple(r) for r in stored] == [
        (3, 3, "champions"),
        (1, 1, "loyal"),
        (4, 4, "loyal"),
        (2, 2, None),
    ]
