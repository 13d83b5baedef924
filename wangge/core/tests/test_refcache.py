"""The in-memory reference tables: loaded once, cleared by an edit here at once, elsewhere within the recheck
interval, and never kept when an edit raced the load."""

import pytest

from wangge.core.refcache import ReferenceCache


class Source:
    """A table whose rows are a version number, counting its loads."""

    def __init__(self):
        self.version, self.loads = 1, 0

    def load(self):
        self.loads += 1
        return {"version": self.version}


@pytest.fixture
def source():
    return Source()


def test_loaded_once_then_reloaded_after_an_edit_here(source):
    table = ReferenceCache("test:here", source.load, recheck_seconds=3600)
    assert table.get() == {"version": 1} and table.get() == {"version": 1} and source.loads == 1
    source.version = 2
    table.invalidate()
    assert table.get() == {"version": 2} and source.loads == 2


def test_another_process_sees_the_edit_after_its_recheck_interval(source):
    worker = ReferenceCache("test:shared", source.load, recheck_seconds=3600)  # e.g. the job worker
    editor = ReferenceCache("test:shared", source.load, recheck_seconds=3600)  # the admin's gunicorn worker
    assert worker.get() == {"version": 1}
    source.version = 2
    editor.invalidate()
    assert worker.get() == {"version": 1}  # within the interval: the old rows, by design
    worker.recheck_seconds = 0
    assert worker.get() == {"version": 2}


def test_a_load_that_raced_an_edit_is_not_kept(source):
    table = ReferenceCache("test:race", None, recheck_seconds=3600)

    def load_while_someone_edits():
        rows = source.load()
        source.version = 2
        table.invalidate()  # the edit lands while the old rows are being read
        return rows

    table._load = load_while_someone_edits
    assert table.get() == {"version": 1}  # this reader got what it read
    table._load = source.load
    assert table.get() == {"version": 2} and source.loads == 2  # the next one reads again


@pytest.mark.django_db
def test_an_edit_in_a_transaction_clears_the_table_again_when_it_commits(source,
                                                                        django_capture_on_commit_callbacks):
    table = ReferenceCache("test:commit", source.load, recheck_seconds=3600)
    with django_capture_on_commit_callbacks(execute=True):
        table.on_change()
        assert table.get() == {"version": 1}  # another request reads before the commit: the old rows
        source.version = 2
    assert table.get() == {"version": 2}


@pytest.mark.django_db
def test_what_an_edit_reads_before_it_rolls_back_is_not_kept(source):
    """A request that edits the table and reads it again in the same transaction sees its own rows; if that
    transaction then rolls back, they must not stay in memory (no commit comes to clear them)."""
    from django.db import transaction

    table = ReferenceCache("test:rollback", source.load, recheck_seconds=3600)
    assert table.get() == {"version": 1}
    with pytest.raises(RuntimeError), transaction.atomic():
        source.version = 2  # the edit, uncommitted
        table.on_change()
        assert table.get() == {"version": 2}  # read back in the same transaction
        raise RuntimeError("refused after the edit")
    source.version = 1  # the rollback undid it
    assert table.get() == {"version": 1}


@pytest.mark.django_db
def test_once_the_editing_request_is_over_the_table_is_kept_again(source):
    """The editing thread's reads skip the memory only until its request is over, not for good."""
    from django.db import transaction

    from wangge.core import refcache

    table = ReferenceCache("test:after", source.load, recheck_seconds=3600)
    with transaction.atomic():
        table.on_change()
        table.get(), table.get()
    during = source.loads
    assert during == 2  # read afresh while the edit was open
    refcache.request_over()  # request_finished
    table.get(), table.get(), table.get()
    assert source.loads == during + 1
