"""Start N replicas of the app and HAProxy in front of them, on loopback; drain, restart one by one, stop.

    .venv/bin/python -m deploy.school --replicas 3 --port 8500        # until Ctrl-C
    .venv/bin/python -m deploy.school --replicas 3 --rolling-restart   # start, restart each replica once, stop

One replica per core on one machine (each Streamlit process serves all its sessions under one interpreter
lock). For several machines, start the replicas there (``python -m services.server --port 8601`` with
``--server.address`` opened to the balancer) and list their addresses in ``deploy/haproxy.py``'s ``render``.

A replica is an ``services.server.AppServer`` (the exact server ``make run`` starts); the balancer is
Debian's ``haproxy`` binary with the configuration of ``deploy/haproxy.py``. Everything listens on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from services.server import ADDRESS, AppServer, free_port

from .haproxy import BACKEND, render

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
HAPROXY_MISSING = f"{HAPROXY} is missing: `make test` installs Debian's haproxy when run as root."


class School:
    """N app replicas behind one HAProxy, all on loopback ports; a context manager that stops everything."""

    def __init__(self, replicas: int = 2, port: int = 0, log_dir: Path | str | None = None) -> None:
        if replicas < 1:
            raise ValueError("a school needs at least one replica")
        self.port = port or free_port()
        self.dir = Path(log_dir or tempfile.mkdtemp(prefix="school_"))
        self.socket_path = str(self.dir / "haproxy.sock")
        self.servers = [AppServer(log_path=self.dir / f"replica{i}.log") for i in range(replicas)]
        self.config_path = self.dir / "haproxy.cfg"
        self.balancer: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{ADDRESS}:{self.port}"

    def start(self) -> School:
        for server in self.servers:
            server.start()
        self.config_path.write_text(render([(ADDRESS, s.port) for s in self.servers], (ADDRESS, self.port),
                                           self.socket_path))
        log = open(self.dir / "haproxy.log", "w")
        self.balancer = subprocess.Popen([HAPROXY, "-db", "-f", str(self.config_path)], stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.balancer.poll() is not None:
                raise RuntimeError(f"haproxy exited with code {self.balancer.returncode}; see {self.dir}/haproxy.log")
            if self.healthy():
                return self
            time.sleep(0.3)
        raise RuntimeError(f"the balancer did not answer {self.url}/_stcore/health; see {self.dir}")

    def healthy(self) -> bool:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                return response.read().strip() == b"ok"
        return False

    def command(self, line: str) -> str:
        """One line to HAProxy's runtime API (e.g. ``show servers state``); its answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(self.socket_path)
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def set_state(self, index: int, state: str) -> None:
        """``ready``, ``drain`` (no new sessions; the current ones carry on) or ``maint`` for replica ``index``."""
        answer = self.command(f"set server {BACKEND}/r{index} state {state}")
        if answer.strip():
            raise RuntimeError(f"haproxy refused '{state}' for r{index}: {answer.strip()}")

    def sessions(self, index: int, column: str = "scur") -> int:
        """The connections replica ``index`` holds now (from ``show stat``; ``column="stot"``: all it has had)."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            cells = dict(zip(header, line.split(",")))
            if cells.get("pxname") == BACKEND and cells.get("svname") == f"r{index}":
                return int(cells.get(column) or 0)
        raise KeyError(f"r{index}")

    def restart(self, index: int, drain_s: float = 30.0, warm: Callable[[AppServer], None] | None = None) -> None:
        """Drain replica ``index`` (at most ``drain_s`` seconds), take it out, stop it, start it on the same port,
        and put it back.

        Draining sends no new student there; a student's open websocket stays until the replica stops (a lesson
        outlasts any drain). Before the stop the replica goes to maintenance, where HAProxy no longer honours its
        cookie, so its students' reconnects go straight to the other replicas instead of waiting for it.
        ``warm`` (given the restarted server) runs before it is put back, so no student waits for its models."""
        self.set_state(index, "drain")
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline and self.sessions(index) > 0:
            time.sleep(0.5)
        self.set_state(index, "maint")
        server = self.servers[index]
        server.stop()
        server.start()
        if warm is not None:
            warm(server)
        self.set_state(index, "ready")

    def rolling_restart(self, drain_s: float = 30.0, warm: Callable[[AppServer], None] | None = None) -> None:
        """Every replica restarted, one at a time: the others keep serving, so no student loses the app."""
        for index in range(len(self.servers)):
            self.restart(index, drain_s, warm)

    def stop(self) -> None:
        if self.balancer is not None and self.balancer.poll() is None:
            self.balancer.terminate()
            try:
                self.balancer.wait(10)
            except subprocess.TimeoutExpired:
                self.balancer.kill()
                self.balancer.wait(5)
        for server in self.servers:
            server.stop()

    def __enter__(self) -> School:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", type=int, default=2, help="app processes (one per core)")
    parser.add_argument("--port", type=int, default=8500, help="the balancer's port on 127.0.0.1")
    parser.add_argument("--rolling-restart", action="store_true", help="restart each replica once, then stop")
    args = parser.parse_args()
    with School(args.replicas, args.port) as school:
        print(f"{args.replicas} replicas behind {school.url} (logs and config in {school.dir})", flush=True)
        if args.rolling_restart:
            school.rolling_restart()
            print("every replica restarted once", flush=True)
            return
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)


if __name__ == "__main__":
    main()
