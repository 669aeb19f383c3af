"""Tabular input: pandas' own dtypes, categoricals, nullable integers and datetimes, from
a DataFrame, a file or plain records, all the way through a package."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

import modelbaton
from modelbaton.contract.errors import DataError
from modelbaton.contract.manifest import FieldSpec
from modelbaton.data.schema import check_table, check_values, conform, infer_fields
from modelbaton.data.table import read_table, to_frame, to_table


def fields_of(frame, **options):
    table = to_table(frame)
    return {f.name: f for f in infer_fields(table, **options)}, table


def test_pandas_nullable_dtypes():
    frame = pd.DataFrame({
        "count": pd.array([1, None, 3], dtype="Int64"),
        "share": pd.array([0.5, None, 1.5], dtype="Float64"),
        "flag": pd.array([True, None, False], dtype="boolean"),
        "name": pd.array(["a", None, "c"], dtype="string"),
        "small": pd.array([1, 2, 3], dtype="UInt8"),
    })
    fields, table = fields_of(frame)
    assert (fields["count"].type, fields["count"].nullable) == ("integer", True)
    assert (fields["count"].minimum, fields["count"].maximum) == (1, 3)
    assert (fields["share"].type, fields["share"].nullable) == ("number", True)
    assert (fields["flag"].type, fields["flag"].nullable) == ("boolean", True)
    assert (fields["name"].type, fields["name"].nullable) == ("string", True)
    assert (fields["small"].type, fields["small"].nullable) == ("integer", False)
    assert table["count"].tolist() == [1, None, 3]
    # Cast for the model: a nullable integer becomes float with NaN, as numpy must.
    cast = conform(table, list(fields.values()))
    assert cast["count"].dtype == np.float64 and np.isnan(cast["count"][1])
    assert cast["small"].dtype == np.int64


def test_categoricals_keep_their_declared_categories():
    frame = pd.DataFrame({
        "plan": pd.Categorical(["basic", "pro", None], categories=["basic", "plus", "pro"]),
        "grade": pd.Categorical([3, 1, 3]),
    })
    from modelbaton.data.table import frame_categories

    fields, table = fields_of(frame, categories=frame_categories(frame))
    assert fields["plan"].categories == ["basic", "plus", "pro"] and fields["plan"].nullable
    assert fields["grade"].type == "integer" and fields["grade"].categories == [1, 3]
    assert table["plan"].tolist() == ["basic", "pro", None]
    with pytest.raises(DataError, match="row 0, field 'grade': 2 is not one of 1, 3"):
        conform({"plan": np.array(["plus"], dtype=object), "grade": np.array([2])},
                list(fields.values()))


NUMERIC = [FieldSpec(name="income", type="number", minimum=0, maximum=1e6),
           FieldSpec(name="age", type="integer", minimum=18, maximum=120),
           FieldSpec(name="score", type="number", nullable=True),
           FieldSpec(name="id", type="integer")]


@pytest.mark.parametrize("columns", [
    {"income": [1.5, 20], "age": [30, 41.0], "score": [0.25, 1], "id": [5, -3]},
    {"income": [1.5, 20], "age": [30, 41], "score": [0.25, 1], "id": [2**62 + 1, -3]},
    {"income": [1.5], "age": [30], "score": [None], "id": [7]},
    {"income": [True], "age": [30], "score": [0.5], "id": [7]},
    {"income": [1.5], "age": [30.5], "score": [0.5], "id": [7]},
    {"income": [-1.0, 2.0], "age": [30, 200], "score": [0.5, 0.5], "id": [7, 8]},
    {"income": ["1.5"], "age": [30], "score": [0.5], "id": [7]},
    {"income": [1.5], "age": [None], "score": [0.5], "id": [7]},
    {"income": [1.5], "age": [30], "score": [0.5], "id": [2**70]},
    {"income": [1.5], "age": [30], "score": [0.5]},
])
def test_plain_values_are_checked_as_tables_are(columns):
    """JSON values go through one matrix when they can; the outcome is check_table's."""
    got, got_problems = check_values(columns, NUMERIC)
    want, want_problems = check_table(to_table(columns), NUMERIC)
    assert got_problems == want_problems
    assert list(got) == list(want)
    for name, column in want.items():
        assert got[name].dtype == column.dtype, name
        np.testing.assert_array_equal(got[name], column, err_msg=name)


def test_plain_values_keep_integers_exact_and_refuse_booleans():
    cast, problems = check_values({"income": [1.5], "age": [30.0], "score": [1],
                                   "id": [2**62 + 1]}, NUMERIC)
    assert problems == []
    assert cast["age"].dtype == np.int64 and cast["age"].tolist() == [30]
    assert cast["score"].dtype == np.float64
    assert cast["id"].tolist() == [2**62 + 1]  # beyond float64's 53 bits, still exact
    _, problems = check_values({"income": [True], "age": [30], "score": [0.5], "id": [7]},
                               NUMERIC)
    assert [(p.field, p.kind, p.row) for p in problems] == [("income", "type", 0)]

@pytest.mark.parametrize("table", [
    {"income": np.array([1.5, 2.0]), "score": np.array([np.nan, 0.5])},
    {"age": np.array([30, 41]), "id": np.array([2**62 + 1, -3])},
    {"age": np.array([30, 41]), "income": np.array([1.5, 2.0])},
    {"plan": np.array(["basic", None], dtype=object), "age": np.array([30, 41])},
    {"flag": np.array([True, False])},
])
def test_to_frame_keeps_every_dtype_and_never_shares_the_tables_arrays(table):
    frame = to_frame(table)
    pd.testing.assert_frame_equal(frame, pd.DataFrame(dict(table)), check_exact=True)
    before = {name: column.copy() for name, column in table.items()}
    frame.iloc[0, 0] = frame.iloc[1, 0]  # feature code may write into its frame
    for name, column in table.items():
        np.testing.assert_array_equal(column, before[name])

def test_datetimes_from_every_source():
    naive = pd.to_datetime(["2024-01-01 10:00", None, "2024-03-01"], format="ISO8601")
    frame = pd.DataFrame({"when": naive,
                          "aware": naive.tz_localize("Europe/Paris")})
    fields, table = fields_of(frame)
    assert fields["when"].type == "datetime" and fields["when"].nullable
    assert fields["aware"].type == "datetime"
    # Aware times are kept as UTC.
    assert str(table["aware"][0]) == "2024-01-01T09:00:00.000000"
    records = to_table([{"when": dt.datetime(2024, 1, 1, 10)}, {"when": None},
                        {"when": dt.date(2024, 3, 1)}])
    np.testing.assert_array_equal(records["when"], table["when"])
    cast = conform({"when": np.array(["2024-01-01T10:00:00Z", None, "2024-03-01"],
                                     dtype=object)}, [fields["when"]])
    np.testing.assert_array_equal(cast["when"], table["when"])
    with pytest.raises(DataError, match="row 1, field 'when': expected datetime, got 'soon'"):
        conform({"when": np.array(["2024-01-01", "soon"], dtype=object)}, [fields["when"]])


def test_csv_and_jsonl_read_iso_times_as_datetimes(tmp_path):
    (tmp_path / "a.csv").write_text("day,code\n2024-01-01,2024-13-45\n2024-02-01T08:30,x\n")
    table = read_table(tmp_path / "a.csv")
    assert table["day"].dtype.kind == "M" and table["code"].dtype == object
    (tmp_path / "a.jsonl").write_text('{"day": "2024-01-01"}\n{"day": null}\n')
    assert read_table(tmp_path / "a.jsonl")["day"].dtype.kind == "M"


def test_typed_csv_keeps_the_one_bad_value_for_the_check(tmp_path):
    (tmp_path / "a.csv").write_text("n,zip,flag\n1,02134,true\nwide,10001,maybe\n")
    table = read_table(tmp_path / "a.csv", types={"n": "number", "zip": "string",
                                                  "flag": "boolean"})
    assert table["n"].tolist() == [1, "wide"] and table["zip"].tolist() == ["02134", "10001"]
    assert table["flag"].tolist() == [True, "maybe"]


def test_unsupported_columns():
    with pytest.raises(DataError, match="column 'span' has unsupported dtype timedelta64"):
        infer_fields(to_table(pd.DataFrame({"span": pd.to_timedelta([1, 2], unit="s")})))
    with pytest.raises(DataError, match="column 'x' has no values in the sample"):
        infer_fields(to_table({"x": [None, None]}))
    with pytest.raises(DataError, match="column 'x' holds infinite values"):
        infer_fields(to_table({"x": [1.0, np.inf]}))


def test_every_column_kind_end_to_end(tmp_path, accounts, accounts_package, cli):
    path, expected = accounts_package
    predictor = modelbaton.load(path)
    fields = {f.name: f for f in predictor.inputs}
    assert {name: f.type for name, f in fields.items()} == {
        "income": "number", "visits": "integer", "plan": "string", "active": "boolean",
        "signup": "datetime"}
    assert fields["visits"].nullable and fields["plan"].categories == ["basic", "plus", "pro"]

    # The DataFrame itself, plain records and files all give the same scores.
    np.testing.assert_array_equal(predictor.predict(accounts), expected)
    records = json.loads(accounts.to_json(orient="records", date_format="iso"))
    np.testing.assert_array_equal(predictor.predict(records), expected)
    accounts.to_csv(tmp_path / "in.csv", index=False)
    accounts.to_parquet(tmp_path / "in.parquet")
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    for name in ("in.csv", "in.parquet", "in.jsonl"):
        result = cli("predict", path, "--input", tmp_path / name)
        assert result.code == 0, result.err
        got = [json.loads(line)["prediction"] for line in result.out.splitlines()]
        np.testing.assert_array_equal(got, expected, err_msg=name)

    result = cli("predict", path, "--input", tmp_path / "in.csv", "--with-input")
    first = json.loads(result.out.splitlines()[0])  # the input as given, beside its score
    assert first["signup"] == "2019-05-01 00:00:00" and first["visits"] == 3
    assert first["prediction"] == expected[0]

    (tmp_path / "bad.csv").write_text(
        "income,visits,plan,active,signup\n52000,3,basic,true,2019-05-01\n"
        "61000,1.5,pro,false,2021-01-15\n")
    result = cli("predict", path, "--input", tmp_path / "bad.csv")
    assert result.code == 2
    assert "row 1, field 'visits': expected integer, got 1.5" in result.err
