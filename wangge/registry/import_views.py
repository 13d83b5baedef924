"""The import page: pick a kind, upload a file, read the report; download templates and the error report.
The same service as the API and the command (dry run unless asked to write)."""

import os
import uuid
from pathlib import Path

import pghistory
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from wangge.core.errors import DomainError
from wangge.core.scope import scope_codes

from .exporters import CONTENT_TYPES, error_report, template
from .import_service import ACTIONS, ImportRejected, do_import_registry
from .importers import KINDS
from .jobs import import_file, read_progress
from .models import ImportRun

SESSION_KEY = "registry_import_report"


def _file(content, fmt, filename):
    response = HttpResponse(content, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request):
    context = {"kinds": KINDS, "kind": request.POST.get("kind", "persons"), "report": None, "error": None}
    if request.method == "POST":
        upload = request.FILES.get("file")
        mode = request.POST.get("mode", "dry_run")
        try:
            if context["kind"] not in KINDS:
                raise DomainError(_("Choose what the file holds."), field="kind")
            if upload is None:
                raise DomainError(_("Choose a file."), field="file")
            if request.POST.get("background"):
                run = queue_import(context["kind"], upload, actor=request.user, mode=mode)
                return redirect("registry-import:run", pk=run.pk)
            with pghistory.context(user=request.user.pk, url=request.path):
                report = do_import_registry(context["kind"], upload, actor=request.user, name=upload.name,
                                            commit=mode == "commit", commit_clean_rows=mode == "clean_rows")
        except ImportRejected as exc:
            report = exc.report
            context["error"] = exc.message
        except DomainError as exc:
            report = None
            context["error"] = exc.message
        context["report"] = report
        if report is not None:
            request.session[SESSION_KEY] = {"kind": report["kind"], "problems": report["problems"]}
    return render(request, "registry/import.html", context)


def queue_import(kind, upload, *, actor, mode):
    """Keeps the upload in a private file for the worker and queues the job; the job deletes the file."""
    if not scope_codes(actor, ACTIONS[kind]):  # refused now, not minutes later in the worker
        raise DomainError(_("You may not import %(kind)s.") % {"kind": kind}, code="forbidden")
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    suffix = Path(upload.name or "").suffix.lower()
    path = folder / f"{uuid.uuid4().hex}{suffix if suffix in ('.csv', '.xlsx') else ''}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    run = ImportRun.objects.create(user=actor, kind=kind, file_name=(upload.name or "")[:200], stored_path=str(path),
                                   mode=mode if mode in ("dry_run", "commit", "clean_rows") else "dry_run")
    transaction.on_commit(lambda: import_file.defer(run_id=run.pk))
    return run


def _own_run(request, pk):
    run = ImportRun.objects.filter(pk=pk).first()
    if run is None or (run.user_id != request.user.pk and not request.user.is_superuser):
        raise Http404
    return run


def _run_context(request, run):
    finished = run.state in (ImportRun.State.DONE, ImportRun.State.REJECTED, ImportRun.State.FAILED)
    if finished and run.report:
        request.session[SESSION_KEY] = {"kind": run.report["kind"], "problems": run.report["problems"]}
    return {"run": run, "finished": finished, "progress": read_progress(run.pk)}


@login_required
def run_page(request, pk):
    run = _own_run(request, pk)
    return render(request, "registry/import_run.html", _run_context(request, run))


@login_required
def run_status(request, pk):
    """The part of the run page that htmx polls every second until the import has finished."""
    run = _own_run(request, pk)
    return render(request, "registry/_import_run_status.html", _run_context(request, run))


@login_required
def error_report_download(request, fmt):
    stored = request.session.get(SESSION_KEY)
    if not stored:
        raise Http404
    return _file(error_report(stored, fmt), fmt, f"{stored['kind']}-errors.{fmt}")


@login_required
def template_download(request, kind, fmt):
    if kind not in KINDS:
        raise Http404
    return _file(template(kind, fmt), fmt, f"{kind}-template.{fmt}")
