"""frames: the one place that defines the audit frames, their columns and dtypes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalingo_audit import frames, sources
from scalingo_audit.demo import demo_policy, demo_snapshot


def test_rows_is_to_dict_records() -> None:
    data = sources.from_snapshot(demo_snapshot(), policy=demo_policy())
    for frame in (data.apps, data.memberships, data.people, data.tokens, data.events):
        assert frames.rows(frame) == frame.to_dict("records")
        assert frames.rows(frame, frame.columns[:2]) == frame[frame.columns[:2]].to_dict("records")
    assert frames.rows(data.apps, []) == [{} for _ in range(len(data.apps))]
    odd = pd.DataFrame(
        {
            "text": pd.array(["a", None], dtype="string"),
            "flag": pd.array([True, None], dtype="boolean"),
            "count": pd.array([1, None], dtype="Int64"),
            "mixed": pd.Series([pd.NA, 2], dtype=object).astype(object),
            "numpy": pd.Series([pd.array([1], dtype="int64")[0], None], dtype=object),
            "when": pd.to_datetime(["2026-01-01", None], utc=True),
            "ratio": [0.5, float("nan")],
        }
    )
    got, want = frames.rows(odd), odd.to_dict("records")
    assert [list(map(type, r.values())) for r in got] == [list(map(type, r.values())) for r in want]
    assert repr(got) == repr(want)


def test_build_gives_exactly_the_schema_columns_and_dtypes():
    df = frames.build(
        "apps",
        [
            {"region": "osc-fr1", "app_name": "shop", "created_at": "2026-01-01T00:00:00Z",
             "hds_resource": None, "unknown_column": "dropped"},
            {"region": "osc-secnum-fr1", "app_name": "shop", "hds_resource": True},
        ],
    )  # fmt: skip
    assert list(df.columns) == frames.columns("apps")
    assert [str(t) for t in df.dtypes] == [c.dtype for c in frames.SCHEMAS["apps"]]
    assert df["created_at"].iloc[0] == pd.Timestamp("2026-01-01", tz="UTC")
    assert pd.isna(df["created_at"].iloc[1]) and pd.isna(df["app_id"]).all()  # filled, <NA>
    assert df["hds_resource"].tolist() == [pd.NA, True]  # unknown is not False
    assert df.equals(frames.build("apps", df))  # a frame goes through unchanged


def test_commands_are_tuples_of_words_or_none():
    df = frames.build("findings", [{"command": ["scalingo", "--app", 1]}, {"command": "x"}, {}])
    assert df["command"].tolist() == [("scalingo", "--app", "1"), None, None]


def test_empty_frames_and_the_catalogue_cover_every_frame():
    for name in frames.SCHEMAS:
        empty = frames.empty(name)
        assert empty.empty and list(empty.columns) == frames.columns(name)
    catalogue = frames.describe()
    assert list(catalogue.columns) == ["frame", "column", "dtype", "meaning"]
    assert len(catalogue) == sum(len(cols) for cols in frames.SCHEMAS.values())
    assert catalogue["meaning"].str.len().min() > 0  # every column is explained
    with pytest.raises(KeyError):
        frames.columns("no-such-frame")


# --- the one NA/text rule, the one severity order, the one role-labels table --------------


@pytest.mark.parametrize(
    "value", [None, float("nan"), pd.NA, pd.NaT, np.float64("nan"), np.datetime64("NaT")]
)
def test_missing_values_become_the_given_text(value: object) -> None:
    assert frames.is_missing(value)
    assert frames.text(value) == ""
    assert frames.text(value, None) is None
    assert frames.text(value, "unknown") == "unknown"


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("  a b  ", "  a b  "),  # nothing stripped
        ("", ""),
        ("NaN", "NaN"),  # a string is never missing
        (0, "0"),
        (False, "False"),
        (1.5, "1.5"),
        ([None], "[None]"),  # a list is a value, not a missing one
        ((), "()"),
        (pd.Timestamp("2026-01-02", tz="UTC"), "2026-01-02 00:00:00+00:00"),
    ],
)
def test_present_values_are_str_as_they_are(value: object, want: str) -> None:
    assert not frames.is_missing(value)
    assert frames.text(value) == frames.text(value, None) == want


def test_texts_is_text_of_every_value() -> None:
    for column in (
        pd.Series(["a", None, " b"], dtype="string"),
        pd.Series(["a", None, float("nan"), pd.NA, 3], dtype=object),
        pd.Series([1.0, float("nan")]),
        pd.Series([True, None], dtype="boolean"),
        pd.Series([], dtype="string"),
    ):
        assert frames.texts(column) == [frames.text(v) for v in column.astype(object)]


def test_one_order_for_severities_and_roles() -> None:
    assert sorted(frames.SEVERITIES, key=frames.SEVERITY_RANK.__getitem__) == list(
        frames.SEVERITIES
    )
    assert frames.SEVERITY_RANK["high"] < frames.SEVERITY_RANK["info"]
    assert [frames.ROLE_RANK[r] for r in frames.ROLES] == [0, 1, 2]
    assert set(frames.ROLE_LABELS) == set(frames.ROLE_PROSE) == set(frames.ROLES)
    assert frames.ROLE_LABELS["collaborator"] == "Collaborator (full)"
    assert frames.ROLE_PROSE["collaborator"] == "full Collaborator"
