"""The production server the HTTP benchmarks talk to: one gunicorn (`wangge.wsgi:application`) on a free 127.0.0.1
port, started as scripts/serve.sh starts it (gthread workers × threads, no control socket) and always stopped.
Its default shape is serve.sh's, defined here once: SERVE_WORKERS (two workers per core) × SERVE_THREADS (2).

    with Gunicorn() as server:                          # serve.sh's shape; server.describe() names it
        conn = server.connection()                      # http.client, keep-alive if reused
        ...

A bench that was measured with other settings passes them (tiles: 1 sync worker; coverage: 2 sync workers with a
120 s timeout), so its figures stay comparable with the earlier ones. The server runs in its own process group;
stop() sends SIGTERM to the group, then SIGKILL after 15 s, so no worker outlives the bench. Nothing leaves loopback.

login_session(user) makes a session for `user` as the login view does after checking the password (the configured
engine's store, so deleting it afterwards also clears any cached copy); send its key as the session cookie.

drive(server, clients, request, …) is the load driver of the write benches: `clients` threads, each sending the
request `request(i, n)` builds as soon as the previous one is answered, on a fresh connection per request (as phones
send them; with one kept-alive connection per client, gunicorn binds each client to the worker that accepted it, and
all of them on one worker halves the figure) or, with keep_alive=True, one connection per client for the whole run;
a warm-up, then the measured seconds. It returns a Drive: (done at, latency) of every request sent in the measured
interval, the interval, and the count of all requests answered. windows() and percentile() summarise it.
drive_floor() is the peer's side: threads writing rows straight through psycopg, one transaction each.
"""

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
# scripts/serve.sh's defaults (WANGGE_WEB_WORKERS = 2 × nproc, WANGGE_WEB_THREADS = 2): keep the two in step.
SERVE_WORKERS = 2 * (os.cpu_count() or 1)
SERVE_THREADS = 2


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """A gunicorn for one bench. Use as a context manager, or start() and stop() (stop is idempotent)."""

    def __init__(self, workers=SERVE_WORKERS, threads=SERVE_THREADS, worker_class="gthread", timeout=None, env=None,
                 startup_s=30):
        self.workers, self.threads, self.worker_class = workers, threads, worker_class
        self.timeout, self.env, self.startup_s = timeout, dict(env or {}), startup_s
        self.port = None
        self.process = None

    def command(self):
        command = [str(GUNICORN), "wangge.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                   "--workers", str(self.workers), "--worker-class", self.worker_class,
                   "--no-control-socket", "--log-level", "warning", "--access-logfile", "-"]  # as serve.sh
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


# The load driver -----------------------------------------------------------------------------------------------------

@dataclass
class Drive:
    results: list        # [(done at, latency s)] of the requests sent in the measured interval
    interval: tuple      # (measured from, measured to), perf_counter seconds
    made: int            # requests answered as expected, warm-up and measured
    keep_alive: bool

    @property
    def latencies_ms(self):
        return [latency * 1000 for _done, latency in self.results]

    def rates(self, window_s=5):
        return windows([done for done, _latency in self.results], self.interval, window_s)

    def summary(self, window_s=5):
        """(per-second rate: median of the windows, the windows, median ms, p99 ms)."""
        rates, latencies = self.rates(window_s), self.latencies_ms
        return statistics.median(rates), rates, statistics.median(latencies), percentile(latencies, 99)


def run_threads(target, count):
    """Runs target(i) in `count` threads at once and waits for them: the seconds it took. The first exception a
    thread raised is raised here, once they have all stopped."""
    errors = []

    def guarded(i):
        try:
            target(i)
        except Exception as exc:  # reported after the threads are joined
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def drive(server, clients, request, warmup_s, duration_s, *, keep_alive=False, expect=(201,), retry=None,
          timeout=30):
    """`clients` threads send requests as fast as they are answered; see the module docstring.

    request(i, n) -> (method, url, body bytes or None, headers): client i's request number n (0, 1, …).
    retry(i, response) -> bool, optional: True sends request n again, built anew (e.g. a Digest challenge marked
    stale, after the client took the new nonce from `response`); it is called before the status is checked.
    A status outside `expect` stops the run with an error naming the request and the answer."""
    start = time.perf_counter()
    measure_from, measure_to = start + warmup_s, start + warmup_s + duration_s
    results = [[] for _ in range(clients)]
    made = [0] * clients

    def client(i):
        conn = server.connection(timeout=timeout) if keep_alive else None
        n = 0
        try:
            while True:
                sent = time.perf_counter()
                if sent >= measure_to:
                    break
                while True:
                    method, url, body, headers = request(i, n)
                    if not keep_alive:
                        headers = {**headers, "Connection": "close"}
                        conn = server.connection(timeout=timeout)
                    try:
                        conn.request(method, url, body=body, headers=headers)
                        response = conn.getresponse()
                        answer = response.read()
                    finally:
                        if not keep_alive:
                            conn.close()
                    if retry is None or not retry(i, response):
                        break
                done = time.perf_counter()
                n += 1
                if response.status not in expect:
                    raise RuntimeError(f"{method} {url} answered {response.status}: {answer[:300]!r}")
                made[i] += 1
                if sent >= measure_from:
                    results[i].append((done, done - sent))
        finally:
            if conn is not None:
                conn.close()

    run_threads(client, clients)
    return Drive([r for per in results for r in per], (measure_from, measure_to), sum(made), keep_alive)


def drive_floor(params, work, write):
    """The floor's load, beside drive()'s: one thread per list in `work`, each with its own psycopg connection
    (`params`), writing its items one transaction each (`write(cursor, item)`): (elapsed s, [latency s])."""
    import psycopg

    latencies = [[] for _ in work]

    def client(i):
        with psycopg.connect(**params) as conn:
            for item in work[i]:
                started = time.perf_counter()
                with conn.cursor() as cursor:
                    write(cursor, item)
                conn.commit()
                latencies[i].append(time.perf_counter() - started)

    elapsed = run_threads(client, len(work))
    return elapsed, [latency for per in latencies for latency in per]


def windows(done_times, interval, window_s=5):
    """Completions per second in each whole `window_s` window of the measured interval."""
    start, end = interval
    counts = [0] * int((end - start) // window_s)
    for done in done_times:
        index = int((done - start) // window_s)
        if 0 <= index < len(counts):
            counts[index] += 1
    return [count / window_s for count in counts]


def percentile(values, q):
    import numpy as np

    return float(np.percentile(np.asarray(values), q))
