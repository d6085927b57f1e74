"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fakeapi import FakeScalingo, make_world


@pytest.fixture
def fake_scalingo() -> Iterator[FakeScalingo]:
    """A running fake Scalingo API (auth + osc-fr1 + osc-secnum-fr1) on 127.0.0.1.

    Small world: 4 owned apps, 2 collaborated, 3 collaborators per app, 5 events per app,
    events paginated 2 per page. Tests needing another world build
    ``FakeScalingo(make_world(...))`` themselves (it is a context manager).
    """
    with FakeScalingo(make_world(owned=4, collaborated=2, events_per_app=5), per_page=2) as fake:
        yield fake
