"""Both engines behind one interface: the suite's fixtures really use the engine asked for."""

from __future__ import annotations

from tests.conftest import ENGINE


async def test_the_app_runs_on_the_engine_the_run_asked_for(db):
    assert db.dialect == ENGINE
    row = await db.fetch_one("select count(*) as n from schema_migrations")
    assert row["n"] == row[0] >= 9


async def test_healthz_answers_200_when_the_database_answers_and_is_never_cached(client):
    answer = await client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "database": "ok", "redis": "off"}  # one process: no Redis to ask
    assert answer.headers["cache-control"] == "no-store"
