"""Small reference tables read on hot paths — the work calendar, the event categories, the routing table — held in
each process's memory instead of being queried on every request.

An edit clears the table at once in the process that made it, and again when its transaction commits (a request
that loaded the table between the edit and the commit would otherwise keep the old rows); other processes (the
other gunicorn workers, the job worker) notice within `recheck_seconds` through a version stamp in the shared Django
cache. A table is loaded again on its next use. A thread whose transaction edited a table reads it without keeping it
until that transaction is over (committed, or its request finished), so rows of an edit that rolls back never stay.
Tests clear every table before each test (wangge/conftest.py).
"""

import threading
import time
import uuid

from django.core.cache import cache
from django.db import transaction

DEFAULT_RECHECK_SECONDS = 10

_tables = []


class ReferenceCache:
    """One table: `load()` builds its in-memory form (any object, treated as read-only by its readers)."""

    def __init__(self, name, load, recheck_seconds=DEFAULT_RECHECK_SECONDS):
        self.name, self._load, self.recheck_seconds = name, load, recheck_seconds
        self._version_key = f"refcache:{name}:version"
        self._lock = threading.Lock()
        self._value, self._generation = None, 0
        self._shared_version, self._checked = None, 0.0
        self._editing = threading.local()  # set in a thread whose open transaction has edited the table
        _tables.append(self)

    def get(self):
        if getattr(self._editing, "active", False):
            if transaction.get_connection().in_atomic_block:
                # This thread's transaction edited the table and is still open: it reads its own uncommitted rows,
                # which must not be kept — the transaction may yet roll back, and nothing would clear them then.
                return self._load()
            self._editing.active = False  # that transaction is over (its commit cleared the table again)
        self._recheck()
        with self._lock:
            value, generation = self._value, self._generation
        if value is None:
            value = self._load()
            with self._lock:
                # Kept only when no edit cleared the table while it loaded: a load that raced an edit may hold the
                # old rows, and the next reader loads again.
                if generation == self._generation:
                    self._value = value
        return value

    def _recheck(self):
        now = time.monotonic()
        if now - self._checked < self.recheck_seconds:
            return
        version = cache.get(self._version_key)
        with self._lock:
            if version != self._shared_version:
                self._value, self._generation = None, self._generation + 1
                self._shared_version = version
            self._checked = now

    def clear_here(self):
        """Forgets the table in this process only."""
        self._editing.active = False
        with self._lock:
            self._value, self._generation, self._checked = None, self._generation + 1, 0.0

    def invalidate(self):
        """After an edit: forget the table here and tell the other processes through the shared cache."""
        version = uuid.uuid4().hex
        try:
            cache.set(self._version_key, version, None)
        except Exception:  # a cache outage must not fail the edit; other processes then reload on restart
            version = None
        with self._lock:
            self._value, self._generation = None, self._generation + 1
            self._shared_version, self._checked = version, time.monotonic()

    def on_change(self, **kwargs):
        """A post_save / post_delete receiver: invalidate now and once more when the edit commits; until the
        transaction ends, this thread reads the table without keeping it."""
        self.invalidate()
        if transaction.get_connection(kwargs.get("using") or "default").in_atomic_block:
            self._editing.active = True
        transaction.on_commit(self._committed, using=kwargs.get("using"))

    def _committed(self):
        self._editing.active = False
        self.invalidate()

    def transaction_over(self):
        """This thread's transaction has ended (committed or rolled back): the table may be kept again."""
        self._editing.active = False


def clear_all_here():
    """Forgets every table in this process (tests, before each test)."""
    for table in _tables:
        table.clear_here()


def request_over(**kwargs):
    """request_finished: whatever the request's transactions did is over (a rolled-back edit has no other end)."""
    for table in _tables:
        table.transaction_over()
