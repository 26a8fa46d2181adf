"""GET /healthz: whether this app process can serve, for a load balancer that takes a broken host out.

200 only when the database answers a query and, when
TAIWA_REDIS_URL is set, Redis answers a PING, each within CHECK_TIMEOUT seconds; otherwise 503 with
Retry-After. The JSON says which part failed and nothing else (no addresses, no versions, no error
text), and is never cached.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Request, get
from litestar.response import Response

log = logging.getLogger("taiwa.health")
CHECK_TIMEOUT = 2.0
RETRY_AFTER = "10"


async def _database(db: Any) -> str:
    await db.fetch_one("select 1")
    return "ok"


async def _redis(manager: Any) -> str:
    redis = getattr(manager, "redis", None)
    if redis is None:
        return "off"  # one process: rooms are in memory
    await redis.ping()
    return "ok"


async def _checked(name: str, check: Any) -> str:
    try:
        return await asyncio.wait_for(check, CHECK_TIMEOUT)
    except Exception as error:  # noqa: BLE001 - away, refusing, slow or failing: all mean "unavailable"
        log.warning("health check: %s does not answer (%s)", name, type(error).__name__)
        return "unavailable"


@get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> Response[dict[str, str]]:
    """{"status": "ok" | "unavailable", "database": "ok" | "unavailable",
    "redis": "ok" | "off" | "unavailable"}."""
    state = request.app.state
    database, redis = await asyncio.gather(_checked("the database", _database(state.db)),
                                           _checked("Redis", _redis(state.sio.manager)))
    healthy = database == "ok" and redis in ("ok", "off")
    headers = {"cache-control": "no-store"} | ({} if healthy else {"retry-after": RETRY_AFTER})
    return Response({"status": "ok" if healthy else "unavailable", "database": database, "redis": redis},
                    status_code=200 if healthy else 503, headers=headers)


ROUTES = [healthz]
