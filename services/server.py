"""The app's server: how ``make run`` starts Streamlit, and the same server for tests and benchmarks.

    .venv/bin/python -m services.server [--port 8501] [--address 127.0.0.1]

One definition of the server, used by ``make run`` (``main``), the browser
tests and the benchmarks (``AppServer``), so what they measure is what a
teacher runs. The run environment and why:

- ``OMP_NUM_THREADS=1``: one torch/BLAS thread per op. The server's
  parallelism is its sessions (Streamlit runs every session's script in a
  thread of one process), so two OpenMP teams per op only fight over the
  cores; the services set torch's own thread count to 1 too, this covers BLAS.
- ``MALLOC_ARENA_MAX=2``: two malloc arenas. glibc's default (up to 8 per
  core), spread over many script threads, let memory grow under a classroom's
  load (bench/README.md). glibc reads it when the process starts, so it must be
  in the environment the server is exec'd with, not set from Python later.

The Streamlit flags: listen on loopback only, no browser to open, no usage
statistics (nothing leaves the machine), and no full garbage collection after
every script run (``runner.postScriptGC``): with the app's libraries loaded one
walks ~250,000 objects, ~0.1 s holding the GIL, and in a classroom that was 45 %
of the server's CPU (bench/README.md). Python's own generational collector still
frees reference cycles; it rarely needs a full pass. ``.streamlit/config.toml`` says the
same; the flags keep it true for a copy of the app whose config differs
(``bench ... --root``).

Nothing here imports streamlit: this module only builds a command line and
starts, watches and stops a process.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8501
# What the server process runs with on top of the caller's environment (the docstring says why).
RUN_ENV = {"OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}
HEALTH_TIMEOUT_S = 90.0        # a cold start on a busy 2-core machine (imports, no model yet)
STOP_TIMEOUT_S = 15.0

# Debian's Chromium: Playwright's own download cannot work offline.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",                      # the tests run as root in a container
    "--disable-gpu",
    "--disable-background-networking",   # no request may leave 127.0.0.1
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
CHROMIUM_MISSING = (f"{CHROMIUM} is missing: `make test` installs Debian's chromium when run as root; "
                    "elsewhere run `sudo apt-get install chromium`.")


def streamlit_command(port: int = DEFAULT_PORT, address: str = ADDRESS) -> list[str]:
    """The command line of the server, run in the app's folder: ``streamlit run app.py`` and its flags."""
    return [sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.address", address, "--server.port", str(port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--runner.postScriptGC", "false"]


def run_environment(extra: Mapping[str, str] | None = None,
                    base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with ``RUN_ENV`` over it, then ``extra``.

    A key of ``extra`` whose value is empty is removed (``--server-env KEY=`` unsets it)."""
    env = dict(os.environ if base is None else base)
    env.update(RUN_ENV)
    for key, value in (extra or {}).items():
        if value == "":
            env.pop(key, None)
        else:
            env[key] = value
    return env


def free_port() -> int:
    """A TCP port nobody listens on at this moment on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind((ADDRESS, 0))
        return int(sock.getsockname()[1])


class AppServer:
    """The app on a free loopback port, in its own process group, with ``make run``'s environment.

        with AppServer() as server:
            page.goto(server.url + "/masks")

    ``root``: the folder whose ``app.py`` is served (another copy of the app; it
    runs with this interpreter, so with this checkout's ``.venv``). ``env_extra``
    goes over ``RUN_ENV`` (an empty value unsets). The server's output goes to
    ``log_path`` (default: a file in the temporary folder, named in every error).
    """

    def __init__(self, root: Path | str = ROOT, port: int = 0, env_extra: Mapping[str, str] | None = None,
                 log_path: Path | str | None = None, timeout: float = HEALTH_TIMEOUT_S) -> None:
        self.root = Path(root).resolve()
        self.port = port or free_port()
        self.env = run_environment(env_extra)
        self.command = streamlit_command(self.port)
        self.log_path = Path(log_path) if log_path else Path(tempfile.gettempdir()) / f"streamlit_{self.port}.log"
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://{ADDRESS}:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the server has not been started")
        return self.proc.pid

    def start(self) -> AppServer:
        """Start the server and return once ``/_stcore/health`` answers "ok"; raise RuntimeError otherwise."""
        if not (self.root / "app.py").exists():
            raise RuntimeError(f"{self.root} has no app.py: pass the folder of the app to serve as root")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.command, cwd=self.root, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise RuntimeError(f"streamlit exited with code {code} before answering its health check; "
                                   f"its output is in {self.log_path}")
            if self._healthy():
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"streamlit did not answer {self.url}/_stcore/health within {self.timeout:.0f} s; "
                           f"its output is in {self.log_path}")

    def _healthy(self) -> bool:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                return response.read().strip() == b"ok"
        return False

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL if it is still there after a while."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def launch_chromium(playwright, **options):
    """Debian's Chromium with ``CHROMIUM_ARGS``, from a ``sync_playwright()`` (or async) handle."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(CHROMIUM_MISSING)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, **options)


def main(argv: Sequence[str] | None = None) -> None:
    """Replace this process with the server, exactly as ``make run`` starts it."""
    parser = argparse.ArgumentParser(description="Start the Attention Explorer (on 127.0.0.1 unless --address).")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    parser.add_argument("--address", default=ADDRESS,
                        help=f"address to listen on (default {ADDRESS}; a replica on a school's machine: the address "
                             "its balancer reaches, e.g. 10.0.0.2)")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    command = streamlit_command(args.port, args.address)
    os.execvpe(command[0], command, run_environment())


if __name__ == "__main__":
    main()
