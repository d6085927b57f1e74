"""The error tree of errors.py: fields that carry data, messages unchanged, and the old
``except`` clauses still catching the new classes."""

from __future__ import annotations

import pytest

from scalingo_audit.errors import (
    ApiError,
    ApiStatusError,
    ApiTransportError,
    AuditError,
    AuthError,
    MissingToolError,
    ReportError,
)


def test_report_error_fields():
    e = ReportError(
        "notebook 02.ipynb failed at cell 3: KeyError: 'x'",
        notebook="02.ipynb",
        cell_index=4,
        ename="KeyError",
        evalue="'x'",
    )
    assert (e.notebook, e.cell_index, e.ename, e.evalue) == ("02.ipynb", 4, "KeyError", "'x'")
    assert str(e) == "notebook 02.ipynb failed at cell 3: KeyError: 'x'"
    plain = ReportError("out: exists and is not a directory")
    assert (plain.notebook, plain.cell_index, plain.ename, plain.evalue) == (None,) * 4


def test_api_errors_fields_and_catching():
    st = ApiStatusError("HTTP 503 after 4 attempt(s)", status=503, request="GET /v1/apps")
    assert (st.status, st.request) == (503, "GET /v1/apps")
    assert str(st) == "GET /v1/apps: HTTP 503 after 4 attempt(s)"
    tr = ApiTransportError("connection failed after 2 attempt(s)", request="GET /v1/apps")
    assert tr.status is None and str(tr) == "GET /v1/apps: connection failed after 2 attempt(s)"
    for error in (st, tr, AuthError("rejected", status=401)):
        with pytest.raises(ApiError):
            raise error
        assert isinstance(error, AuditError)
    assert not isinstance(tr, ApiStatusError) and not isinstance(st, ApiTransportError)
    with pytest.raises(TypeError):
        ApiStatusError("no status")  # type: ignore[call-arg]


def test_missing_tool_error_fields():
    e = MissingToolError("PDF output needs Chromium ...", tool="chromium")
    assert e.tool == "chromium" and str(e) == "PDF output needs Chromium ..."
    assert isinstance(e, AuditError) and not isinstance(e, ReportError)
