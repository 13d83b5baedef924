"""Screening pages (issue 5 §3–4): the grid worker's phone pages — my campaigns, a grid's households with their
standing in the current round, a visit with the campaign's form rendered from its version's definition — and the
staff's pages: campaigns (state, rounds, the managers' actions, flag rules), the coverage ledger as a table by level
and as a choropleth of coverage per grid, visits with their answers read only on request with a reason, and the
proposals to the registry.

Page views only. Reads go through restrict()/visible_to() and the worklist (worklists.worker_households); every
write goes through services.do_*; a DomainError comes back as the page again with the message beside its field
(400, or 403), something out of scope as a 404. Every page shows the campaign's purpose and legal basis.
"""

import json
import re
import uuid

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.gis.db.models import Extent
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy, pgettext, pgettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from wangge.accounts.roles import (
    CHANGE_PERSON,
    MANAGE_CAMPAIGN,
    VIEW_ANSWERS,
    VIEW_CAMPAIGN,
    VISIT_HOUSEHOLD,
)
from wangge.core.errors import DomainError
from wangge.core.scope import EVERYWHERE, code_in_scope, scope_codes
from wangge.geo import codes as area_codes

from . import forms, ledger, services, worklists
from .models import (
    Campaign,
    CampaignState,
    CoverageCount,
    FlagHit,
    FlagOperator,
    FormVersion,
    PersonProposal,
    ProposalState,
    Visit,
    VisitStatus,
)

PAGE_SIZE = 50
MAX_GRIDS = 300  # grids listed per campaign on a worker's page (staff covering a whole subdistrict see the first)
LEVEL_LENGTHS = (6, 9, 12, 15)
COUNT_COLUMNS = ("registered", "visited", "moved_out")
# Coverage classes of the choropleth (visited / registered), shared by the legend and ledger.js.
COVERAGE_CLASSES = [
    {"key": "none", "min": 0, "colour": "#e2e8f0", "label": gettext_lazy("no households")},
    {"key": "c0", "min": 0, "colour": "#c53030", "label": "0%"},
    {"key": "c1", "min": 0.0001, "colour": "#dd6b20", "label": "< 50%"},
    {"key": "c2", "min": 0.5, "colour": "#d69e2e", "label": "50–80%"},
    {"key": "c3", "min": 0.8, "colour": "#68d391", "label": "80–99%"},
    {"key": "c4", "min": 1, "colour": "#2f855a", "label": "100%"},
]
STANDING_LABELS = {worklists.PENDING: pgettext_lazy("household standing", "pending"), **dict(VisitStatus.choices)}

# ---- who may do what ----------------------------------------------------------------------------------------------

def _may(user, action):
    return bool(scope_codes(user, action))


def _campaign(user, pk, action=VIEW_CAMPAIGN):
    """The campaign if `user` may `action` in some part of it: 403 for a role without the action, 404 for a campaign
    outside the user's scope (the same answer as for one that does not exist)."""
    if not _may(user, action):
        raise PermissionDenied
    campaign = (Campaign.objects.visible_to(user, action).select_related("form_version__form", "created_by")
                .filter(pk=pk).first())
    if campaign is None:
        raise Http404
    return campaign


def _may_manage(user, campaign):
    return code_in_scope(campaign.area_code, scope_codes(user, MANAGE_CAMPAIGN))


def _error_of(exc):
    """{"status", "message", "fields": {path: [messages]}} of a DomainError (AnswerErrors carry every path)."""
    fields = getattr(exc, "fields", None) or ({exc.field: [exc.message]} if exc.field else {})
    return {"status": exc.status_code, "message": exc.message, "fields": fields}


def _area_names(codes):
    from wangge.geo.models import Area

    return dict(Area.objects.current().filter(code__in=list(codes)).values_list("code", "name"))


# ---- the header link --------------------------------------------------------------------------------------------

@require_GET
def nav(request):
    """The header's 摸排 link, for users who may see campaigns (or, leaders, their ledgers) or record visits; loaded
    after the page by htmx, so other apps' pages pay no query for it."""
    user = request.user
    if not user.is_authenticated or not (_may(user, VISIT_HOUSEHOLD) or ledger.ledger_codes(user)):
        return HttpResponse("")
    return render(request, "campaigns/_nav.html")


# ---- the worker's campaigns and the campaigns list ---------------------------------------------------------------

def _grids_of(campaign, user):
    """[(grid code, name, registered, visited, done)] of the current round in the areas `user` is to visit
    (worklists.worker_areas), at most MAX_GRIDS, and the number of grids in all."""
    areas = worklists.worker_areas(campaign, user)
    if not areas or not campaign.current_round:
        return [], 0
    rows = CoverageCount.objects.filter(worklists.in_areas(areas), campaign=campaign,
                                        round=campaign.current_round).order_by("grid_code")
    total = rows.count()
    rows = list(rows.values("grid_code", *COUNT_COLUMNS)[:MAX_GRIDS])
    names = _area_names(row["grid_code"] for row in rows)
    grids = []
    for row in rows:
        done = row["visited"] + row["moved_out"]
        grids.append({"code": row["grid_code"], "name": names.get(row["grid_code"], ""),
                      "registered": row["registered"], "visited": row["visited"], "done": done,
                      "percent": _percent(done, row["registered"])})
    return grids, total


def _percent(part, whole):
    return round(100 * part / whole) if whole else 0


@require_GET
@login_required
def index(request):
    """My screening work (running campaigns I visit in, with my grids' progress; phone first) and every campaign
    the user may see — or, for leaders, whose ledger they may read (counts only)."""
    user = request.user
    may_visit, may_view, may_count = (_may(user, VISIT_HOUSEHOLD), _may(user, VIEW_CAMPAIGN),
                                      bool(ledger.ledger_codes(user)))
    if not (may_visit or may_count):
        raise PermissionDenied
    mine = []
    if may_visit:
        for campaign in (Campaign.objects.visible_to(user, VISIT_HOUSEHOLD).filter(state=CampaignState.RUNNING)
                         .order_by("-started_at", "-id")[:20]):
            grids, total = _grids_of(campaign, user)
            if grids:
                mine.append({"campaign": campaign, "grids": grids, "more": total - len(grids)})
    page = None
    if may_count:
        campaigns = Campaign.objects.visible_to(user, VIEW_CAMPAIGN) if may_view else ledger.visible_campaigns(user)
        page = Paginator(campaigns.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "campaigns/index.html", {
        "mine": mine, "page": page, "may_visit": may_visit, "may_view": may_view,
        "may_create": _may(user, MANAGE_CAMPAIGN)})


# ---- a grid's households ----------------------------------------------------------------------------------------

def _address(row):
    """A household's door as a worker finds it: building, unit, room (no person's name)."""
    parts = [row.get("address") or row.get("building_name") or ""]
    if row.get("building_number") and not parts[0]:
        parts[0] = _("building %(number)s") % {"number": row["building_number"]}
    door = "-".join(part for part in (row.get("unit"), row.get("room")) if part)
    return " ".join(part for part in (*parts, door) if part)


STANDING_FILTERS = ("pending", "revisit", "absent", "refused", "visited", "moved_out")


@require_GET
@login_required
def grid(request, pk, grid_code):
    """A grid's households in the current round with their standing (phone first): who is still to be called on,
    revisits due, and what each call found. `?show=<standing>` filters."""
    user = request.user
    campaign = _campaign(user, pk, VISIT_HOUSEHOLD)
    if len(grid_code) != 15 or not code_in_scope(grid_code, worklists.worker_areas(campaign, user)):
        raise Http404
    rows = worklists.worker_households(campaign, user, grid_code=grid_code)
    counts = {key: 0 for key in STANDING_FILTERS}
    now = timezone.now()
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
        row["door"] = _address(row)
        row["label"] = STANDING_LABELS.get(row["status"], row["status"])
        row["due"] = row["status"] == VisitStatus.REVISIT and row["revisit_at"] is not None and row[
            "revisit_at"] <= now
    show = request.GET.get("show", "")
    shown = [row for row in rows if row["status"] == show] if show in STANDING_FILTERS else rows
    filters = [(key, STANDING_LABELS[key], counts[key]) for key in STANDING_FILTERS]
    done = counts["visited"] + counts["moved_out"]
    return render(request, "campaigns/grid.html", {
        "campaign": campaign, "grid_code": grid_code, "grid_name": _area_names([grid_code]).get(grid_code, ""),
        "households": shown, "total": len(rows), "filters": filters, "show": show, "done": done,
        "percent": _percent(done, len(rows)), "running": campaign.state == CampaignState.RUNNING})


# ---- the form, rendered from its definition -----------------------------------------------------------------------

def _text(labels):
    """A label or hint object ({"zh", "en"}) in the page's language, falling back to the other."""
    if not isinstance(labels, dict):
        return str(labels or "")
    first, second = ("zh", "en") if (get_language() or "").startswith("zh") else ("en", "zh")
    return labels.get(first) or labels.get(second) or ""


def _field_view(field, prefix, values, errors):
    """What the template needs to draw one question (and, for the member group, its blocks)."""
    path = f"{prefix}{field['name']}"
    constraint = field.get("constraint") or {}
    view = {"name": field["name"], "path": path, "type": field["type"], "label": _text(field.get("label")),
            "hint": _text(field.get("hint")), "required": bool(field.get("required")),
            "relevant": field.get("relevant") or "", "errors": errors.get(path, []),
            "sensitive": bool(field.get("sensitive")), "role": field.get("role") or "",
            "min": constraint.get("min"), "max": constraint.get("max"),
            "maxlength": constraint.get("max_length") or (forms.MAX_TEXT if field["type"] == "text" else None)}
    value = values.get(field["name"]) if isinstance(values, dict) else None
    if field["type"] == "repeat":
        rows = value if isinstance(value, list) and value else [{}]
        view["blocks"] = [{"index": index, "number": index + 1,
                           "fields": [_field_view(child, f"{path}[{index}].", row if isinstance(row, dict) else {},
                                                  errors) for child in field["children"]]}
                          for index, row in enumerate(rows)]
        # The block the page's script copies for "add a member" (its index placeholder replaced).
        view["template"] = [_field_view(child, f"{path}[__i__].", {}, {}) for child in field["children"]]
        return view
    if field["type"] in forms.SELECT_TYPES:
        chosen = value if isinstance(value, list) else ([] if value in (None, "") else [str(value)])
        view["choices"] = [{"value": choice["value"], "label": _text(choice.get("label")),
                            "checked": choice["value"] in chosen} for choice in field["choices"]]
        # Long lists (34 provinces) read better as a wrapped grid of small boxes than as a column.
        view["compact"] = len(field["choices"]) > 8
    elif field["type"] == "yes_no":
        view["choices"] = [{"value": "yes", "label": _("yes"), "checked": value == "yes"},
                           {"value": "no", "label": _("no"), "checked": value == "no"}]
    elif field["type"] == "geopoint":
        view["value"] = " ".join(str(part) for part in value) if isinstance(value, list) else (value or "")
    elif field["type"] != "photo":
        view["value"] = "" if value is None else str(value)
    return view


def form_view(definition, values=None, errors=None):
    """The questions of a form version, ready to draw, with posted values and errors by path."""
    return [_field_view(field, "", values or {}, errors or {}) for field in definition["fields"]]


_POSTED = re.compile(r"^(?P<group>[A-Za-z_][A-Za-z0-9_]*)\[(?P<index>\d{1,3})\]\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")


def _posted_value(field, post, photos, path):
    if field["type"] == "select_multiple":
        chosen = [value for value in post.getlist(path) if value.strip()]
        return chosen or None
    if field["type"] == "photo":
        return photos.get(path)
    value = post.get(path, "").strip()
    return value or None


def _posted_level(fields, post, photos, prefix):
    answers = {}
    for field in fields:
        value = _posted_value(field, post, photos, f"{prefix}{field['name']}")
        if value is not None:
            answers[field["name"]] = value
    return answers


def posted_answers(definition, post, photos=None):
    """The answers object of a posted visit form: fields named by their path (`fever`, `members[1].fever`); blank
    ones left out (so the form's required rule speaks), member blocks in their order, renumbered from 0. `photos`:
    the files posted, by path; a photo question's is its answer as it is (do_record_visit stores it)."""
    photos = photos or {}
    answers = {}
    for field in definition["fields"]:
        if field["type"] != "repeat":
            value = _posted_value(field, post, photos, field["name"])
            if value is not None:
                answers[field["name"]] = value
            continue
        # the blocks with a field posted, or a file for one of their photo questions (a file under any other name
        # answers nothing)
        photo_names = {child["name"] for child in field["children"] if child["type"] == "photo"}
        indexes = sorted({int(match["index"]) for key in [*post.keys(), *photos.keys()]
                          if (match := _POSTED.match(key)) and match["group"] == field["name"]
                          and (key in post or match["name"] in photo_names)})
        answers[field["name"]] = [_posted_level(field["children"], post, photos, f"{field['name']}[{index}].")
                                  for index in indexes]
    return answers


def _location(value):
    """The posted GPS position (GeoJSON from the page's script), or None; a DomainError when unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        point = json.loads(value)
    except ValueError as exc:
        raise DomainError(_("Not a readable point."), field="location") from exc
    if not isinstance(point, dict):
        raise DomainError(_("Not a readable point."), field="location")
    return point


VISIT_FIELD_LABELS = {
    "status": gettext_lazy("Result of the call"), "revisit_at": gettext_lazy("Revisit at"),
    "location": gettext_lazy("Location"), "visited_at": gettext_lazy("Time of the visit"),
    "campaign": gettext_lazy("Campaign"), "household": gettext_lazy("Household"),
    "answers": gettext_lazy("Answers"),
}
_MEMBER_PATH = re.compile(r"^(?P<group>[A-Za-z_][A-Za-z0-9_]*)\[(?P<index>\d+)\]\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")


def _path_label(definition, path):
    """What a worker calls the question at `path` ("Member 2 · Fever or cough" for members[1].fever)."""
    fields = {field["name"]: field for field in definition["fields"]}
    match = _MEMBER_PATH.match(path)
    if match and match["group"] in fields:
        child = next((child for child in fields[match["group"]].get("children") or []
                      if child["name"] == match["name"]), None)
        if child is not None:
            member = _("Member %(number)s") % {"number": int(match["index"]) + 1}
            return f"{member} · {_text(child.get('label'))}"
    if path in fields:
        return _text(fields[path].get("label"))
    return str(VISIT_FIELD_LABELS.get(path, path))


def _visit_error(definition, exc):
    """The error of a refused visit, each problem named as the worker knows the question."""
    error = _error_of(exc)
    error["labelled"] = [(path, _path_label(definition, path), messages_)
                         for path, messages_ in error["fields"].items()]
    if isinstance(exc, forms.AnswerErrors):
        error["message"] = _("Some answers need fixing: see the marked questions.")
    return error


def _household_row(campaign, user, household_pk):
    """The worklist's row of one household the user is to visit, or 404."""
    from wangge.registry.models import Household

    grid_code = Household.objects.filter(pk=household_pk).values_list("grid_code", flat=True).first()
    areas = worklists.worker_areas(campaign, user)
    if not grid_code or not code_in_scope(grid_code, areas):
        raise Http404
    row = next((row for row in worklists.worker_households(campaign, user, grid_code=grid_code)
                if row["id"] == household_pk), None)
    if row is None:
        raise Http404
    row["door"] = _address(row)
    row["label"] = STANDING_LABELS.get(row["status"], row["status"])
    return row


@require_http_methods(["GET", "POST"])
@login_required
def visit_form(request, pk, household):
    """Record a call at a household from a phone: the result (visited, absent, refused, moved out, revisit with a
    time), the campaign's form when the household was found (skip logic live in the page, checked again here), and
    the phone's GPS. Saved: back to the grid's list with the household's new standing."""
    user = request.user
    campaign = _campaign(user, pk, VISIT_HOUSEHOLD)
    row = _household_row(campaign, user, household)
    definition = campaign.form_version.definition
    error, values, posted = None, {}, {}
    if request.method == "POST":
        posted = request.POST
        status = posted.get("status", "")
        # The photos go to the service as they were uploaded, each in its question's place in the answers.
        photos = {path: uploads[0] for path, uploads in request.FILES.lists() if uploads}
        values = posted_answers(definition, posted, photos) if status == VisitStatus.VISITED else {}
        try:
            location = _location(posted.get("location"))
            with transaction.atomic():
                services.do_record_visit(
                    campaign, actor=user, household=row["id"], status=status,
                    answers=values if status == VisitStatus.VISITED else None, location=location,
                    revisit_at=posted.get("revisit_at") if status == VisitStatus.REVISIT else None,
                    instance_id=posted.get("instance_id", ""))
        except DomainError as exc:
            error = _visit_error(definition, exc)
        else:
            label = STANDING_LABELS.get(status, status)
            messages.success(request, _("Household %(number)s: %(result)s.") % {"number": row["number"],
                                                                               "result": label})
            target = reverse("campaigns:grid", args=[campaign.pk, row["grid_code"]])
            return redirect(f"{target}#household-{row['id']}")
    context = {
        "campaign": campaign, "household": row, "error": error,
        "questions": form_view(definition, values, error["fields"] if error else {}),
        "statuses": VisitStatus.choices, "status": posted.get("status", ""),
        "revisit_at": posted.get("revisit_at", ""), "location": posted.get("location", ""),
        "instance_id": posted.get("instance_id") or f"page:{uuid.uuid4().hex}",
        "field_errors": error["fields"] if error else {}, "running": campaign.state == CampaignState.RUNNING,
        "config": {"strings": {
            "locating": _("Finding your position…"), "located": _("Position found"),
            "accuracy": _("accurate to about %(metres)s m"), "denied": _("No GPS position: the visit is saved "
                                                                          "without one."),
            "unsupported": _("This device gives no position."), "member": _("Member %(number)s"),
        }},
    }
    return render(request, "campaigns/visit.html", context, status=error["status"] if error else 200)


# ---- campaigns (staff) --------------------------------------------------------------------------------------------

class CampaignForm(django_forms.Form):
    """The fields of a new campaign (rendering and reading only: do_create_campaign checks them)."""

    name = django_forms.CharField(label=pgettext_lazy("campaign", "Name"), max_length=200)
    purpose = django_forms.CharField(label=gettext_lazy("Purpose"), widget=django_forms.Textarea(attrs={"rows": 2}))
    legal_basis = django_forms.CharField(label=gettext_lazy("Legal basis"),
                                         widget=django_forms.Textarea(attrs={"rows": 2}))
    area_code = django_forms.CharField(label=gettext_lazy("Organised by (area code)"), max_length=15)
    target_codes = django_forms.CharField(label=gettext_lazy("Target areas (codes, separated by spaces)"),
                                          max_length=2000)
    starts_on = django_forms.DateField(label=gettext_lazy("Starts on"),
                                       widget=django_forms.DateInput(attrs={"type": "date"}))
    ends_on = django_forms.DateField(label=gettext_lazy("Ends on"),
                                     widget=django_forms.DateInput(attrs={"type": "date"}))
    daily_deadline = django_forms.TimeField(label=gettext_lazy("Daily reporting deadline"), initial="08:00",
                                            widget=django_forms.TimeInput(attrs={"type": "time"}))
    retention_days = django_forms.IntegerField(label=gettext_lazy("Keep personal answers for (days after closing)"),
                                               initial=30, min_value=0, max_value=services.MAX_RETENTION_DAYS)
    form_version = django_forms.ChoiceField(label=gettext_lazy("Form"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["form_version"].choices = [
            (str(version.pk), f"{version.form.title} v{version.number}")
            for version in FormVersion.objects.select_related("form").order_by("form__code", "-number")]


@require_http_methods(["GET", "POST"])
@login_required
def create(request):
    user = request.user
    codes = scope_codes(user, MANAGE_CAMPAIGN)
    if not codes:
        raise PermissionDenied
    default_area = "" if codes is EVERYWHERE else codes[0]
    form = CampaignForm(request.POST or None, initial={"area_code": default_area, "target_codes": default_area,
                                                       "starts_on": timezone.localdate()})
    error = None
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                campaign = services.do_create_campaign(
                    actor=user, name=data["name"], purpose=data["purpose"], legal_basis=data["legal_basis"],
                    area_code=data["area_code"], target_codes=data["target_codes"].replace(",", " ").split(),
                    starts_on=data["starts_on"], ends_on=data["ends_on"], daily_deadline=data["daily_deadline"],
                    retention_days=data["retention_days"], form_version=data["form_version"])
            except DomainError as exc:
                error = _error_of(exc)
                if exc.field in form.fields:
                    form.add_error(exc.field, exc.message)
            else:
                messages.success(request, _("Campaign %(name)s created as a draft.") % {"name": campaign.name})
                return redirect("campaigns:detail", campaign.pk)
        else:
            error = {"status": 400, "message": _("The input is not valid."), "fields": {}}
    return render(request, "campaigns/create.html", {"form": form, "error": error},
                  status=error["status"] if error else 200)


def _flag_rule_fields(definition):
    """(value, label) of the questions a flag rule may watch: top-level ones and the member group's."""
    choices = []
    for field in definition["fields"]:
        if field["type"] == "repeat":
            for child in field["children"]:
                choices.append((child["name"], f"{_text(field.get('label'))} · {_text(child.get('label'))}"))
        else:
            choices.append((field["name"], _text(field.get("label"))))
    return choices


def _detail_context(request, campaign, *, error=None, action="", values=None):
    from wangge.cases.models import Category, Urgency

    user = request.user
    may_manage = _may_manage(user, campaign)
    totals = None
    if campaign.current_round:
        totals = ledger.coverage(campaign, user=user, level=area_codes.DISTRICT)["totals"]
        totals["percent"] = _percent_of(totals["coverage_rate"])
    names = _area_names([campaign.area_code, *campaign.target_codes])
    rules = list(campaign.flag_rules.select_related("category").order_by("code"))
    questions = dict(_flag_rule_fields(campaign.form_version.definition))
    urgencies = dict(Urgency.choices)
    for rule in rules:
        rule.field_label = questions.get(rule.field, rule.field)
        rule.value_text = "、".join(map(str, rule.value)) if isinstance(rule.value, list) else str(rule.value)
        rule.urgency_label = urgencies.get(rule.urgency, rule.urgency)
    return {
        "campaign": campaign, "may_manage": may_manage, "totals": totals, "error": error, "action": action,
        "values": values or {}, "area_name": names.get(campaign.area_code, ""),
        "targets": [(code, names.get(code, "")) for code in campaign.target_codes],
        "rounds": list(campaign.rounds.select_related("started_by").order_by("number")),
        "rules": rules,
        "may_answers": _may(user, VIEW_ANSWERS), "may_review": _may(user, CHANGE_PERSON),
        "rule_fields": _flag_rule_fields(campaign.form_version.definition) if may_manage else [],
        "operators": FlagOperator.choices, "urgencies": Urgency.choices,
        "categories": (list(Category.objects.filter(active=True, parent__isnull=False).order_by("kind", "code"))
                       if may_manage else []),
        "workers": campaign.workers.count(),
    }


@require_GET
@login_required
def detail(request, pk):
    campaign = _campaign(request.user, pk)
    return render(request, "campaigns/detail.html", _detail_context(request, campaign))


ACTIONS = ("start", "close", "rescreen", "purge")


@require_POST
@login_required
def act(request, pk):
    """A manager's action on the campaign: start, close, re-screen (a new round with its reason and deadline),
    purge (after the retention period)."""
    user = request.user
    campaign = _campaign(user, pk)
    action = request.POST.get("action", "")
    try:
        if action == "start":
            campaign = services.do_start_campaign(campaign, actor=user, deadline=request.POST.get("deadline") or None)
        elif action == "close":
            campaign = services.do_close_campaign(campaign, actor=user)
        elif action == "rescreen":
            campaign = services.do_rescreen(campaign, actor=user, reason=request.POST.get("reason", ""),
                                            deadline=request.POST.get("deadline") or None)
        elif action == "purge":
            campaign = services.do_purge_campaign(campaign, actor=user)
        else:
            raise DomainError(_("Unknown action; one of: %(all)s.") % {"all": ", ".join(ACTIONS)}, field="action")
    except DomainError as exc:
        error = _error_of(exc)
        campaign = _campaign(user, pk)
        return render(request, "campaigns/detail.html",
                      _detail_context(request, campaign, error=error, action=action, values=request.POST),
                      status=error["status"])
    messages.success(request, _("Campaign %(name)s: %(state)s, round %(round)s.") % {
        "name": campaign.name, "state": campaign.get_state_display(), "round": campaign.current_round})
    return redirect("campaigns:detail", campaign.pk)


def _rule_value(operator, text):
    """The posted value of a flag rule: a list for "is one of" / "has selected any of", else the text."""
    text = (text or "").strip()
    if operator in (FlagOperator.ANY_OF, FlagOperator.SELECTED):
        return [item for item in re.split(r"[\s,，]+", text) if item]
    return text


@require_POST
@login_required
def add_flag_rule(request, pk):
    user = request.user
    campaign = _campaign(user, pk)
    post = request.POST
    try:
        if not str(post.get("value", "")).strip():
            raise DomainError(_("Required."), field="value")
        services.do_add_flag_rule(
            campaign, actor=user, code=post.get("code", "").strip(), label=post.get("label", "").strip(),
            field=post.get("field", ""), operator=post.get("operator", ""),
            value=_rule_value(post.get("operator"), post.get("value")), category=post.get("category") or None,
            urgency=post.get("urgency") or "normal")
    except DomainError as exc:
        error = _error_of(exc)
        return render(request, "campaigns/detail.html",
                      _detail_context(request, campaign, error=error, action="flag_rule", values=post),
                      status=error["status"])
    messages.success(request, _("Flag rule %(code)s added.") % {"code": post.get("code")})
    return redirect(reverse("campaigns:detail", args=[campaign.pk]) + "#rules")


# ---- the coverage ledger --------------------------------------------------------------------------------------------

def _ledger_campaign(user, pk):
    """The campaign whose ledger `user` may read (VIEW_CAMPAIGN, or VIEW_AGGREGATES for leaders: counts only):
    403 for a role with neither, 404 outside the user's scope."""
    if not ledger.ledger_codes(user):
        raise PermissionDenied
    return ledger.ledger_campaign(user, pk)


def _ledger_root(campaign, user):
    """The narrowest area holding every part of the campaign the user sees: where the ledger page opens."""
    codes = ledger.ledger_codes(user)
    if codes is EVERYWHERE:
        parts = list(campaign.target_codes)
    else:  # each pair of a scope code and a target inside each other: the narrower of the two
        parts = [max(code, target, key=len) for code in codes for target in campaign.target_codes
                 if code.startswith(target) or target.startswith(code)]
    return _common_area(parts or [campaign.area_code])


def _common_area(codes):
    """The longest area code (6/9/12/15 digits) every one of `codes` starts with."""
    prefix = codes[0]
    for code in codes[1:]:
        while not code.startswith(prefix):
            prefix = prefix[:-1]
    return codes[0][:max((n for n in LEVEL_LENGTHS if n <= len(prefix)), default=6)]


def _child_level(area):
    """The level of the rows under `area`: its children, or the grid itself for a grid."""
    return area_codes.LEVEL_OF_LENGTH[next((n for n in LEVEL_LENGTHS if n > len(area)), 15)]


def coverage_class(rate):
    """The choropleth class of a coverage rate (None: a grid without households)."""
    if rate is None:
        return "none"
    found = "c0"
    for entry in COVERAGE_CLASSES[1:]:
        if rate >= entry["min"]:
            found = entry["key"]
    return found


def _percent_of(rate):
    return None if rate is None else round(100 * rate, 1)


def _bounds(area_code):
    from wangge.geo.models import Area

    extent = Area.objects.current().filter(code=area_code).aggregate(extent=Extent("geom"))["extent"]
    return list(extent) if extent else None


@require_GET
@login_required
def ledger_page(request, pk):
    """The coverage ledger (ledger.coverage): a table by level — subdistrict → community → grid, `?area=` drills
    down — with the 四清 of each area, and a choropleth of coverage per grid; `?round=` reads an earlier round."""
    from wangge.geo.views import _basemap

    user = request.user
    campaign = _ledger_campaign(user, pk)
    root = _ledger_root(campaign, user)
    area = request.GET.get("area") or root
    error, result = None, None
    try:
        if campaign.current_round:
            result = ledger.coverage(campaign, user=user, round=request.GET.get("round"),
                                     level=_child_level(str(area)), area=area)
    except DomainError as exc:
        error = _error_of(exc)
    if result:
        area = result["area"]
        for row in result["rows"]:
            row.update(percent=_percent_of(row["coverage_rate"]), drill=len(row["code"]) < 15)
        result["totals"]["percent"] = _percent_of(result["totals"]["coverage_rate"])
    else:
        area = root
    round_number = result["round"] if result else campaign.current_round
    # Up the levels from the shown area to the widest one the user sees of the campaign.
    crumbs = [area[:n] for n in LEVEL_LENGTHS if len(root) <= n < len(area) and area.startswith(root)]
    names = _area_names([*crumbs, area])
    config = {
        "gridsUrl": reverse("campaigns:ledger-grids", args=[campaign.pk]) + f"?round={round_number}",
        "tiles": "/tiles/{level}/{z}/{x}/{y}.pbf", "bounds": _bounds(area), "basemap": _basemap(),
        "classes": [{"key": entry["key"], "colour": entry["colour"]} for entry in COVERAGE_CLASSES],
        "strings": {"registered": _("registered"), "visited": _("visited"),
                    "pending": pgettext("household standing", "pending"),
                    "coverage": pgettext("rate", "coverage")},
    }
    return render(request, "campaigns/ledger.html", {
        "campaign": campaign, "result": result, "error": error, "round": round_number, "area": area,
        "area_name": names.get(area, ""), "rounds": range(1, campaign.current_round + 1),
        "crumbs": [(code, names.get(code, "")) for code in crumbs], "classes": COVERAGE_CLASSES,
        "may_view": _may(user, VIEW_CAMPAIGN), "config": config}, status=error["status"] if error else 200)


@require_GET
@login_required
def ledger_grids(request, pk):
    """`grids.json?round=`: {"round", "grids": {code: {registered, visited, pending, percent, class}}} — the
    figures per grid in the user's scope that the ledger page's choropleth draws."""
    user = request.user
    campaign = _ledger_campaign(user, pk)
    grids, round_number = {}, None
    try:
        if campaign.current_round:
            result = ledger.coverage(campaign, user=user, round=request.GET.get("round"), level=area_codes.GRID)
            round_number = result["round"]
            for row in result["rows"]:
                grids[row["code"]] = {"registered": row["registered"], "visited": row["visited"],
                                      "pending": row["pending"], "percent": _percent_of(row["coverage_rate"]),
                                      "class": coverage_class(row["coverage_rate"])}
    except DomainError as exc:
        error = _error_of(exc)
        return JsonResponse({"error": {"code": "invalid", "message": error["message"], "fields": error["fields"]}},
                            status=400)
    response = JsonResponse({"round": round_number, "grids": grids})
    response["Cache-Control"] = "private, no-cache"
    return response


# ---- visits and their answers -------------------------------------------------------------------------------------

@require_GET
@login_required
def visits(request, pk):
    """The campaign's visits in scope: result, when, who, where, flags — never the answers."""
    user = request.user
    campaign = _campaign(user, pk)
    rows = (Visit.objects.restrict(user, VIEW_CAMPAIGN).filter(campaign=campaign)
            .select_related("household", "worker").order_by("-visited_at", "-id"))
    grid_code, status, flagged = (request.GET.get(name, "") for name in ("grid", "status", "flagged"))
    if grid_code.isdigit():
        rows = rows.filter(grid_code__startswith=grid_code)
    if status in VisitStatus.values:
        rows = rows.filter(status=status)
    if flagged:
        rows = rows.exclude(flags=[])
    paginator = Paginator(rows, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    labels = dict(campaign.flag_rules.values_list("code", "label"))
    for visit in page.object_list:
        visit.flag_labels = [labels.get(code, code) for code in visit.flags]
    return render(request, "campaigns/visits.html", {
        "campaign": campaign, "page": page, "query": query.urlencode(), "statuses": VisitStatus.choices,
        "filters": {"grid": grid_code, "status": status, "flagged": flagged}})


def _answer_rows(definition, answers):
    """[(label, shown value, sensitive)] of the top-level answers and [(member number, rows)] of the members', in
    the form's order and language."""

    def shown(field, value):
        if value in (None, "", []):
            return ""
        if field["type"] == "yes_no":
            return _("yes") if value == "yes" else _("no")
        if field["type"] in forms.SELECT_TYPES:
            labels = {choice["value"]: _text(choice.get("label")) for choice in field["choices"]}
            chosen = value if isinstance(value, list) else [value]
            return "、".join(labels.get(str(item), str(item)) for item in chosen)
        if field["type"] == "geopoint" and isinstance(value, list):
            return " ".join(str(part) for part in value)
        return str(value)

    top, members = [], []
    for field in definition["fields"]:
        if field["type"] == "repeat":
            for index, row in enumerate(answers.get(field["name"]) or []):
                members.append((index + 1, [(_text(child.get("label")), shown(child, row.get(child["name"])),
                                             bool(child.get("sensitive"))) for child in field["children"]
                                            if child["name"] in row]))
        elif field["name"] in answers:
            top.append((_text(field.get("label")), shown(field, answers[field["name"]]), bool(field.get("sensitive"))))
    return top, members


@require_http_methods(["GET", "POST"])
@login_required
def visit_detail(request, visit):
    """One visit: its result, time, place and flags; the personal answers stay hidden until a user who may read
    them gives a reason (POST) — each reading audited (services.do_reveal_answers) and shown once, on that page."""
    user = request.user
    if not _may(user, VIEW_CAMPAIGN):
        raise PermissionDenied
    found = (Visit.objects.restrict(user, VIEW_CAMPAIGN)
             .select_related("campaign__form_version", "household", "worker", "form_version").filter(pk=visit).first())
    if found is None or not Campaign.objects.visible_to(user, VIEW_CAMPAIGN).filter(pk=found.campaign_id).exists():
        raise Http404
    visit = found
    answers, error = None, None
    if request.method == "POST":
        try:
            revealed = services.do_reveal_answers(visit, actor=user, reason=request.POST.get("reason", ""),
                                                  request_id=getattr(request, "request_id", ""))
        except DomainError as exc:
            error = _error_of(exc)
        else:
            answers = _answer_rows((visit.form_version or visit.campaign.form_version).definition, revealed)
    hits = list(FlagHit.objects.filter(visit=visit).select_related("rule").order_by("member_index", "id"))
    may_read = code_in_scope(visit.grid_code, scope_codes(user, VIEW_ANSWERS))
    response = render(request, "campaigns/visit_detail.html", {
        "campaign": visit.campaign, "visit": visit, "hits": hits, "answers": answers, "error": error,
        "may_read": may_read, "reason": request.POST.get("reason", "") if error else ""},
        status=error["status"] if error else 200)
    if answers is not None:
        response["Cache-Control"] = "no-store"  # revealed answers stay out of every cache
    return response


# ---- proposals to the registry ----------------------------------------------------------------------------------

def _proposals(user):
    if not _may(user, CHANGE_PERSON):
        raise PermissionDenied
    return PersonProposal.objects.restrict(user, CHANGE_PERSON)


def _proposals_page(request, campaign, *, error=None, status=200):
    user = request.user
    state = request.GET.get("state", ProposalState.PENDING)
    rows = (_proposals(user).filter(visit__campaign=campaign).select_related("household", "reviewed_by")
            .order_by("-created_at", "-id"))
    if state in ProposalState.values:
        rows = rows.filter(state=state)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "campaigns/proposals.html", {
        "campaign": campaign, "page": page, "state": state, "states": ProposalState.choices, "error": error,
        "query": f"state={state}"}, status=status)


@require_GET
@login_required
def proposals(request, pk):
    """Members screened at the door whom the registry does not know, for review (masked numbers)."""
    campaign = _campaign(request.user, pk)
    return _proposals_page(request, campaign)


@require_POST
@login_required
def review_proposal(request, proposal):
    user = request.user
    found = _proposals(user).select_related("visit").filter(pk=proposal).first()
    if found is None:
        raise Http404
    campaign = _campaign(user, found.visit.campaign_id)
    decision = request.POST.get("decision", "")
    try:
        if decision not in ("accept", "reject"):
            raise DomainError(_("Accept or reject."), field="decision")
        services.do_review_proposal(found, actor=user, accept=decision == "accept", note=request.POST.get("note", ""))
    except DomainError as exc:
        error = _error_of(exc)
        error["proposal"] = found.pk
        return _proposals_page(request, campaign, error=error, status=error["status"])
    messages.success(request, (_("%(name)s accepted into the registry.") if decision == "accept"
                               else _("%(name)s rejected.")) % {"name": found.name})
    return redirect("campaigns:proposals", campaign.pk)
