"""The work calendar: the days that break the weekly rule (Monday–Friday working, Saturday and Sunday off).

Every day not listed here follows the weekly rule. A year's rows come from the State Council General Office's
notice on that year's holidays (国务院办公厅关于…部分节假日安排的通知); see docs/time-limits.md.
"""

from django.conf import settings
from django.contrib.gis.db import models as gis_models
from django.db import models
from django.utils.translation import gettext_lazy as _

from wangge.core.changelog import track_changes
from wangge.core.scope import ScopedModel, ScopedQuerySet


@track_changes()
class CalendarDay(models.Model):
    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("public holiday")
        MAKEUP_WORKDAY = "makeup_workday", _("make-up working day (调休上班)")

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=50, blank=True, help_text=_("e.g. 春节, or 国庆节 调休上班."))
    year = models.PositiveSmallIntegerField(_("year"), db_index=True, editable=False)

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")

    def __str__(self):
        return f"{self.date} {self.get_kind_display()} {self.name}".strip()

    def save(self, *args, **kwargs):
        self.year = self.date.year
        super().save(*args, **kwargs)


# ---- Events and their categories (DOMAIN.md §4) ----------------------------------------------------------------




class CategoryKind(models.TextChoices):
    EVENT = "event", _("event (事件)")
    PART = "part", _("component (部件)")


class Ownership(models.TextChoices):
    LOCALITY_FIRST = "locality_first", _("locality first (先属地后属主)")
    OWNER_FIRST = "owner_first", _("owner first (先属主后属地)")


class LimitUnit(models.TextChoices):
    HOURS = "hours", _("working hours")
    DAYS = "days", _("working days")


class Urgency(models.TextChoices):
    NORMAL = "normal", _("normal")
    URGENT = "urgent", _("urgent (加急)")
    EMERGENCY = "emergency", _("emergency (应急)")


@track_changes()
class Category(models.Model):
    """A class (2-digit code, no parent) or a subclass (4 digits: the class's 2 + its own 2) of 事件 or 部件.

    Time limits apply to subclasses: one per urgency, in `limit_unit`; the red-card limit is `red_factor` × the limit.
    """

    kind = models.CharField(_("kind"), max_length=5, choices=CategoryKind.choices)
    code = models.CharField(_("code"), max_length=4, help_text=_("2 digits for a class, 4 for a subclass."))
    name = models.CharField(_("name"), max_length=50)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    ownership = models.CharField(_("ownership rule"), max_length=15, choices=Ownership.choices)
    limit_unit = models.CharField(_("limit unit"), max_length=5, choices=LimitUnit.choices, default=LimitUnit.DAYS)
    limit_normal = models.DecimalField(_("limit (normal)"), max_digits=6, decimal_places=1, default=5)
    limit_urgent = models.DecimalField(_("limit (urgent)"), max_digits=6, decimal_places=1, default=2)
    limit_emergency = models.DecimalField(_("limit (emergency)"), max_digits=6, decimal_places=1, default=1)
    red_factor = models.DecimalField(_("red-card factor"), max_digits=4, decimal_places=2, default=2)
    limit_note = models.CharField(_("limit note"), max_length=200, blank=True,
                                  help_text=_("e.g. stop within 4 working hours, demolish within 20 working days."))
    self_handling = models.BooleanField(_("self-handling allowed (自行处置)"), default=False)
    verification_required = models.BooleanField(_("verification required"), default=True)
    skip_level_from = models.CharField(
        _("skip-level report from (越级上报)"), max_length=10, blank=True, choices=Urgency.choices,
        help_text=_("Events of this category at this urgency or above go straight to the district command centre, "
                    "skipping the community and subdistrict. Empty: never."))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["kind", "code"]
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="category_kind_code")]

    def __str__(self):
        return f"{self.code} {self.name}"

    def limit_for(self, urgency):
        """(amount, unit) of the limit for `urgency`; whole days stay whole."""
        amount = {Urgency.URGENT: self.limit_urgent, Urgency.EMERGENCY: self.limit_emergency}.get(
            urgency, self.limit_normal)
        if self.limit_unit == LimitUnit.DAYS:
            amount = int(amount)
        return amount, self.limit_unit


class EventState(models.TextChoices):
    REPORTED = "reported", _("reported (上报)")
    ACCEPTED = "accepted", _("accepted (立案)")
    VOIDED = "voided", _("voided (作废)")
    DISPATCHED = "dispatched", _("dispatched (派遣)")
    SIGNED = "signed", _("signed for (签收)")
    HANDLED = "handled", _("handled (处置)")
    FED_BACK = "fed_back", _("fed back (反馈)")
    VERIFIED = "verified", _("verified (核查)")
    CLOSED = "closed", _("closed (结案)")
    EVALUATED = "evaluated", _("evaluated (评价)")


class ClockLevel(models.TextChoices):
    ON_TIME = "on_time", _("on time")
    WARNING = "warning", _("warning (预警)")
    OVERDUE = "overdue", _("yellow card: overdue (黄牌)")
    RED = "red", _("red card (红牌)")


CLOCK_RANK = {ClockLevel.ON_TIME: 0, ClockLevel.WARNING: 1, ClockLevel.OVERDUE: 2, ClockLevel.RED: 3}


class EventSource(models.TextChoices):
    GRID_WORKER = "grid_worker", _("grid worker")
    CITIZEN = "citizen", _("citizen")
    HOTLINE = "hotline", _("12345 hotline")
    VIDEO = "video", _("video")
    DEPARTMENT = "department", _("department")
    LEADER = "leader", _("leader")
    INSPECTION = "inspection", _("inspection")


class EventQuerySet(ScopedQuerySet):
    def visible_to(self, user, action):
        """Events in the user's grid scope for `action`, plus — a second, explicit rule — the events assigned to a
        department the user is an active member of."""
        from django.db.models import Q
        from django.utils import timezone

        from wangge.core.scope import EVERYWHERE, scope_codes

        codes = scope_codes(user, action)
        if codes is EVERYWHERE:
            return self
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        today = timezone.localdate()
        query = Q(department__memberships__user=user, department__memberships__active_from__lte=today) & (
            Q(department__memberships__active_to__isnull=True) | Q(department__memberships__active_to__gt=today))
        if codes:
            query |= self.model.scope_q(codes, action)
        return self.filter(pk__in=self.model.objects.filter(query).values("pk"))


@track_changes()
class Event(ScopedModel):
    """A case (案卷) in the closed loop; its state changes only through services.do_act."""

    scope_field = "grid_code"

    case_number = models.CharField(_("case number"), max_length=30, unique=True, editable=False)
    district_code = models.CharField(_("district"), max_length=6, editable=False)
    grid_code = models.CharField(_("grid"), max_length=15, editable=False)
    source = models.CharField(_("source"), max_length=12, choices=EventSource.choices,
                              default=EventSource.GRID_WORKER)
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reported_events")
    location = gis_models.PointField(_("location"), srid=4326)
    address = models.CharField(_("address"), max_length=200, blank=True)
    description = models.TextField(_("description"))
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="cases")
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    emergency = models.BooleanField(_("emergency"), default=False)
    state = models.CharField(_("state"), max_length=10, choices=EventState.choices, default=EventState.REPORTED)
    version = models.PositiveIntegerField(_("version"), default=1)
    department = models.ForeignKey("workforce.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="cases")
    dispatcher = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="dispatched_events")
    handler = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="handled_events")
    verifier = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="verified_events")
    rework_count = models.PositiveSmallIntegerField(_("rework count"), default=0)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    clock_level = models.CharField(_("clock level"), max_length=8, choices=ClockLevel.choices,
                                   default=ClockLevel.ON_TIME, help_text=_(
                                       "Raised by the clock job (warning, yellow card, red card); never lowered "
                                       "by it. Reset on dispatch and recomputed when an extension is approved."))
    carded_at = models.DateTimeField(_("level reached at"), null=True, blank=True)
    extension_due_at = models.DateTimeField(_("extension requested until"), null=True, blank=True,
                                            help_text=_("A pending extension request (延期): the due moment asked."))
    extension_requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                               on_delete=models.PROTECT, related_name="+")
    extension_count = models.PositiveSmallIntegerField(_("approved extensions"), default=0)
    return_count = models.PositiveSmallIntegerField(_("returns (回退)"), default=0)
    paused_at = models.DateTimeField(_("waiting for the citizen since"), null=True, blank=True, help_text=_(
        "The clock stops while the case waits for the citizen; on resuming, the due moment moves on by the "
        "working time paused."))
    holder_code = models.CharField(
        _("held at"), max_length=15, editable=False, default="",
        help_text=_("The area whose command centre holds the case: the grid's community, its subdistrict or the "
                    "district (escalation, 越级上报). Only a dispatcher whose scope covers it may act."))
    routed_department = models.ForeignKey(
        "workforce.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("routed to"), help_text=_("The department the ownership table names; dispatch uses it unless "
                                                 "the command centre overrides it."))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    related_persons = models.ManyToManyField("registry.Person", blank=True, related_name="cases",
                                             verbose_name=_("related persons"))
    related_buildings = models.ManyToManyField("registry.Building", blank=True, related_name="cases",
                                               verbose_name=_("related buildings"))
    related_organizations = models.ManyToManyField("registry.Organization", blank=True, related_name="cases",
                                                   verbose_name=_("related organizations"))
    created_at = models.DateTimeField(_("reported at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["grid_code"], name="event_grid_prefix", opclasses=["varchar_pattern_ops"]),
                   models.Index(fields=["state", "due_at"], name="event_state_due")]

    def __str__(self):
        return self.case_number


class EventTimeline(models.Model):
    """One row per action: who, when, what, from which state to which, and why."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="timeline")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", help_text=_("Empty for the system (the clock job)."))
    at = models.DateTimeField(_("at"), auto_now_add=True)
    action = models.CharField(_("action"), max_length=20)
    from_state = models.CharField(_("from state"), max_length=10, blank=True)
    to_state = models.CharField(_("to state"), max_length=10)
    note = models.TextField(_("note"), blank=True)
    location = gis_models.PointField(_("where"), srid=4326, null=True, blank=True,
                                     help_text=_("Where the actor stood (the phone's GPS), if given."))

    class Meta:
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.event_id} {self.action}: {self.from_state} → {self.to_state}"


def attachment_path(attachment, filename):
    """Files are stored under a random name: the uploaded name (kept in `name`) may carry a person's name."""
    import uuid

    return f"events/{attachment.event_id}/{uuid.uuid4().hex}.{attachment.extension}"


class EventAttachment(models.Model):
    """A photo or document added to an event, with the action it came with. Served only through the events API, to
    those who may see the event."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attachments")
    timeline = models.ForeignKey(EventTimeline, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="attachments")
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=200)
    name = models.CharField(_("name"), max_length=200)
    extension = models.CharField(max_length=5)
    content_type = models.CharField(_("content type"), max_length=50)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["uploaded_at", "id"]

    def __str__(self):
        return f"{self.event_id}: {self.name}"


class RoutingRole(models.TextChoices):
    OWNER = "owner", _("owner (属主)")
    LOCALITY = "locality", _("locality (属地)")
    EMERGENCY = "emergency", _("emergency responder (应急)")


@track_changes()
class RoutingRule(ScopedModel):
    """One row of the ownership table: in `area_code` (any level; the most specific wins), events of `category` (a
    subclass, or a whole class) belong to `department` as owner (属主) or locality (属地), or call it as an emergency
    responder. Which of owner and locality comes first is the category's ownership rule."""

    scope_field = "area_code"

    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="routing_rules")
    area_code = models.CharField(_("area"), max_length=15)
    role = models.CharField(_("role"), max_length=10, choices=RoutingRole.choices)
    department = models.ForeignKey("workforce.Department", on_delete=models.PROTECT, related_name="routing_rules")
    active = models.BooleanField(_("active"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["category__code", "area_code", "role"]
        constraints = [models.UniqueConstraint(fields=["category", "area_code", "role", "department"],
                                               name="routing_rule_unique")]

    def __str__(self):
        return f"{self.category.code} {self.area_code} {self.role}: {self.department_id}"


class CaseSequence(models.Model):
    """The last case number handed out per district and day (race-safe through INSERT … ON CONFLICT)."""

    district_code = models.CharField(max_length=6)
    day = models.DateField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["district_code", "day"], name="case_sequence_district_day")]

    def __str__(self):
        return f"{self.district_code} {self.day}: {self.last}"


class Notification(models.Model):
    """An in-app inbox entry. Title and body name the case and what happened, never a person's data."""

    class Kind(models.TextChoices):
        WARNING = "warning", _("clock warning")
        YELLOW_CARD = "yellow_card", _("yellow card")
        RED_CARD = "red_card", _("red card")
        EXTENSION = "extension", _("extension")
        ASSIGNED = "assigned", _("assigned to your department")
        RETURNED = "returned", _("returned")
        EMERGENCY = "emergency", _("emergency")
        INSTRUCTION = "instruction", _("leader's instruction")
        SUPERVISION = "supervision", _("supervision notice")
        ESCALATED = "escalated", _("escalated")
        OTHER = "other", _("other")

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.OTHER)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_recipient_read")]

    def __str__(self):
        return f"{self.recipient_id}: {self.title}"
