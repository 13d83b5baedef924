"""Writes with rules: the KPI parameters (a change rebuilds the rollups in the same transaction) and the seeding
after every migrate (the parameters row, its working hours and time zone from the settings, the default scheme)."""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connections, transaction
from django.utils.translation import gettext as _

from wangge.core.errors import DomainError

from . import rollups
from .models import KpiParameters

REBUILDING_FIELDS = ("accept_limit_hours", "repeat_radius_m", "repeat_window_days", "working_hours", "time_zone")


def settings_working_hours():
    from wangge.cases import calendar

    return ",".join(calendar.working_hours_text())


def parameters():
    return KpiParameters.objects.get_or_create(pk=1, defaults={
        "working_hours": settings_working_hours(), "time_zone": settings.TIME_ZONE})[0]


def _decimal(value, field, low, high):
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise DomainError(_("Give a number."), field=field) from exc
    if not number.is_finite() or not low <= number <= high:
        raise DomainError(_("Give a number from %(low)s to %(high)s.") % {"low": low, "high": high}, field=field)
    return number


@transaction.atomic
def do_update_parameters(*, actor, accept_limit_hours=None, repeat_radius_m=None, repeat_window_days=None):
    """Changes the accept limit or the repeat rule (administrators only) and rebuilds the rollups, so every past
    event is judged by the new rule; returns the parameters."""
    if not actor.is_superuser:
        raise DomainError(_("Only an administrator may change the KPI parameters."), code="forbidden")
    row = KpiParameters.objects.select_for_update().get(pk=parameters().pk)
    if accept_limit_hours is not None:
        row.accept_limit_hours = _decimal(accept_limit_hours, "accept_limit_hours", Decimal("0.01"), Decimal(500))
    if repeat_radius_m is not None:
        row.repeat_radius_m = int(_decimal(repeat_radius_m, "repeat_radius_m", 1, 1000))
    if repeat_window_days is not None:
        row.repeat_window_days = int(_decimal(repeat_window_days, "repeat_window_days", 1, 730))
    row.save()
    rollups.rebuild()
    return row


def sync_parameters(using="default"):
    """Copies the working hours and the time zone from the settings into the parameters row; when they changed,
    the rollups are rebuilt (the flags depend on them). Returns True when it rebuilt."""
    with transaction.atomic(using=using):
        row, created = KpiParameters.objects.using(using).select_for_update().get_or_create(pk=1, defaults={
            "working_hours": settings_working_hours(), "time_zone": settings.TIME_ZONE})
        if created or (row.working_hours, row.time_zone) == (settings_working_hours(), settings.TIME_ZONE):
            return False
        row.working_hours, row.time_zone = settings_working_hours(), settings.TIME_ZONE
        row.save(update_fields=["working_hours", "time_zone", "updated_at"])
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT to_regprocedure('kpi_rebuild()') IS NOT NULL")
            if not cursor.fetchone()[0]:  # migrated only part of the way: the next full migrate rebuilds
                return False
            cursor.execute("SELECT kpi_rebuild()")
        return True


def after_migrate(using="default", **kwargs):
    """post_migrate: the parameters row in step with the settings, and the default scheme when there is none."""
    from .models import KpiScheme
    from .scoring import seed_default_scheme

    tables = connections[using].introspection.table_names()
    if KpiParameters._meta.db_table not in tables or KpiScheme._meta.db_table not in tables:
        return
    sync_parameters(using)
    seed_default_scheme(using)
