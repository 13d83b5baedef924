"""Event pages (issue 4 §7): the command centre's queue, map and case page; the grid worker's phone pages (my tasks,
report an event, act on a task); the inbox; and the header fragment (links by permission, the unread count).

Page views only. Reads go through the API's paths (`Event.objects.visible_to`, the API's serializers for the
masked related records and the attachments); the actions a user may do now come from `services.available_actions`
and the tasks from `services.tasks_for`; every write goes through `services` after the API's own input serializers,
so a form and an API call are checked alike and answer with the same messages.
"""

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.gis.db.models import Extent
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Q, Value, When
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from wangge.accounts.roles import REPORT_EVENT, VIEW_AREA, VIEW_EVENT, VIEW_WORKFORCE
from wangge.core.errors import DomainError
from wangge.core.scope import scope_codes

from . import notifications, services, workflow
from .models import Category, ClockLevel, Event, EventSource, EventState, Urgency

PAGE_SIZE = 30
MAP_LIMIT = 5000  # open events drawn on the map, newest first
RECENT_REPORTS = 10  # my latest reports, under my tasks

# The words on buttons and in timelines; the workflow's own labels are the Chinese terms of the trade.
ACTION_LABELS = {
    "report": gettext_lazy("Report"),
    "accept": gettext_lazy("Accept"),
    "void": gettext_lazy("Void"),
    "dispatch": gettext_lazy("Dispatch"),
    "urge": gettext_lazy("Urge"),
    "escalate": gettext_lazy("Escalate to the level above"),
    "instruct": gettext_lazy("Leader's instruction"),
    "supervise": gettext_lazy("Supervision notice"),
    "sign": gettext_lazy("Sign for"),
    "return": gettext_lazy("Return"),
    "handle": gettext_lazy("Handle"),
    "feedback": gettext_lazy("Feed back"),
    "verify": gettext_lazy("Verify"),
    "rework": gettext_lazy("Send back for rework"),
    "close": gettext_lazy("Close"),
    "evaluate": gettext_lazy("Evaluate"),
    "self_close": gettext_lazy("Handle and close myself"),
    "request_extension": gettext_lazy("Request an extension"),
    "approve_extension": gettext_lazy("Approve the extension"),
    "wait_citizen": gettext_lazy("Wait for the citizen"),
    "resume": gettext_lazy("Resume the clock"),
    "reject_extension": gettext_lazy("Reject the extension"),
    "clock_warning": gettext_lazy("Clock warning"),
    "yellow_card": gettext_lazy("Yellow card"),
    "red_card": gettext_lazy("Red card"),
}
# Actions that send a case backwards or end it: drawn as warnings.
DANGER_ACTIONS = {"void", "return", "rework", "reject_extension"}
# Actions that may carry photos (the scene before and after).
PHOTO_ACTIONS = {"sign", "handle", "feedback", "verify", "rework", "return", "close", "self_close", "escalate"}
STATE_COLOURS = {
    EventState.REPORTED: "#d69e2e", EventState.ACCEPTED: "#dd6b20", EventState.DISPATCHED: "#3182ce",
    EventState.SIGNED: "#2b6cb0", EventState.HANDLED: "#805ad5", EventState.FED_BACK: "#6b46c1",
    EventState.VERIFIED: "#38a169", EventState.CLOSED: "#718096", EventState.EVALUATED: "#4a5568",
    EventState.VOIDED: "#a0aec0",
}


# ---- who may see what -------------------------------------------------------------------------------------------

def _department_ids(user):
    """The departments `user` is an active member of today (their events are visible to them)."""
    from wangge.workforce.models import DepartmentMembership

    return DepartmentMembership.objects.departments_of(user)


def _may_view_events(user):
    return bool(scope_codes(user, VIEW_EVENT)) or bool(_department_ids(user))


def _may_report(user):
    return bool(scope_codes(user, REPORT_EVENT))


def _events(user):
    """The events `user` may see (the API's path), or 403 for a role that sees none."""
    if not _may_view_events(user):
        raise PermissionDenied
    return Event.objects.visible_to(user, VIEW_EVENT)


def _event_or_404(user, pk):
    event = (Event.objects.visible_to(user, VIEW_EVENT)
             .select_related("category__parent", "department", "routed_department", "reporter", "dispatcher",
                             "handler", "verifier")
             .filter(pk=pk).first())
    if event is None:
        raise Http404
    return event


def _safe_next(request, fallback):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback


# ---- the queue --------------------------------------------------------------------------------------------------

ANY = gettext_lazy("any")


def _blank(choices):
    return [("", ANY), *choices]


class EventFilterForm(forms.Form):
    """The board's filter fields (rendering only: the query is the API list's own filter_events)."""

    q = forms.CharField(label=gettext_lazy("Case number or address"), required=False, max_length=30)
    state = forms.ChoiceField(label=gettext_lazy("State"), required=False, choices=_blank(EventState.choices))
    urgency = forms.ChoiceField(label=gettext_lazy("Urgency"), required=False, choices=_blank(Urgency.choices))
    emergency = forms.ChoiceField(label=gettext_lazy("Emergency"), required=False, choices=_blank(
        [("true", gettext_lazy("emergencies only")), ("false", gettext_lazy("no emergencies"))]))
    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False)
    area = forms.CharField(label=gettext_lazy("Area code"), required=False, max_length=15)
    clock_level = forms.ChoiceField(label=gettext_lazy("Clock"), required=False,
                                    choices=_blank(ClockLevel.choices))
    source = forms.ChoiceField(label=gettext_lazy("Source"), required=False, choices=_blank(EventSource.choices))

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _blank(
            [(str(c.pk), f"{c.code} {c.name}" if c.parent_id else f"{c.code} {c.name} ({_('all')})")
             for c in categories])


def _categories():
    """Classes and subclasses, each class followed by its subclasses."""
    return list(Category.objects.filter(active=True).order_by("kind", "code"))


def _pinned_first(queryset):
    """Open emergencies stay at the top of the board until they are closed."""
    pinned = Case(When(Q(emergency=True) & Q(state__in=workflow.OPEN_STATES), then=Value(1)), default=Value(0),
                  output_field=IntegerField())
    return queryset.annotate(pinned=pinned).order_by("-pinned", "-created_at", "-id")


def _page(request, queryset):
    paginator = Paginator(queryset, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


@require_GET
@login_required
def board(request):
    """The command centre's queue: the API list's filters, paging, open emergencies pinned at the top."""
    from .api.events import filter_events

    queryset = _events(request.user).select_related("category", "department")
    params = request.GET.copy()
    params.pop("page", None)
    error = None
    category = params.get("category", "")
    if category.isdigit() and Category.objects.filter(pk=category, parent__isnull=True).exists():
        # A class: its subclasses' events (the API's filter takes a class by its code, which both kinds share).
        queryset = queryset.filter(category__parent_id=int(category))
        params = params.copy()
        params.pop("category")
    try:
        queryset = filter_events(queryset, params, request.user)
    except DomainError as exc:
        status, message, fields = _error_body(exc)
        error = {"status": status, "message": message, "fields": fields}
        queryset = queryset.none()
    page, query = _page(request, _pinned_first(queryset))
    form = EventFilterForm(request.GET or None, categories=_categories())
    context = {"form": form, "page": page, "query": query, "error": error, "state_colours": STATE_COLOURS}
    return render(request, "cases/board.html", context, status=error["status"] if error else 200)


@require_GET
@login_required
def tasks(request):
    """My tasks (phone first): the events I can act on now."""
    events = _events(request.user)
    queryset = services.tasks_for(request.user, events).select_related("category", "department")
    page, query = _page(request, _pinned_first(queryset))
    may_report = _may_report(request.user)
    # What I reported lately, to follow it through the loop (a phone has no queue).
    reports = (list(events.filter(reporter=request.user).select_related("category")
                    .order_by("-created_at", "-id")[:RECENT_REPORTS]) if may_report else [])
    return render(request, "cases/tasks.html", {"page": page, "query": query, "may_report": may_report,
                                                "reports": reports, "state_colours": STATE_COLOURS})


# ---- the map ----------------------------------------------------------------------------------------------------

def _map_bounds(user, action=VIEW_AREA):
    """The extent of the user's grids in the active generation (as the grid map opens), or None."""
    from wangge.geo.models import Area, Generation

    generation = Generation.objects.filter(state=Generation.State.ACTIVE).first()
    if generation is None:
        return None, None
    visible = Area.objects.restrict(user, action).filter(generation=generation)
    extent = (visible.filter(level="grid").aggregate(extent=Extent("geom"))["extent"]
              or visible.aggregate(extent=Extent("geom"))["extent"])
    return generation, (list(extent) if extent else None)


def _tiles_config(user):
    from wangge.geo.views import _basemap

    generation, bounds = _map_bounds(user)
    return {"tiles": "/tiles/{level}/{z}/{x}/{y}.pbf" + (f"?generation={generation.pk}" if generation else ""),
            "bounds": bounds, "basemap": _basemap()}


@require_GET
@login_required
def event_map(request):
    """Open events on the grid map, coloured by state and sized by urgency; the queue's filters apply."""
    from .api.events import filter_events

    queryset = _events(request.user).filter(state__in=workflow.OPEN_STATES).select_related("category")
    try:
        queryset = filter_events(queryset, request.GET, request.user)
    except DomainError:
        queryset = queryset.none()
    rows = list(queryset.order_by("-created_at", "-id")[:MAP_LIMIT])
    detail = reverse("cases:detail", args=[0]).replace("/0/", "/{id}/")
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [e.location.x, e.location.y]},
                 "properties": {"id": e.pk, "case": e.case_number, "state": e.state, "urgency": e.urgency,
                                "emergency": e.emergency, "category": e.category.name,
                                "stateLabel": str(e.get_state_display()),
                                "urgencyLabel": str(e.get_urgency_display())}} for e in rows]
    config = {**_tiles_config(request.user), "events": {"type": "FeatureCollection", "features": features},
              "detailUrl": detail, "stateColours": {str(k): v for k, v in STATE_COLOURS.items()}}
    legend = [(value, label, STATE_COLOURS.get(value, "#718096")) for value, label in EventState.choices
              if value in workflow.OPEN_STATES]
    return render(request, "cases/map.html", {"config": config, "legend": legend, "count": len(rows),
                                              "truncated": len(rows) >= MAP_LIMIT, "urgencies": Urgency.choices})


# ---- one event --------------------------------------------------------------------------------------------------

def _serialized(request, event):
    """The API's view of the event: attachments with their URLs, timeline locations and photos, masked related
    records — one place decides what is shown of them."""
    from .api.events import EventDetailSerializer

    found = (Event.objects.filter(pk=event.pk).select_related("category", "department", "routed_department")
             .prefetch_related("timeline__actor", "timeline__attachments", "attachments").first())
    return EventDetailSerializer(found, context={"request": request}).data


def _dispatch_departments(event, user):
    """Open functional departments serving the event's area, for the dispatch override list."""
    from wangge.workforce.models import Department, DepartmentKind

    today = timezone.localdate()
    departments = (Department.objects.restrict(user, VIEW_WORKFORCE)
                   .filter(kind=DepartmentKind.FUNCTIONAL)
                   .filter(Q(closed_on__isnull=True) | Q(closed_on__gt=today)).order_by("code"))
    found = [d for d in departments if event.grid_code.startswith(d.area_code)]
    if event.routed_department is not None and event.routed_department not in found:
        found.insert(0, event.routed_department)
    return found


def _action_forms(actions):
    result = []
    for action in actions:
        transition = workflow.TRANSITIONS[action]
        result.append({"action": action, "label": ACTION_LABELS.get(action, action),
                       "needs_note": transition.needs_note, "danger": action in DANGER_ACTIONS,
                       "photos": action in PHOTO_ACTIONS})
    return result


def _point_of(value):
    """(lon, lat) of a serialized GeoJSON point, or None."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    coordinates = value.get("coordinates") if isinstance(value, dict) else None
    return tuple(coordinates[:2]) if coordinates else None


def _timeline(data):
    photos = {photo["id"]: photo for photo in data.get("attachments") or []}
    entries = []
    for entry in data.get("timeline", []):
        entry = dict(entry)
        action = entry.get("action")
        entry["label"] = ACTION_LABELS.get(action, action)
        entry["at"] = parse_datetime(entry["at"]) if isinstance(entry.get("at"), str) else entry.get("at")
        entry["from_label"] = _state_label(entry.get("from_state"))
        entry["to_label"] = _state_label(entry.get("to_state"))
        entry["point"] = _point_of(entry.get("location"))
        entry["photos"] = [photos[pk] for pk in entry.get("attachments") or [] if pk in photos]
        entries.append(entry)
    return entries


def _state_label(state):
    return EventState(state).label if state in EventState.values else ""


def _event_context(request, event, *, error=None, values=None):
    user = request.user
    data = _serialized(request, event)
    actions = data.get("actions") or []  # services.available_actions, as the API answers it
    related = {name: data.get(name) or [] for name in ("related_persons", "related_buildings",
                                                        "related_organizations")}
    return {
        "event": event, "data": data, "timeline": _timeline(data), "attachments": data.get("attachments") or [],
        "actions": _action_forms(actions), "error": error, "values": values or {},
        "departments": _dispatch_departments(event, user) if "dispatch" in actions else [],
        "routed_department_id": event.routed_department_id, "satisfactions": range(1, 6),
        "state_colours": STATE_COLOURS, **related,
    }


@require_GET
@login_required
def detail(request, pk):
    event = _event_or_404(request.user, pk)
    return render(request, "cases/detail.html", _event_context(request, event))


@require_GET
@login_required
def task(request, pk):
    """One task on a phone: the case in short, its photos, big buttons for what I may do now, GPS with each."""
    event = _event_or_404(request.user, pk)
    return render(request, "cases/task.html", _event_context(request, event))


def _error_body(exc):
    """(status, message, {field: [messages]}) of a DomainError, as the API would answer it."""
    status = getattr(exc, "status_code", 400)
    return status, exc.message, {exc.field: [exc.message]} if exc.field else {}


def _form_data(request, names):
    """The posted fields the API serializer reads, as the API gets them from a multipart body: blank ones left
    out (so the serializer's defaults apply), the photos as a list of files."""
    data = QueryDict(mutable=True)
    for name in names:
        values = [value for value in request.POST.getlist(name) if value != ""]
        if values:
            data.setlist(name, values)
    photos = request.FILES.getlist("photos")
    if photos:
        data.setlist("photos", photos)
    return data


@require_POST
@login_required
def act(request, pk):
    """One action from a form: the API's input serializer, then services.do_act; back to the page on success, the
    page again with the error (400, 403 or 409 with a reload link) on failure."""
    from .api.events import EventActSerializer

    event = _event_or_404(request.user, pk)
    view = "task" if request.POST.get("view") == "task" else "detail"
    serializer = EventActSerializer(data=_form_data(request, (
        "action", "version", "note", "department", "satisfaction", "new_due", "amount", "unit", "location")))
    error = None
    if serializer.is_valid():
        values = serializer.validated_data
        try:
            services.do_act(event, actor=request.user, **values)
        except DomainError as exc:
            error = _error_body(exc)
        else:
            action = values["action"]
            messages.success(request, _("%(case)s: %(action)s done.") % {
                "case": event.case_number, "action": ACTION_LABELS.get(action, action)})
            fallback = reverse("cases:task" if view == "task" else "cases:detail", args=[event.pk])
            return redirect(_safe_next(request, fallback))
    else:
        fields = {name: [str(m) for m in msgs] for name, msgs in serializer.errors.items()}
        error = (400, _("The input is not valid."), fields)
    status, message, fields = error
    event = _event_or_404(request.user, pk)
    context = _event_context(request, event, error={"status": status, "message": message, "fields": fields,
                                                    "action": request.POST.get("action", ""),
                                                    "conflict": status == 409},
                             values=request.POST)
    return render(request, f"cases/{view}.html", context, status=status)


# ---- report -----------------------------------------------------------------------------------------------------

def _subclass_groups():
    """[(class label, [subclass, …]), …] for the category picker: event classes first, then components."""
    groups, current = [], None
    for category in Category.objects.filter(active=True).select_related("parent").order_by("kind", "code"):
        if category.parent_id is None:
            current = (f"{category.get_kind_display()} · {category.code} {category.name}", [])
            groups.append(current)
        elif current is not None:
            current[1].append(category)
    return [(label, items) for label, items in groups if items]


@require_http_methods(["GET", "POST"])
@login_required
def report(request):
    """Report an event from a phone: category, description, address, GPS (or a tap on the map), photos, urgency."""
    from .api.events import EventReportSerializer

    if not _may_report(request.user):
        raise PermissionDenied
    error = None
    if request.method == "POST":
        serializer = EventReportSerializer(data=_form_data(request, (
            "location", "category", "description", "address", "source", "urgency", "emergency")))
        if serializer.is_valid():
            try:
                event = services.do_report_event(actor=request.user, **serializer.validated_data)
            except DomainError as exc:
                error = _error_body(exc)
            else:
                messages.success(request, _("Reported as %(case)s.") % {"case": event.case_number})
                return redirect("cases:task", event.pk)
        else:
            error = (400, _("The input is not valid."),
                     {name: [str(m) for m in msgs] for name, msgs in serializer.errors.items()})
    config = {**_tiles_config(request.user), "strings": {
        "locating": _("Finding your position…"), "located": _("Position found"),
        "accuracy": _("accurate to about %(metres)s m"), "denied": _("No GPS position: tap the map where it is."),
        "picked": _("Position set on the map"), "unsupported": _("This device gives no position: tap the map."),
        "missing": _("Set the location: allow GPS or tap the map."),
    }}
    status = error[0] if error else 200
    context = {"groups": _subclass_groups(), "urgencies": Urgency.choices, "sources": EventSource.choices,
               "config": config, "values": request.POST if request.method == "POST" else {},
               "error": {"status": error[0], "message": error[1], "fields": error[2]} if error else None}
    return render(request, "cases/report.html", context, status=status)


# ---- inbox and header -------------------------------------------------------------------------------------------

@require_GET
@login_required
def inbox(request):
    rows = notifications.inbox(request.user).select_related("event")
    paginator = Paginator(rows, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "cases/inbox.html", {"page": page, "unread": notifications.unread_count(request.user)})


@require_POST
@login_required
def inbox_read(request, pk):
    """Marks one of my notifications read; `open=1` goes on to its case."""
    notification = notifications.do_mark_read(pk, user=request.user)
    if request.POST.get("open") and notification.event_id:
        return redirect("cases:detail", notification.event_id)
    return redirect(_safe_next(request, reverse("cases:inbox")))


@require_POST
@login_required
def inbox_read_all(request):
    for pk in notifications.inbox(request.user).filter(read_at__isnull=True).values_list("pk", flat=True):
        notifications.do_mark_read(pk, user=request.user)
    return redirect("cases:inbox")


@require_GET
def header(request):
    """The header's links to the event pages the user may use, and the unread count (loaded by htmx on every
    page, so pages of other apps pay no query for it)."""
    user = request.user
    if not user.is_authenticated:
        return HttpResponse("")
    from wangge.accounts.roles import VIEW_AGGREGATES

    context = {"may_view": _may_view_events(user), "may_report": _may_report(user),
               "may_kpi": bool(scope_codes(user, VIEW_AGGREGATES)), "unread": notifications.unread_count(user)}
    return render(request, "cases/_header.html", context)

