"""The OpenRosa endpoints (package docstring). Every answer — errors and challenges included — carries
X-OpenRosa-Version: 1.0; transactional answers and errors are an OpenRosaResponse envelope with a message the client
shows the worker. No session: each request signs in with its own credentials (auth.py), so CSRF does not apply."""

import functools
from xml.etree import ElementTree

import pghistory
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from wangge.campaigns import services
from wangge.campaigns.forms import AnswerErrors
from wangge.campaigns.models import Visit, VisitSource, VisitStatus
from wangge.core.errors import DomainError

from . import auth, xforms
from .submissions import SubmissionError, answers_of, call_of, read_instance

OPENROSA_VERSION = "1.0"
RESPONSE_NS = "http://openrosa.org/http/response"
XFORMS_LIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"
MAX_SUBMISSION_BYTES = 10 * 1024 * 1024  # announced in X-OpenRosa-Accept-Content-Length
XML = "text/xml; charset=utf-8"


def _xml(root):
    return b"<?xml version='1.0' encoding='UTF-8'?>\n" + ElementTree.tostring(root, encoding="utf-8",
                                                                              xml_declaration=False)


def _element(parent, tag, text=None):
    child = ElementTree.SubElement(parent, tag)
    if text is not None:
        child.text = str(text)
    return child


def message_response(message, status, *, nature=None):
    """An OpenRosaResponse envelope with one message."""
    root = ElementTree.Element("OpenRosaResponse", xmlns=RESPONSE_NS)
    element = _element(root, "message", message)
    if nature:
        element.set("nature", nature)
    return HttpResponse(_xml(root), status=status, content_type=XML)


def _finish(response, request=None):
    if request is not None and request.method == "HEAD":
        response.content = b""  # the headers only (a challenge or the pre-flight)
    response["X-OpenRosa-Version"] = OPENROSA_VERSION
    response["X-OpenRosa-Accept-Content-Length"] = str(MAX_SUBMISSION_BYTES)
    response["Content-Language"] = translation.get_language() or "zh-hans"
    return response


def openrosa(view):
    """Signs the request in (401 with a challenge, or 403 when locked), runs the view as that user (the change log
    names them), and turns refusals into OpenRosaResponse messages."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            user = auth.authenticated_user(request)
        except auth.Refused as refused:
            response = message_response(refused.message or _("Sign in with your account."), refused.status)
            if refused.status == 401:
                response["WWW-Authenticate"] = auth.challenge(request, stale=refused.stale)
            return _finish(response, request)
        request.user = user
        try:
            with pghistory.context(user=user.pk):
                response = view(request, user, *args, **kwargs)
        except SubmissionError as exc:
            response = message_response(exc.message, exc.status, nature="error")
        except Http404:
            response = message_response(_("Not found (or not yours to see)."), 404, nature="error")
        return _finish(response, request)

    return wrapper


def not_found(request, *args, **kwargs):
    """Anything else under the OpenRosa prefix: still an OpenRosa answer."""
    return _finish(message_response(_("Not an OpenRosa endpoint."), 404), request)


def _absolute(request, name, **kwargs):
    return request.build_absolute_uri(reverse(f"openrosa:{name}", kwargs=kwargs))


@openrosa
def form_list(request, user):
    if request.method not in ("GET", "HEAD"):
        return message_response(_("Use GET."), 405)
    wanted = request.GET.get("formID")
    verbose = request.GET.get("verbose") == "true"
    root = ElementTree.Element("xforms", xmlns=XFORMS_LIST_NS)
    for campaign in xforms.worker_campaigns(user):
        formid = xforms.form_id(campaign)
        if wanted and wanted != formid:
            continue
        _xml_text, md5 = xforms.campaign_xform(campaign)
        entry = _element(root, "xform")
        _element(entry, "formID", formid)
        _element(entry, "name", campaign.name)
        _element(entry, "version", xforms.form_version_string(campaign))
        _element(entry, "hash", f"md5:{md5}")
        if verbose:
            _element(entry, "descriptionText", campaign.purpose)
        _element(entry, "downloadUrl", _absolute(request, "form", pk=campaign.pk))
        _element(entry, "manifestUrl", _absolute(request, "manifest", pk=campaign.pk))
    return HttpResponse(_xml(root), content_type=XML)


def _campaign(user, pk):
    campaign = xforms.worker_campaign(user, pk)
    if campaign is None:
        raise Http404
    return campaign


@openrosa
def form_download(request, user, pk):
    xml, _md5 = xforms.campaign_xform(_campaign(user, pk))
    return HttpResponse(xml.encode("utf-8"), content_type=XML)


@openrosa
def manifest(request, user, pk):
    campaign = _campaign(user, pk)
    root = ElementTree.Element("manifest", xmlns=MANIFEST_NS)
    media = _element(root, "mediaFile")
    _element(media, "filename", xforms.HOUSEHOLDS_FILE)
    _element(media, "hash", f"md5:{xforms.md5(xforms.households_csv(campaign, user))}")
    _element(media, "downloadUrl", _absolute(request, "households", pk=campaign.pk))
    return HttpResponse(_xml(root), content_type=XML)


@openrosa
def households(request, user, pk):
    response = HttpResponse(xforms.households_csv(_campaign(user, pk), user), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{xforms.HOUSEHOLDS_FILE}"'
    response["Cache-Control"] = "private, no-store"
    return response


@openrosa
def submission(request, user):
    if request.method == "HEAD":
        return HttpResponse(status=204)
    if request.method != "POST":
        return message_response(_("Submit with POST (multipart/form-data)."), 405)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_SUBMISSION_BYTES:
        return message_response(_("The submission is larger than %(mb)s MB.") % {
            "mb": MAX_SUBMISSION_BYTES // (1024 * 1024)}, 413, nature="error")
    if not request.content_type.startswith("multipart/"):
        raise SubmissionError(_("Send the submission as multipart/form-data with an xml_submission_file part."))
    try:
        uploaded = request.FILES.get("xml_submission_file")
    except (MultiPartParserError, ValueError) as exc:
        raise SubmissionError(_("The multipart body cannot be read.")) from exc
    root = read_instance(uploaded)
    return _record(user, call_of(root), root, request.FILES)


def _attach_photos(definition, answers, files):
    """The answers with each photo answer — the name of a file ODK sends as a part of its own — replaced by that
    attached file, as services.do_record_visit takes a photo; a SubmissionError naming the question when it was not
    attached."""
    def attached(path, file_name):
        upload = files.get(file_name)
        if upload is None:
            raise SubmissionError(_("%(path)s: the photo %(file)s was not attached.") % {
                "path": path, "file": file_name[:100]})
        return upload

    for field in definition["fields"]:
        if field["type"] == "photo" and answers.get(field["name"]):
            answers[field["name"]] = attached(field["name"], answers[field["name"]])
        for index, row in enumerate(answers.get(field["name"]) or [] if field["type"] == "repeat" else []):
            for child in field["children"]:
                if child["type"] == "photo" and row.get(child["name"]):
                    row[child["name"]] = attached(f"{field['name']}[{index}].{child['name']}", row[child["name"]])
    return answers


def _record(user, call, root, files):
    """The visit of a parsed submission: 201 when recorded, 202 when it was already (the same instanceID)."""
    # One statement: the campaign as the visit service takes it (form version, flag rules), and who sent this
    # instance before, if anyone did.
    campaigns = services.visit_campaigns(user)
    if call["instance_id"]:
        campaigns = campaigns.annotate(earlier_worker=Subquery(
            Visit.objects.filter(campaign=OuterRef("pk"), instance_id=call["instance_id"]).values("worker_id")[:1]))
    campaign = campaigns.filter(pk=call["campaign"]).first()
    if campaign is None:
        raise SubmissionError(_("This campaign is not one you visit households in."), status=404)
    if not call["instance_id"]:
        raise SubmissionError(_("The form instance has no meta/instanceID."))
    if campaign.earlier_worker is not None:
        if campaign.earlier_worker != user.pk:
            raise SubmissionError(_("This campaign is not one you visit households in."), status=404)
        return message_response(_("Already received: this form was submitted before."), 202)
    if call["version"] != xforms.form_version_string(campaign):
        raise SubmissionError(_("This copy of the form is outdated: get the blank form again and fill it in anew."))
    if not call["household"].isdigit():
        raise SubmissionError(_("wg_household: choose the household."))
    # The form's questions sit in a group shown only for a visited household; otherwise they carry nothing.
    definition = campaign.form_version.definition
    answers = answers_of(definition, root) if call["status"] == VisitStatus.VISITED else None
    if answers:
        answers = _attach_photos(definition, answers, files)
    try:
        visit = services.do_record_visit(
            campaign, actor=user, household=int(call["household"]), status=call["status"], answers=answers,
            location=call["location"], visited_at=call["visited_at"], revisit_at=call["revisit_at"],
            instance_id=call["instance_id"], source=VisitSource.OPENROSA)
    except (DomainError, Http404) as exc:
        raise _refusal(exc) from exc  # a refused visit has kept none of its photos
    household = visit.household
    return message_response(_("Received: household %(number)s, %(result)s.") % {
        "number": household.number if household else "", "result": visit.get_status_display()}, 201)


def _refusal(exc):
    """What ODK Collect shows for a visit the service refused (other errors pass through as they are)."""
    if isinstance(exc, AnswerErrors):
        problems = "; ".join(f"{path}: {message}" for path, message in exc.problems)
        return SubmissionError(_("The answers break the form — %(problems)s") % {"problems": problems})
    if isinstance(exc, DomainError):
        if exc.field == "household":
            return SubmissionError(_("The household is not one of yours in this campaign."), status=404)
        if exc.field == "campaign" or exc.code == "forbidden":
            return SubmissionError(exc.message, status=403)
        where = f"{exc.field}: " if exc.field else ""
        return SubmissionError(f"{where}{exc.message}")
    if isinstance(exc, Http404):
        return SubmissionError(_("The household is not one of yours in this campaign."), status=404)
    return None
