"""Both engines behind one interface: the suite's fixtures really use the engine asked for."""

from __future__ import annotations

from tests.conftest import ENGINE


async def test_the_app_runs_on_the_engine_the_run_asked_for(db):
    assert db.dialect == ENGINE
    row = await db.fetch_one("select count(*) as n from schema_migrations")
    assert row["n"] == row[0] >= 9
