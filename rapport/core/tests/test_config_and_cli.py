"""Settings modes and the `rapport` command's behaviour on bad input."""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

RAPPORT = [sys.executable, "-m", "rapport.config.cli"]


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DATABASE_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    base.update({"RAPPORT_VAR_DIR": str(tmp_path), "RAPPORT_TESTING": "0"}, **env)
    return subprocess.run(
        [*RAPPORT, *args], capture_output=True, text=True, env=base, timeout=120, check=False
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = run(["check"], tmp_path, RAPPORT_MODE="production")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_a_short_secret_key(tmp_path):
    result = run(["check"], tmp_path, RAPPORT_MODE="production", SECRET_KEY="short")
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_production_settings_pass_the_deployment_check_without_warnings(tmp_path):
    result = run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        RAPPORT_MODE="production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="crm.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_development_generates_a_secret_key_under_var_and_keeps_it(tmp_path):
    first = run(["check"], tmp_path)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "secret_key"
    key = key_file.read_text()
    assert len(key) >= 50
    assert oct(key_file.stat().st_mode)[-3:] == "600"
    run(["check"], tmp_path)
    assert key_file.read_text() == key


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--port", "0"], "--port must be between 1 and 65535"),
        (["serve", "--workers", "0"], "--workers and --threads must be at least 1"),
        (["serve", "--threads", "0"], "--workers and --threads must be at least 1"),
        (["worker", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_project_commands_report_bad_input_in_one_line_without_traceback(tmp_path, args, message):
    result = run(args, tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_mode_is_a_clear_error(tmp_path):
    result = run(["check"], tmp_path, RAPPORT_MODE="staging")
    assert result.returncode != 0
    assert "RAPPORT_MODE must be 'development' or 'production'" in result.stderr


def test_embedded_sqlite_database_is_a_file_under_var_in_wal_mode(tmp_path):
    probe = (
        "from django.db import connection; c = connection.cursor(); "
        "c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]); "
        "print(connection.settings_dict['NAME'])"
    )
    result = run(["shell", "-c", probe], tmp_path)
    assert result.returncode == 0, result.stderr
    mode, name = result.stdout.strip().splitlines()[-2:]
    assert mode == "wal"
    assert name == str(tmp_path / "rapport.sqlite3")


def test_the_redis_queue_runs_the_same_tasks_with_only_settings_changed(tmp_path):
    """TASK_BACKEND=rq: enqueue in one process, a `rapport worker` on Redis runs it."""
    import redis

    url = "redis://127.0.0.1:6379/9"
    try:
        # Database 9 is this test's own; jobs an interrupted earlier run left behind would
        # otherwise be run by the burst worker first.
        redis.Redis.from_url(url).flushdb()
    except redis.ConnectionError:
        pytest.fail("Redis is not running on 127.0.0.1:6379 (.ci/run starts it)")
    env = {"TASK_BACKEND": "rq", "REDIS_URL": url}
    assert run(["migrate", "-v", "0"], tmp_path, **env).returncode == 0
    enqueue = "from rapport.core.tasks import prune_idempotency_records as t; print(t.enqueue().id)"
    enqueued = run(["shell", "-c", enqueue], tmp_path, **env)
    assert enqueued.returncode == 0, enqueued.stderr
    result_id = enqueued.stdout.strip().splitlines()[-1]
    worker = run(["worker", "--batch"], tmp_path, **env)
    assert worker.returncode == 0, worker.stderr
    check = (
        "from rapport.core.tasks import prune_idempotency_records as t; "
        f"r = t.get_result({result_id!r}); print(r.status)"
    )
    status = run(["shell", "-c", check], tmp_path, **env)
    assert status.stdout.strip().splitlines()[-1] == "SUCCESSFUL", status.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_keeps_accepting_while_keep_alive_connections_are_open(tmp_path):
    """A browser holds several idle keep-alive connections; the next one must still be served.

    Granian's backpressure limits connections, not requests: set to the thread count it
    stopped a worker accepting once that many connections were open (pages hung on their
    assets). Six idle connections against one worker with one thread, then a new one.
    """
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY"}}
    env.update({"RAPPORT_VAR_DIR": str(tmp_path), "RAPPORT_TESTING": "0"})
    command = [*RAPPORT, "serve", "--port", str(port), "--workers", "1", "--threads", "1"]
    server = subprocess.Popen(
        [*command, "--task-workers", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    idle: list[http.client.HTTPConnection] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "rapport serve did not start"
                time.sleep(0.2)
        for _ in range(7):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            assert response.getheader("connection", "keep-alive").lower() != "close"
            idle.append(connection)  # left open, as a browser leaves it
    finally:
        for connection in idle:
            connection.close()
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
