"""PostgreSQL topologies started on 127.0.0.1 by the tests and the benchmark scripts themselves:
a PgBouncer in transaction mode in front of a server, a primary with a streaming replica made with
``pg_basebackup``, and (``bench/failover.py``) a Patroni cluster over etcd.

Every piece comes from Debian's packages (``scripts/test`` installs them) and runs as the
``postgres`` user when started by root (PostgreSQL and PgBouncer refuse to run as root), with its
files in a temporary directory of its own and its ports free ones; ``stop()`` (or leaving the
``with`` block) ends the processes it started and removes the directory.

Standard library and asyncpg only; imported as ``pgtopology`` (``bench/`` is on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

from launcher import HOST, free_port

PGBOUNCER = "/usr/sbin/pgbouncer"
#: The newest PostgreSQL server binaries installed (``/usr/lib/postgresql/<major>/bin``).
PG_BIN = max((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")), key=lambda p: int(p.parent.name), default=Path("/usr/bin"))
RUN_AS = "postgres"
READY_TIMEOUT_S = 60


def _owned_tempdir(prefix: str) -> Path:
    """A temporary directory the ``postgres`` user owns when we are root (it runs the servers)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        user = pwd.getpwnam(RUN_AS)
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


def _as_server_user(argv: list[str]) -> list[str]:
    """``argv`` run as ``postgres`` when we are root, as ourselves otherwise."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", RUN_AS, "--", *argv]


def _run(argv: list[str]) -> None:
    done = subprocess.run(_as_server_user(argv), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def wait_until_accepting(url: str, *, timeout_s: float = READY_TIMEOUT_S, log: Path | None = None) -> None:
    """Return once ``url`` accepts a connection; fail with the end of ``log`` after ``timeout_s``."""

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=2)
        await conn.close()

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            asyncio.run(probe())
            return
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            if time.monotonic() > deadline:
                tail = log.read_text()[-2000:] if log is not None and log.exists() else ""
                raise RuntimeError(f"{url} did not accept connections: {exc}\n{tail}") from None
            time.sleep(0.1)


class PgBouncer:
    """PgBouncer in transaction pooling mode on a free port, in front of ``upstream_host:port``.

    PgBouncer's defaults apply except where a test process needs otherwise: it listens on
    127.0.0.1 only (no Unix socket), trusts local users (like the PostgreSQL it fronts here), takes
    up to 1,000 clients (the suite opens many pools at once), and serves every database by name
    (``* =``). ``pool_size`` sets ``default_pool_size`` (server connections per database and user)."""

    def __init__(
        self, upstream_port: int = 5432, *, upstream_host: str = HOST, user: str = "postgres", pool_size: int | None = None
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.pool_size = pool_size
        self.user = user
        self.port = free_port()
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@{HOST}:{self.port}/{database}"

    def start(self) -> PgBouncer:
        self.dir = _owned_tempdir("billbook-pgbouncer-")
        (self.dir / "users.txt").write_text(f'"{self.user}" ""\n')
        config = self.dir / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={self.upstream[0]} port={self.upstream[1]}\n"
            "[pgbouncer]\n"
            f"listen_addr = {HOST}\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.dir / 'users.txt'}\n"
            "pool_mode = transaction\nmax_client_conn = 1000\n"
            + (f"default_pool_size = {self.pool_size}\n" if self.pool_size else "")
            + f"logfile = {self.dir / 'pgbouncer.log'}\npidfile = {self.dir / 'pgbouncer.pid'}\n"
        )
        argv = [PGBOUNCER, str(config)]
        if os.geteuid() == 0:
            argv[1:1] = ["-u", RUN_AS]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_accepting(self.url(), log=self.dir / "pgbouncer.log")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # PgBouncer's "shut down now"
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


class PgCluster:
    """One PostgreSQL server of our own (``initdb`` or ``pg_basebackup``) on a free port."""

    def __init__(self, data: Path, port: int) -> None:
        self.data = data
        self.port = port
        self.log = data.parent / f"{data.name}.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/{database}"

    def start(self) -> PgCluster:
        _run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"])
        wait_until_accepting(self.url(), log=self.log)
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            _run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])


def init_primary(cluster: PgCluster) -> PgCluster:
    """``initdb`` a server that listens on 127.0.0.1 only, trusts local users and can be streamed from."""
    _run([str(PG_BIN / "initdb"), "-D", str(cluster.data), "-A", "trust", "-U", "postgres", "--no-sync"])
    with (cluster.data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"port = {cluster.port}\nlisten_addresses = '{HOST}'\nunix_socket_directories = ''\n"
            "wal_level = replica\nmax_wal_senders = 4\nhot_standby_feedback = on\n"
        )
    with (cluster.data / "pg_hba.conf").open("a") as hba:
        hba.write(f"host replication postgres {HOST}/32 trust\n")
    return cluster


class SingleServer:
    """One PostgreSQL server of our own (nothing else writes to it: its WAL is ours alone)."""

    def __init__(self) -> None:
        self.dir = _owned_tempdir("billbook-server-")
        self.server = PgCluster(self.dir / "data", free_port())

    def __enter__(self) -> PgCluster:
        try:
            return init_primary(self.server).start()
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *_: object) -> None:
        try:
            self.server.stop("immediate")
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class StreamingPair:
    """A primary (``initdb``) and a streaming replica of it (``pg_basebackup -R``), each on a free
    port, in one temporary directory; ``stop()`` stops both and removes it.

    The primary runs with ``synchronous_commit`` as usual (asynchronous replication: a replica
    may lag, which is what the read path must measure)."""

    def __init__(self) -> None:
        self.dir = _owned_tempdir("billbook-replication-")
        self.primary = PgCluster(self.dir / "primary", free_port())
        self.replica = PgCluster(self.dir / "replica", free_port())

    def start(self) -> StreamingPair:
        try:
            init_primary(self.primary).start()
            _run([
                str(PG_BIN / "pg_basebackup"), "-h", HOST, "-p", str(self.primary.port), "-U", "postgres",
                "-D", str(self.replica.data), "-R", "-X", "stream", "--no-sync",
            ])
            with (self.replica.data / "postgresql.conf").open("a") as conf:
                conf.write(f"port = {self.replica.port}\nhot_standby = on\n")
            self.replica.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for cluster in (self.replica, self.primary):
            try:
                cluster.stop("immediate")
            except RuntimeError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> StreamingPair:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


ETCD = "/usr/bin/etcd"
PATRONI = "/usr/bin/patroni"
#: Patroni's smallest leader lease (seconds): a dead primary's lock expires after at most this.
PATRONI_TTL_S = 20


class PatroniCluster:
    """etcd (one member, v2 API, which Debian's Patroni speaks) and Patroni managing ``nodes``
    PostgreSQL servers in synchronous mode: a primary and synchronous standbys, on free ports.

    ``url`` is the multi-host URL billbook uses (it connects to whichever node accepts writes);
    ``kill_primary`` SIGKILLs the primary's Patroni and PostgreSQL processes at once, as when its
    machine dies, so the standby is promoted once the leader's lease expires."""

    def __init__(self, nodes: int = 2) -> None:
        self.dir = _owned_tempdir("billbook-patroni-")
        self.etcd_ports = (free_port(), free_port())
        self.names = [f"node{i}" for i in range(1, nodes + 1)]
        self.pg_ports = {name: free_port() for name in self.names}
        self.api_ports = {name: free_port() for name in self.names}
        self.etcd: subprocess.Popen | None = None
        self.patroni: dict[str, subprocess.Popen] = {}

    def url(self, database: str = "postgres") -> str:
        """billbook's form of the multi-host URL (SQLAlchemy's: one ``host=`` per node)."""
        hosts = "&".join(f"host={HOST}:{port}" for port in self.pg_ports.values())
        return f"postgresql://postgres@/{database}?{hosts}&target_session_attrs=read-write"

    def dsn(self, database: str = "postgres") -> str:
        """libpq's (and asyncpg's) form of the same: ``host:port,host:port`` in the authority."""
        hosts = ",".join(f"{HOST}:{port}" for port in self.pg_ports.values())
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs=read-write"

    def node_url(self, name: str, database: str = "postgres") -> str:
        return f"postgresql://postgres@{HOST}:{self.pg_ports[name]}/{database}"

    def start(self) -> PatroniCluster:
        try:
            self._start_etcd()
            for name in self.names:
                self._start_node(name)
            self.wait_for_sync_standby()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_etcd(self, attempts: int = 3, timeout_s: float = 30) -> None:
        """etcd, answering on its client port before any Patroni starts. A port chosen free can be
        taken by another process before etcd binds it: then etcd exits, and it is started again on
        new ports (Patroni would otherwise retry an etcd that never comes)."""
        for attempt in range(1, attempts + 1):
            client, peer = (f"http://{HOST}:{p}" for p in self.etcd_ports)
            with (self.dir / "etcd.log").open("w") as log:  # the child keeps its own descriptor
                self.etcd = self._spawn_etcd(client, peer, log)
            if self._etcd_answers(client, timeout_s):
                return
            self.etcd.kill()
            self.etcd.wait()
            if attempt < attempts:
                shutil.rmtree(self.dir / "etcd", ignore_errors=True)
                self.etcd_ports = (free_port(), free_port())
        tail = (self.dir / "etcd.log").read_text()[-1500:]
        raise RuntimeError(f"etcd did not answer on its client port after {attempts} starts:\n{tail}")

    def _etcd_answers(self, client: str, timeout_s: float) -> bool:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.etcd is None or self.etcd.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{client}/version", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return True
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        return False

    def _spawn_etcd(self, client: str, peer: str, log: object) -> subprocess.Popen:
        return subprocess.Popen(
            _as_server_user([
                ETCD, "--name", "etcd1", "--data-dir", str(self.dir / "etcd"), "--enable-v2=true",
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"etcd1={peer}",
            ]),
            stdout=log, stderr=subprocess.STDOUT, cwd=self.dir,
        )

    def _config(self, name: str) -> Path:
        api, pg = self.api_ports[name], self.pg_ports[name]
        config = self.dir / f"{name}.yml"
        config.write_text(
            f"""scope: billbook
name: {name}
log: {{level: WARNING}}
restapi: {{listen: "{HOST}:{api}", connect_address: "{HOST}:{api}"}}
etcd: {{host: "{HOST}:{self.etcd_ports[0]}"}}
bootstrap:
  dcs:
    ttl: {PATRONI_TTL_S}
    loop_wait: 1
    retry_timeout: 5
    synchronous_mode: true
    postgresql:
      use_pg_rewind: false
      parameters: {{wal_level: replica, hot_standby: "on", max_wal_senders: 5, max_replication_slots: 5}}
  initdb: [{{encoding: UTF8}}, {{auth: trust}}]
  pg_hba:
    - host replication postgres {HOST}/32 trust
    - host all all {HOST}/32 trust
postgresql:
  listen: "{HOST}:{pg}"
  connect_address: "{HOST}:{pg}"
  data_dir: {self.dir / name}
  bin_dir: {PG_BIN}
  pgpass: {self.dir / f"{name}.pgpass"}
  authentication:
    superuser: {{username: postgres}}
    replication: {{username: postgres}}
  parameters: {{unix_socket_directories: "{self.dir}"}}
"""
        )
        return config

    def _start_node(self, name: str) -> None:
        with (self.dir / f"{name}.log").open("a") as log:  # the child keeps its own descriptor
            # In the cluster's own directory: run as the server's user, Patroni cannot reach etcd
            # from a working directory that user may not enter (a checkout in a private directory).
            self.patroni[name] = subprocess.Popen(
                _as_server_user([PATRONI, str(self._config(name))]), stdout=log, stderr=subprocess.STDOUT, cwd=self.dir
            )

    def roles(self) -> dict[str, str]:
        """Each node's role as its Patroni REST API reports it (``primary``, ``replica``, or ``down``)."""
        import json
        import urllib.request

        found = {}
        for name, port in self.api_ports.items():
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/patroni", timeout=2) as answer:  # noqa: S310
                    body = json.load(answer)
                found[name] = "primary" if body.get("role") in ("master", "primary") else body.get("role", "?")
                if body.get("state") != "running":
                    found[name] = "down"
            except OSError:
                found[name] = "down"
        return found

    def primary(self) -> str | None:
        return next((n for n, role in self.roles().items() if role == "primary"), None)

    def wait_for_sync_standby(self, timeout_s: float = 180) -> None:
        """Until there is a primary and a synchronous standby streaming from it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            primary = self.primary()
            if primary is not None and self._has_sync_standby(primary):
                return
            time.sleep(0.5)
        logs = "\n".join((self.dir / f"{n}.log").read_text()[-1500:] for n in [*self.names, "etcd"])
        raise RuntimeError(f"no primary with a synchronous standby after {timeout_s}s: {self.roles()}\n{logs}")

    def _has_sync_standby(self, primary: str) -> bool:
        async def ask() -> bool:
            conn = await asyncpg.connect(self.node_url(primary), timeout=2)
            try:
                return bool(await conn.fetchval("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'"))
            finally:
                await conn.close()

        try:
            return asyncio.run(ask())
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False

    def kill_primary(self) -> str:
        """SIGKILL the primary's Patroni and its PostgreSQL (postmaster and children); its name."""
        primary = self.primary()
        if primary is None:
            raise RuntimeError(f"no primary to kill: {self.roles()}")
        pids = [self.patroni[primary].pid, *_descendants(self.patroni[primary].pid)]
        postmaster = self.dir / primary / "postmaster.pid"
        if postmaster.exists():
            pid = int(postmaster.read_text().split()[0])
            pids += [pid, *_descendants(pid)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.patroni[primary].wait()
        return primary

    def wait_for_new_primary(self, old: str, timeout_s: float = 120) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            primary = self.primary()
            if primary is not None and primary != old:
                return primary
            time.sleep(0.2)
        raise RuntimeError(f"no new primary after {timeout_s}s: {self.roles()}")

    def stop(self) -> None:
        for proc in self.patroni.values():
            if proc.poll() is None:
                for pid in [proc.pid, *_descendants(proc.pid)]:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                proc.wait()
        for name in self.names:  # a postmaster whose Patroni died first
            pidfile = self.dir / name / "postmaster.pid"
            if pidfile.exists():
                try:
                    os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        if self.etcd is not None and self.etcd.poll() is None:
            self.etcd.kill()
            self.etcd.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PatroniCluster:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _descendants(pid: int) -> list[int]:
    from launcher import descendants

    return descendants(pid)
