"""The import page: pick a kind, upload a file, read the report; download templates and the error report.
The same service as the API and the command (dry run unless asked to write)."""

import pghistory
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from wangge.core.errors import DomainError

from .exporters import CONTENT_TYPES, error_report, template
from .import_service import ImportRejected, do_import_registry
from .importers import KINDS

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
