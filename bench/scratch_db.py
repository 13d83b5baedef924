"""Throwaway databases for the benches that write a lot, on the dev database's cluster.

    url = scratch_db.create("wangge_bench_clock")              # empty (the bench migrates it); a leftover is dropped
    url = scratch_db.create("wangge_bench_visits", copy=True)  # a copy of the dev database, taken as a template
    os.environ["DATABASE_URL"] = url
    ...
    scratch_db.drop("wangge_bench_clock")

The dev database is the one DATABASE_URL names, else var/pg/database_url (scripts/pg.sh). PostgreSQL copies a template
only while nobody is connected to it, so a copy is retried for `wait_s`.
"""

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def dev_url():
    return os.environ.get("DATABASE_URL") or (ROOT / "var" / "pg" / "database_url").read_text().strip()


def url_of(name):
    """The URL of database `name` on the dev database's cluster."""
    return f"{dev_url().rpartition('/')[0]}/{name}"


def _admin():
    import psycopg

    return psycopg.connect(url_of("postgres").replace("postgis://", "postgresql://"), autocommit=True)


def create(name, *, copy=False, wait_s=120):
    """Database `name`, new (dropped first if left from an earlier run): empty, or a copy of the dev database."""
    import psycopg

    source = dev_url().rpartition("/")[2]
    deadline = time.monotonic() + wait_s
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        while True:
            try:
                admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{source}"' if copy else ""))
                break
            except psycopg.errors.ObjectInUse:
                if time.monotonic() > deadline:
                    sys.exit(f"{source} stayed in use for {wait_s} s; cannot copy it (try again when it is idle).")
                time.sleep(2)
    return url_of(name)


def ensure(name):
    """Database `name`, created empty unless it exists: (its URL, whether it was created now)."""
    with _admin() as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    return url_of(name), not exists


def drop(name):
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
