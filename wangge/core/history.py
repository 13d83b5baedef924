"""Reading the change log (written by pghistory's triggers): one object's changes, and who may read them.

Access, the same in the UI and the API:
- a scoped model (it names a `scope_field`, e.g. geo.Area): only rows in `Model.objects.restrict(user, VIEW_HISTORY)`;
- any other tracked model (accounts.User, Role, geo.Generation, …): only users who manage users (MANAGE_USERS) or
  superusers; where the model can restrict itself (users, assignments) or belongs to a user (`user` foreign key,
  e.g. an API key), the row must also be inside the manager's scope;
- the history of a deleted row: superusers only (there is no row left to check a scope against).
Everything else — unknown model, untracked model, missing row, row out of scope — is the same 404.
"""

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.http import Http404
from pghistory.models import Event, Events

from wangge.accounts.roles import MANAGE_USERS, VIEW_HISTORY

from .scope import scope_codes

LONG_VALUE = 300  # geometries and other long values are summarised, not dumped into the log view
LIMIT = 500


def _short(value):
    text = value if isinstance(value, str) else None
    if text is not None and len(text) > LONG_VALUE:
        return f"({len(text)} characters)"
    return value


def event_models_of(model):
    """The pghistory event tables recording `model`; empty when the model is not in the change log."""
    return [m for m in apps.get_models()
            if issubclass(m, Event) and getattr(m, "pgh_tracked_model", None) is model]


def is_scoped(model):
    return hasattr(model, "scope_field") and hasattr(model.objects, "restrict")


def object_for_history(user, app_label, model_name, pk):
    """The object whose history `user` may read, or Http404. A deleted row comes back unsaved (pk only)."""
    if user is None or not user.is_authenticated or not user.is_active:
        raise Http404
    try:
        model = apps.get_model(app_label, model_name)
        pk = model._meta.pk.to_python(pk)
    except (LookupError, ValidationError, ValueError) as exc:
        raise Http404 from exc
    if not event_models_of(model):
        raise Http404
    if is_scoped(model):
        obj = model.objects.restrict(user, VIEW_HISTORY).filter(pk=pk).first()
    elif user.is_superuser or scope_codes(user, MANAGE_USERS):
        obj = _unscoped_object(user, model, pk)
    else:
        obj = None
    if obj is None:
        if user.is_superuser and not model._default_manager.filter(pk=pk).exists():
            return model(pk=pk)
        raise Http404
    return obj


def _unscoped_object(user, model, pk):
    queryset = model._default_manager.all()
    if hasattr(queryset, "restrict"):
        queryset = queryset.restrict(user, MANAGE_USERS)
    else:
        try:
            owner = model._meta.get_field("user")
        except FieldDoesNotExist:
            owner = None
        if owner is not None and owner.is_relation and hasattr(owner.related_model.objects, "restrict"):
            managed = owner.related_model.objects.restrict(user, MANAGE_USERS)
            queryset = queryset.filter(user__in=managed.values("pk"))
    return queryset.filter(pk=pk).first()


def _people(user_ids):
    from wangge.accounts.models import User

    return {user.pk: user for user in User.objects.filter(pk__in=user_ids)}


def history_of(obj, limit=LIMIT):
    """Every recorded change of `obj`, oldest first: what changed (before → after), when, by whom, in which request.

    An insert lists the values the row was created with; a delete the values it had.
    """
    events = list(Events.objects.tracks(obj).order_by("pgh_created_at", "pgh_id")[:limit])
    people = _people({(e.pgh_context or {}).get("user") for e in events} - {None})
    rows = []
    for event in events:
        context = event.pgh_context or {}
        data = {key: value for key, value in (event.pgh_data or {}).items()}
        if event.pgh_label == "insert":
            changes = {field: [None, value] for field, value in data.items()}
        elif event.pgh_label == "delete":
            changes = {field: [value, None] for field, value in data.items()}
        else:
            changes = event.pgh_diff or {}
        person = people.get(context.get("user"))
        rows.append({
            "at": event.pgh_created_at,
            "label": event.pgh_label,
            "changes": {field: [_short(before), _short(after)] for field, (before, after) in changes.items()},
            "user": context.get("user"),
            "user_name": (str(person) if person is not None else None),
            "username": (person.username if person is not None else None),
            "request_id": context.get("request_id"),
            "url": context.get("url"),
            "command": context.get("command"),
            "job": context.get("job"),
        })
    return rows
