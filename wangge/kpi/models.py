"""KPIs and assessment (考核; DOMAIN.md §6, docs/kpis.md).

- Rollup: counters per (dimension, month, grid, member) — the area dimension (member 0) answers every area level by
  code prefix, the department dimension one row per department, the worker dimension one per reporting grid worker.
  A PostgreSQL trigger on the events table keeps them (migrations/0002_triggers.py): every write path, bulk and raw
  SQL included, subtracts the old row's contribution and adds the new one's. `rebuild_kpi_rollups` recomputes them.
- LateAcceptance and RepeatEvent: two per-event flags the trigger decides when their inputs change (the acceptance
  moment; the place, category or report moment) and keeps, so an event's later changes subtract exactly what was
  added. Only flagged events have a row.
- KpiParameters: the accept limit and the repeat rule (changing them rebuilds the rollups), and the working hours
  and time zone copied from the settings for the trigger.
- KpiScheme and KpiWeight: the weighted score, editable by an administrator.
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wangge.core.changelog import track_changes
from wangge.core.scope import ScopedModel, ScopedQuerySet

from . import indicators


class Dimension(models.IntegerChoices):
    AREA = 0, _("area")
    DEPARTMENT = 1, _("department")
    WORKER = 2, _("grid worker")


class RollupQuerySet(ScopedQuerySet):
    def visible_to(self, user, action, department_ids=()):
        """restrict() by the user's area scope for `action`, plus — a second, explicit rule — the department rows of
        the departments in `department_ids` (those the user is an active member of) wherever their events lie."""
        from wangge.core.scope import EVERYWHERE, scope_codes

        codes = scope_codes(user, action)
        if codes is EVERYWHERE:
            return self
        query = Q(pk__in=[])
        if codes:
            query |= self.model.scope_q(codes, action)
        if department_ids:
            query |= Q(dimension=Dimension.DEPARTMENT, member_id__in=list(department_ids))
        return self.filter(query)


def _counter(counter):
    field = models.BigIntegerField if counter.sum else models.IntegerField
    return field(counter.label, default=0)


class Rollup(ScopedModel):
    """Counters of the events reported in `month` (local time) in grid `grid_code`, for one member of a dimension:
    the area (member 0), a department (member = department id: the department the event is assigned to now) or a
    grid worker (member = the reporter's user id, events of source grid_worker only)."""

    scope_field = "grid_code"

    dimension = models.PositiveSmallIntegerField(_("dimension"), choices=Dimension.choices)
    month = models.DateField(_("month"), help_text=_("The first day of the month the events were reported in."))
    grid_code = models.CharField(_("grid"), max_length=15)
    member_id = models.BigIntegerField(_("member"), default=0)
    # One field per counter of indicators.COUNTERS (the class body's namespace is a dict: the fields land in it).
    locals().update({counter.name: _counter(counter) for counter in indicators.COUNTERS})

    objects = RollupQuerySet.as_manager()

    class Meta:
        verbose_name = _("KPI rollup")
        verbose_name_plural = _("KPI rollups")
        constraints = [models.UniqueConstraint(fields=["dimension", "month", "grid_code", "member_id"],
                                               name="kpi_rollup_key")]
        indexes = [models.Index(fields=["dimension", "month", "grid_code"], name="kpi_rollup_code_prefix",
                                opclasses=["int2_ops", "date_ops", "varchar_pattern_ops"])]

    def __str__(self):
        return f"{self.get_dimension_display()} {self.month:%Y-%m} {self.grid_code} {self.member_id}"


class LateAcceptance(models.Model):
    """An event accepted later than the accept limit (working time from report to acceptance), decided by the
    trigger when `accepted_at` is set."""

    event = models.OneToOneField("cases.Event", primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                 related_name="+")
    working_hours = models.FloatField(_("working hours to accept"))

    class Meta:
        verbose_name = _("late acceptance")
        verbose_name_plural = _("late acceptances")

    def __str__(self):
        return f"{self.event_id}: {self.working_hours:.2f} h"


class RepeatEvent(models.Model):
    """An event reported within the repeat radius of an earlier event of the same category reported in the window
    before it (docs/kpis.md); `earlier` is one such event (the first the search meets: the flag is what counts)."""

    event = models.OneToOneField("cases.Event", primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                 related_name="+")
    earlier = models.ForeignKey("cases.Event", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    distance_m = models.FloatField(_("distance (m)"))

    class Meta:
        verbose_name = _("repeat event")
        verbose_name_plural = _("repeat events")

    def __str__(self):
        return f"{self.event_id} ← {self.earlier_id}"


@track_changes()
class KpiParameters(models.Model):
    """One row (id 1). Changing the limit or the repeat rule rebuilds the rollups (services.do_update_parameters);
    the working hours and the time zone follow the settings (synced after every migrate)."""

    accept_limit_hours = models.DecimalField(
        _("accept limit (working hours)"), max_digits=5, decimal_places=2, default=Decimal(2),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal(500))],
        help_text=_("An event accepted within this much working time after it was reported counts as accepted on "
                    "time."))
    repeat_radius_m = models.PositiveIntegerField(
        _("repeat radius (m)"), default=50, validators=[MinValueValidator(1), MaxValueValidator(1000)])
    repeat_window_days = models.PositiveIntegerField(
        _("repeat window (days)"), default=90, validators=[MinValueValidator(1), MaxValueValidator(730)])
    working_hours = models.CharField(_("working hours"), max_length=200, editable=False,
                                     default="08:30-12:00,13:30-17:30")
    time_zone = models.CharField(_("time zone"), max_length=50, editable=False, default="Asia/Shanghai")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("KPI parameters")
        verbose_name_plural = _("KPI parameters")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="kpi_parameters_single_row")]

    def __str__(self):
        return str(_("KPI parameters"))


@track_changes()
class KpiScheme(models.Model):
    """A weighted score (考核方案): Σ weight × (rate, or 1 − rate) over its weights; a rate with no denominator is
    left out and the other weights scaled up to the full total."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    is_default = models.BooleanField(_("default"), default=False,
                                     help_text=_("The scheme the KPI page and API use unless another is chosen."))
    min_reports = models.PositiveIntegerField(
        _("minimum valid reports for the red and black lists"), default=5,
        help_text=_("Rows with fewer valid reports in the period are ranked but left off the red and black lists."))
    note = models.TextField(_("note"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("KPI scheme")
        verbose_name_plural = _("KPI schemes")
        ordering = ["-is_default", "name"]
        constraints = [models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True),
                                               name="kpi_one_default_scheme")]

    def __str__(self):
        return self.name

    @property
    def total(self):
        return sum((w.weight for w in self.weights.all()), Decimal(0))


class Form(models.TextChoices):
    RATE = "rate", _("the rate")
    COMPLEMENT = "complement", _("1 − the rate")


@track_changes()
class KpiWeight(models.Model):
    scheme = models.ForeignKey(KpiScheme, on_delete=models.CASCADE, related_name="weights")
    indicator = models.CharField(_("indicator"), max_length=30,
                                 choices=[(r.name, f"{r.zh} ({r.name})") for r in indicators.RATES])
    form = models.CharField(_("scored on"), max_length=10, choices=Form.choices, default=Form.RATE)
    weight = models.DecimalField(_("weight"), max_digits=6, decimal_places=2,
                                 validators=[MinValueValidator(Decimal(0))])

    class Meta:
        verbose_name = _("KPI weight")
        verbose_name_plural = _("KPI weights")
        ordering = ["scheme", "-weight", "id"]
        constraints = [models.UniqueConstraint(fields=["scheme", "indicator", "form"], name="kpi_weight_unique")]

    def __str__(self):
        rate = indicators.RATE_BY_NAME[self.indicator].zh
        return f"{rate} × {self.weight}" if self.form == Form.RATE else f"(1 − {rate}) × {self.weight}"
