"""The school deployment: the HAProxy configuration parses, and N replicas start behind it and stop cleanly."""
from __future__ import annotations

import os
import urllib.request

import pytest

from deploy import haproxy, school


def haproxy_or_skip():
    if not os.path.exists(school.HAPROXY):
        if os.environ.get("CI"):
            pytest.fail(school.HAPROXY_MISSING)
        pytest.skip(school.HAPROXY_MISSING)


def test_the_configuration_is_sticky_by_cookie_and_checks_health():
    text = haproxy.render([("127.0.0.1", 8601), ("10.0.0.2", 8601)], ("127.0.0.1", 8500), "/tmp/x.sock")
    assert "cookie AEXREPLICA insert indirect nocache" in text and "balance leastconn" in text
    assert "option httpchk GET /_stcore/health" in text and "timeout tunnel" in text
    assert "server r0 127.0.0.1:8601 check cookie r0" in text and "server r1 10.0.0.2:8601 check cookie r1" in text
    assert "source" not in text                        # never by client address: a school is one NAT address
    with pytest.raises(ValueError, match="at least one replica"):
        haproxy.render([])


def test_haproxy_accepts_the_configuration(tmp_path):
    haproxy_or_skip()
    import subprocess

    path = tmp_path / "haproxy.cfg"
    path.write_text(haproxy.render([("127.0.0.1", 8601), ("127.0.0.1", 8602)], ("127.0.0.1", 8500),
                                   str(tmp_path / "s.sock")))
    result = subprocess.run([school.HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_command_line_writes_the_file_for_several_machines(tmp_path, capsys):
    haproxy.main(["10.0.0.2:8601", "10.0.0.3:8601", "--listen", "0.0.0.0:80", "--socket", str(tmp_path / "s.sock")])
    text = capsys.readouterr().out
    assert "bind 0.0.0.0:80" in text
    assert "server r0 10.0.0.2:8601 check cookie r0" in text and "server r1 10.0.0.3:8601 check cookie r1" in text
    with pytest.raises(SystemExit):                    # a typo is argparse's message, not a traceback
        haproxy.main(["10.0.0.2"])
    assert "'10.0.0.2' is not HOST:PORT" in capsys.readouterr().err


def test_two_replicas_start_behind_the_balancer_and_stop_cleanly(tmp_path):
    haproxy_or_skip()
    with school.School(replicas=2, log_dir=tmp_path) as s:
        with urllib.request.urlopen(s.url + "/_stcore/health", timeout=5) as response:
            assert response.read().strip() == b"ok"
            assert any(c.startswith("AEXREPLICA=r") for c in response.headers.get_all("Set-Cookie") or [])
        assert "r0" in s.command("show servers state") and "r1" in s.command("show servers state")
        s.set_state(0, "drain")
        s.set_state(0, "ready")
        s.rolling_restart(drain_s=1)                   # one by one: the balancer answers all along
        assert s.healthy() and all(server.proc.poll() is None for server in s.servers)
        pids = [server.pid for server in s.servers] + [s.balancer.pid]
    for pid in pids:                                   # every process is gone
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
