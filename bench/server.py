"""The production server the HTTP benchmarks talk to: one gunicorn (`wangge.wsgi:application`) on a free 127.0.0.1
port, started as scripts/serve.sh starts it (gthread workers × threads, no control socket) and always stopped.

    with Gunicorn(workers=2, threads=4) as server:      # the serve.sh defaults
        conn = server.connection()                      # http.client, keep-alive if reused
        ...

A bench that was measured with other settings passes them (tiles: 1 sync worker; coverage: 2 sync workers with a
120 s timeout), so its figures stay comparable with the earlier ones. The server runs in its own process group;
stop() sends SIGTERM to the group, then SIGKILL after 15 s, so no worker outlives the bench. Nothing leaves loopback.

login_session(user) makes a session for `user` as the login view does after checking the password (the configured
engine's store, so deleting it afterwards also clears any cached copy); send its key as the session cookie.
"""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """A gunicorn for one bench. Use as a context manager, or start() and stop() (stop is idempotent)."""

    def __init__(self, workers=2, threads=4, worker_class="gthread", timeout=None, env=None, startup_s=30):
        self.workers, self.threads, self.worker_class = workers, threads, worker_class
        self.timeout, self.env, self.startup_s = timeout, dict(env or {}), startup_s
        self.port = None
        self.process = None

    def command(self):
        command = [str(GUNICORN), "wangge.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                   "--workers", str(self.workers), "--worker-class", self.worker_class,
                   "--no-control-socket", "--log-level", "warning"]
        if self.worker_class == "gthread":
            command += ["--threads", str(self.threads)]
        if self.timeout:
            command += ["--timeout", str(self.timeout)]
        return command

    def describe(self):
        shape = f"{self.workers} {self.worker_class} worker{'s' if self.workers != 1 else ''}"
        if self.worker_class == "gthread":
            shape += f" × {self.threads} threads"
        return shape

    def start(self):
        self.port = free_port()
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "wangge.settings", **self.env}
        self.process = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                        start_new_session=True)
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_up(self):
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"gunicorn exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        sys.exit("gunicorn did not start")

    def stop(self):
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            process.wait()

    def connection(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def login_session(user):
    """A session for `user`, as the login view makes after checking the password; .session_key is the cookie."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session


def cookie_header(session):
    from django.conf import settings

    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"
