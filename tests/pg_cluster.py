"""A throwaway PostgreSQL cluster for the tests (and `python -m bench --db postgres`): Debian's binaries,
a temporary folder, a free port.

`make test-deps` installs the `postgresql` package. As root the server runs as the `postgres` user
(PostgreSQL refuses to run as root). The cluster listens on 127.0.0.1 and on a unix socket in its own
folder, with fsync off (a test cluster is thrown away; the bench asks for `durable=True`). Each test gets
a new database copied from a template that is migrated once (`fresh_database`), which takes a few
milliseconds.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

TEMPLATE = "taiwa_template"
_names = itertools.count()


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """initdb + pg_ctl start in a temporary folder; `stop()` removes it all."""

    def __init__(self, *, durable: bool = False) -> None:
        """durable: fsync on, as in production (for measurements); tests run with fsync off."""
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (make test-deps installs the Debian package)")
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="taiwa-pg-"))
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.data = self.folder / "data"
        if self.user:
            shutil.chown(self.folder, self.user)
        self.folder.chmod(0o755)
        self._run(["initdb", "-D", str(self.data), "-U", "taiwa", "--auth=trust", "-E", "UTF8",
                   "--locale=C.UTF-8"])
        self.options = (f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.folder} "
                        + ("" if durable else "-c fsync=off -c full_page_writes=off ") + "-c max_connections=300 "
                        "-c shared_buffers=64MB")
        self._run(["pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", self.options,
                   "-w", "-t", "60", "start"])
        self.started = True

    def _run(self, command: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / command[0]), *command[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, cwd=self.folder, timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://taiwa@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = self._run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "taiwa", "-d", database,
                            "-v", "ON_ERROR_STOP=1", "-Atc", sql])
        return result.stdout

    def create_database(self, template: str | None = None) -> str:
        """A new empty database (or a copy of `template`); its URL."""
        name = f"t{os.getpid()}_{next(_names)}"
        self.psql(f"create database {name}" + (f" template {template}" if template else ""))
        return self.url(name)

    def stop(self, mode: str = "fast") -> None:
        if self.started:
            self._run(["pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"], check=False)
            self.started = False

    def start(self) -> None:
        """Start again after stop() (same folder, same port, same settings)."""
        if not self.started:
            for _ in range(50):
                result = self._run(["pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o",
                                    self.options, "-w", "-t", "60", "start"], check=False)
                if result.returncode == 0:
                    break
                time.sleep(0.2)
            self.started = True

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def migrated_template(cluster: Cluster) -> str:
    """Create the template database and migrate it with the app's own code (once per cluster)."""
    import asyncio

    from server.core.db_postgres import PostgresDatabase

    cluster.psql(f"create database {TEMPLATE}")

    async def migrate() -> None:
        db = PostgresDatabase(cluster.url(TEMPLATE))
        await db.open()
        await db.close()

    asyncio.run(migrate())
    return TEMPLATE
