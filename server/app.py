"""create_app(): Litestar pages and API, wrapped by the Socket.IO server, on one SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from litestar import Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.plugins.htmx import HTMXRequest
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from realtime.caption_namespace import CaptionNamespace
from realtime.caption_service import CaptionService
from realtime.cluster import Cluster
from realtime.missed import missed_messages
from realtime.connections import SocketApp
from realtime.namespace import BoardNamespace
from realtime.service import BoardService
from realtime.presence import Presence
from realtime.socket import Server, create_socket_server
from server.api import api_router
from server.auth import signin
from server.auth.board_access import authenticator, translate_for
from server.auth.caption_access import caption_authenticator
from server.core import background, mail, server_secret
from server.organize import organize_router
from server.public import public_router
from server.auth.guards import APP_DEPENDENCIES
from server.core.database import is_postgres, open_database
from server.core.errors import EXCEPTION_HANDLERS
from server.core.furigana import RubyMiddleware
from server.core.middleware import RequestContextMiddleware, SecurityHeadersMiddleware, behind_proxies
from server.settings import ROOT, Settings
from server.core.templating import configure
from server.auth.limits import SHARED_LIMITS, windows
from server.auth.participant_limits import ParticipantLimits
from server.auth.shared_limits import SharedLimits

CSRF_COOKIE = "taiwa_csrf"


def stored_secret(settings: Settings) -> str:
    """TAIWA_SECRET, or a random secret kept in a file beside the database (never in it) across restarts."""
    if settings.secret:
        return settings.secret
    if is_postgres(settings.db_path):
        # machines that share a PostgreSQL database share no disk: they must be given one secret
        raise SystemExit("taiwa: with a PostgreSQL database, set TAIWA_SECRET (the same on every app host)")
    return server_secret.stored_secret(settings.db_path)


def lifespan_for(db: Any, settings: Settings, notify: Any, secret: str, sio: Server,
                 presence: Presence) -> Callable[[Litestar], Any]:
    """Open the database and hear the other processes at start-up, lead background work (mail,
    reminders, purges), close at the end."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await db.open()
        app.state.db = db
        sio.listen()
        worker = asyncio.create_task(background.lead(db, settings, notify, secret)) if settings.background else None
        try:
            yield
        finally:
            if worker:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await presence.close()
            await db.close()

    return lifespan


def litestar_app(settings: Settings, secret: str, lifespan: Callable[[Litestar], Any]) -> Litestar:
    """Pages, feeds and the API: one router per URL prefix, each with its guards."""
    return Litestar(
        route_handlers=[
            public_router(), organize_router(), api_router(),
            Router(path="/", route_handlers=signin.ROUTES, include_in_schema=False),
            create_static_files_router(path="/static", directories=[ROOT / "static"], include_in_schema=False),
        ],
        dependencies=APP_DEPENDENCIES,
        request_class=HTMXRequest,  # request.htmx: the HX-* headers, read once
        lifespan=[lifespan],
        template_config=TemplateConfig(directory=ROOT / "templates", engine=JinjaTemplateEngine,
                                       engine_callback=lambda engine: configure(engine.engine)),
        csrf_config=CSRFConfig(secret=secret, cookie_name=CSRF_COOKIE,
                               cookie_secure=settings.secure_cookies, cookie_httponly=True,
                               # RFC 8058: mail programs unsubscribe with a bare POST (the token is the secret)
                               exclude=["/api/", "/socket.io/", "^/themes/[^/]+/unsubscribe/[^/]+$"]),
        openapi_config=OpenAPIConfig(
            title="Taiwa API", version="1.0.0", path="/schema", render_plugins=[JsonRenderPlugin()],
            components=Components(security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer", description="taiwa create-token"),
            }),
        ),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        logging_config=LoggingConfig(log_exceptions="never", configure_root_logger=False),
        debug=False,
    )


def create_app(settings: Settings | None = None) -> Any:
    """The ASGI app: Socket.IO on /socket.io/, everything else served by Litestar, each seeing the
    client's address as forwarded by a trusted proxy."""
    settings = settings or Settings.from_env()
    db = open_database(settings.db_path)
    connections = settings.limit("connections")
    cluster = Cluster()  # every process of the deployment, through the socket server's Redis if it has one
    board_service = BoardService(db, cluster)
    sio = create_socket_server(redis_url=settings.redis_url, allowed_origins=[settings.base_url],
                               missed=partial(missed_messages, board_service), join_timeout=connections.seconds,
                               backlog_packets=settings.socket_backlog_packets,
                               backlog_bytes=settings.socket_backlog_bytes, cluster=cluster)
    secret = stored_secret(settings)
    notify = mail.notifier(settings, secret)
    limits = {name: settings.limit(name) for name in settings.limits}
    throttles = windows(limits)
    shared_limits = SharedLimits(db, {name: limit for name, limit in limits.items() if name in SHARED_LIMITS}, secret)
    # board changes, notes, questions, snapshots per participant: over every process (Redis) when it can
    limiter = ParticipantLimits(throttles, redis=cluster.redis, process=cluster.id, enabled=settings.rate_limits)
    board_limit = limiter.allow
    presence = Presence(cluster.redis, cluster.id)
    board_namespace = BoardNamespace(board_service, authenticator(db), translate_for, board_limit, presence=presence)
    sio.register_namespace(board_namespace)
    caption_service = CaptionService(db)
    caption_namespace = CaptionNamespace(caption_service, caption_authenticator(db), translate_for, cluster=cluster)
    sio.register_namespace(caption_namespace)
    web_app = litestar_app(settings, secret, lifespan_for(db, settings, notify, secret, sio, presence))
    web_app.state.update(
        settings=settings, db=db, sio=sio, secret=secret, notify=notify,
        derive_token=lambda salt: mail.registrant_token(secret, salt),
        shared_limits=shared_limits, throttles=throttles, limiter=limiter,
        cluster=cluster, board_service=board_service, board_namespace=board_namespace, board_limit=board_limit,
        caption_service=caption_service, caption_namespace=caption_namespace,
        feed_cache=OrderedDict(),
    )
    ruby = RubyMiddleware(web_app, db, secure_cookies=settings.secure_cookies)
    web_app.state.name_books = ruby.books  # the dictionary page makes it read the names again
    web = SecurityHeadersMiddleware(RequestContextMiddleware(ruby, db), https=settings.secure_cookies)
    app = behind_proxies(SocketApp(sio, web, per_address=connections.count if settings.rate_limits else None),
                         settings.trusted_proxies)
    app.litestar = web_app  # type: ignore[attr-defined]  # tests reach the state through it
    return app
