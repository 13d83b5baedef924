"""Background jobs of the registry: large imports run in the worker, with their progress visible to the page."""

import contextlib
import os

import pghistory
from django.core.cache import cache
from django.utils import timezone
from procrastinate.contrib.django import app

from wangge.core.errors import DomainError

from .import_service import ImportRejected, do_import_registry
from .models import ImportRun

PROGRESS_TTL = 24 * 3600


def progress_key(run_id):
    return f"registry-import-progress:{run_id}"


def read_progress(run_id):
    """{"done": rows read so far, "total": rows or None, "phase": "reading"|"writing"|"done"} or None.

    Kept in the cache shared by the machine's processes, not in the database: the import's own transaction holds
    its writes until it commits, so a progress row written inside it would stay invisible until the end."""
    return cache.get(progress_key(run_id))


@app.task(queue="registry", name="registry.import_file")
def import_file(run_id: int):
    run = ImportRun.objects.select_related("user").get(pk=run_id)
    if run.state != ImportRun.State.QUEUED:
        return run.state  # a replayed job does not import twice
    ImportRun.objects.filter(pk=run.pk).update(state=ImportRun.State.RUNNING)

    def progress(done, total, phase):
        cache.set(progress_key(run.pk), {"done": done, "total": total, "phase": phase}, PROGRESS_TTL)

    state, report, error = ImportRun.State.DONE, None, ""
    try:
        with pghistory.context(user=run.user_id, job="registry.import_file", import_run=run.pk):
            report = do_import_registry(run.kind, run.stored_path, actor=run.user, name=run.file_name,
                                        commit=run.mode == "commit", commit_clean_rows=run.mode == "clean_rows",
                                        progress=progress)
    except ImportRejected as exc:
        state, report, error = ImportRun.State.REJECTED, exc.report, exc.message
    except DomainError as exc:
        state, error = ImportRun.State.REJECTED, exc.message
    except Exception:
        # The transaction rolled back; the message says no more than that (no personal data in errors).
        state, error = ImportRun.State.FAILED, "The import stopped with an internal error; nothing was written."
        raise
    finally:
        ImportRun.objects.filter(pk=run.pk).update(state=state, report=report, error=error,
                                                   finished_at=timezone.now(), stored_path="")
        with contextlib.suppress(FileNotFoundError):
            os.remove(run.stored_path)
    return state
