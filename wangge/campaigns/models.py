"""Door-to-door screening (摸排, issue 5; DOMAIN.md §7 and §10): campaigns, their forms, visits to households,
the coverage ledger, daily reports and lists pushed from other systems to verify.

Personal answers (health, whereabouts: sensitive under PIPL Art. 28) are stored encrypted as a whole per visit
(`answers_enc`, core/pii.py); what the ledgers and statistics need is kept beside them as counts, which hold no
personal data and survive the purge. Every row that belongs to a grid carries its 15-digit `grid_code`, the scope
spine for restrict().
"""

from django.conf import settings
from django.contrib.gis.db import models as gis_models
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from wangge.core.changelog import track_changes
from wangge.core.scope import ScopedModel, ScopedQuerySet


class Form(models.Model):
    """A form (一张表格) by its code; its content lives in versions, so answers keep the version they were given
    under."""

    code = models.SlugField(_("code"), max_length=50, unique=True, help_text=_("Also the XForm's form id."))
    title = models.CharField(_("title"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("form")
        verbose_name_plural = _("forms")
        ordering = ["code"]

    def __str__(self):
        return self.title


class FormVersion(models.Model):
    """One immutable version of a form: its fields as data (campaigns/forms.py describes the shape), the XLSForm it
    came from (if uploaded) and the XForm served to ODK Collect / Enketo."""

    form = models.ForeignKey(Form, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    definition = models.JSONField(_("definition"))
    xlsform = models.BinaryField(_("XLSForm"), null=True, blank=True, editable=False)
    xform = models.TextField(_("XForm"), blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("form version")
        verbose_name_plural = _("form versions")
        ordering = ["form", "number"]
        constraints = [models.UniqueConstraint(fields=["form", "number"], name="form_version_number")]

    def __str__(self):
        return f"{self.form.code} v{self.number}"


class CampaignState(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("campaign state", "draft")
    RUNNING = "running", pgettext_lazy("campaign state", "running")
    CLOSED = "closed", pgettext_lazy("campaign state", "closed")
    PURGED = "purged", pgettext_lazy("campaign state", "purged")


class TargetKind(models.TextChoices):
    AREAS = "areas", _("all households in the chosen areas")
    LIST = "list", _("a pushed list")


class CampaignQuerySet(ScopedQuerySet):
    def visible_to(self, user, action):
        """Campaigns whose target areas overlap the user's scope for `action` (a campaign of the whole district is
        seen by a community's worker, for their community's part of it)."""
        from wangge.core.scope import EVERYWHERE, scope_codes

        codes = scope_codes(user, action)
        if codes is EVERYWHERE:
            return self
        if not codes:
            return self.none()
        query = Q(pk__in=[])
        for code in codes:
            ancestors = [code[:n] for n in (6, 9, 12, 15) if n <= len(code)]
            # a target area inside the user's area, or the user's area inside a target area
            query |= Q(target_codes__overlap=ancestors) | Q(scope_prefixes__contains=[code])
        return self.filter(query)


@track_changes()
class Campaign(ScopedModel):
    """A screening campaign: what it is for and under which law (shown to every worker and on every page a resident
    sees), its form, its target, its period and daily deadline, how long its personal answers are kept."""

    scope_field = "area_code"

    name = models.CharField(_("name"), max_length=200)
    purpose = models.TextField(_("purpose"))
    legal_basis = models.TextField(_("legal basis"))
    area_code = models.CharField(_("organised by (area)"), max_length=15,
                                 help_text=_("The area whose staff run the campaign (district or subdistrict)."))
    district_code = models.CharField(max_length=6, editable=False)
    form_version = models.ForeignKey(FormVersion, on_delete=models.PROTECT, related_name="campaigns",
                                     verbose_name=_("form version"))
    target_kind = models.CharField(_("target"), max_length=5, choices=TargetKind.choices, default=TargetKind.AREAS)
    target_codes = ArrayField(models.CharField(max_length=15), verbose_name=_("target areas"), default=list,
                              help_text=_("The areas (any level) whose households are screened."))
    # Every prefix of every target code: lets restrict() find campaigns touching a user's area with one index.
    scope_prefixes = ArrayField(models.CharField(max_length=15), default=list, editable=False)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    daily_deadline = models.TimeField(_("daily reporting deadline"), default="08:00")
    retention_days = models.PositiveIntegerField(_("retention (days)"), default=30, help_text=_(
        "Days after closing before personal answers are purged; the aggregate statistics stay."))
    state = models.CharField(_("state"), max_length=8, choices=CampaignState.choices, default=CampaignState.DRAFT)
    current_round = models.PositiveSmallIntegerField(_("current round"), default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    purge_due_on = models.DateField(_("purge due on"), null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.name


class CampaignRound(models.Model):
    """A round of screening (re-screening when risk areas change overnight): it resets coverage with its own
    deadline; the previous rounds' results stay."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveSmallIntegerField(_("round"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    deadline = models.DateTimeField(_("results due"), null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("round")
        verbose_name_plural = _("rounds")
        ordering = ["campaign", "number"]
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="campaign_round_number")]

    def __str__(self):
        return f"{self.campaign_id} #{self.number}"


class WorkerRole(models.TextChoices):
    GRID_WORKER = "grid_worker", _("grid worker")
    VOLUNTEER = "volunteer", _("volunteer")


class CampaignWorker(ScopedModel):
    """A worker or volunteer assigned to visit a grid's households in a campaign (from the work team)."""

    scope_field = "grid_code"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="workers")
    grid_code = models.CharField(_("grid"), max_length=15)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="campaign_grids")
    role = models.CharField(_("role"), max_length=12, choices=WorkerRole.choices, default=WorkerRole.GRID_WORKER)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign worker")
        verbose_name_plural = _("campaign workers")
        constraints = [models.UniqueConstraint(fields=["campaign", "grid_code", "user"], name="campaign_worker_once")]
        indexes = [models.Index(fields=["user", "campaign"], name="campaign_worker_user")]

    def __str__(self):
        return f"{self.user_id} @ {self.grid_code}"


class VisitStatus(models.TextChoices):
    VISITED = "visited", pgettext_lazy("visit result", "visited")
    ABSENT = "absent", pgettext_lazy("visit result", "absent")
    REFUSED = "refused", pgettext_lazy("visit result", "refused")
    MOVED_OUT = "moved_out", pgettext_lazy("visit result", "moved out")
    REVISIT = "revisit", _("revisit scheduled")


class VisitSource(models.TextChoices):
    PAGE = "page", _("phone page")
    API = "api", _("API")
    OPENROSA = "openrosa", _("ODK Collect / Enketo (OpenRosa)")


class Visit(ScopedModel):
    """One call at one household (or one pushed-list row) in one round: who, when, where, with what result.

    A household may be called on several times in a round (absent, then visited); its standing in the ledger is
    its latest visit (HouseholdScreening). `instance_id` makes a resubmission of the same form instance idempotent.
    """

    scope_field = "grid_code"

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="visits")
    round = models.PositiveSmallIntegerField(_("round"))
    household = models.ForeignKey("registry.Household", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="visits")
    pushed_row = models.ForeignKey("PushedRow", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="visits")
    grid_code = models.CharField(_("grid"), max_length=15)
    district_code = models.CharField(max_length=6, editable=False)
    status = models.CharField(_("result"), max_length=10, choices=VisitStatus.choices)
    revisit_at = models.DateTimeField(_("revisit at"), null=True, blank=True)
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="visits")
    visited_at = models.DateTimeField(_("visited at"))
    location = gis_models.PointField(_("where"), srid=4326, null=True, blank=True)
    inside_grid = models.BooleanField(_("inside the household's grid"), null=True)
    form_version = models.ForeignKey(FormVersion, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="visits")
    answers_enc = models.TextField(editable=False, blank=True)  # AES-GCM of the answers' JSON; empty once purged
    members = models.PositiveSmallIntegerField(_("members screened"), default=0)
    # Counts for the statistics tables (no personal data; kept after the purge), from the form's `stat` tags.
    stats = models.JSONField(_("counts"), default=dict, blank=True)
    flags = ArrayField(models.CharField(max_length=50), default=list, blank=True, verbose_name=_("flags"))
    instance_id = models.CharField(_("instance id"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=VisitSource.choices, default=VisitSource.PAGE)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["-visited_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["campaign", "instance_id"], condition=~Q(instance_id=""),
                                               name="visit_instance_once")]
        indexes = [models.Index(fields=["campaign", "round", "grid_code"], name="visit_campaign_round_grid"),
                   models.Index(fields=["household"], name="visit_household"),
                   # a day's visits (daily reports, the statistics table's cut-off day)
                   models.Index(fields=["campaign", "round", "visited_at"], name="visit_campaign_round_time"),
                   # the ledger's 位置清: the few visits not placed inside their grid (outside, or no GPS fix),
                   # read from the index alone
                   models.Index(fields=["campaign", "round"], name="visit_place_unconfirmed",
                                include=["id", "grid_code", "inside_grid"],
                                condition=Q(inside_grid=False) | Q(inside_grid__isnull=True))]

    def __str__(self):
        return f"{self.campaign_id}/{self.round} {self.household_id}: {self.status}"


class VisitMember(models.Model):
    """One household member screened in a visit, matched to a registry person by ID number (blind index) when
    possible. The name and answers are in the visit's sealed answers; this row holds the match only."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="member_rows")
    index = models.PositiveSmallIntegerField()
    person = models.ForeignKey("registry.Person", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="screenings")
    id_number_index = models.CharField(max_length=64, blank=True)
    flagged = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("screened member")
        verbose_name_plural = _("screened members")
        constraints = [models.UniqueConstraint(fields=["visit", "index"], name="visit_member_index")]

    def __str__(self):
        return f"{self.visit_id}[{self.index}]"


class ProposalState(models.TextChoices):
    PENDING = "pending", _("pending review")
    ACCEPTED = "accepted", _("accepted into the registry")
    REJECTED = "rejected", _("rejected")


class PersonProposal(ScopedModel):
    """A member screened at the door who is not in the registry: proposed for review by the community's staff,
    never written into the registry blindly."""

    scope_field = "grid_code"

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="proposals")
    household = models.ForeignKey("registry.Household", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    grid_code = models.CharField(_("grid"), max_length=15)
    name = models.CharField(_("name"), max_length=50)
    id_number_enc = models.TextField(blank=True, editable=False)
    id_number_index = models.CharField(max_length=64, blank=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=18, blank=True, editable=False)
    phone_enc = models.TextField(blank=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True, editable=False)
    state = models.CharField(_("state"), max_length=8, choices=ProposalState.choices, default=ProposalState.PENDING)
    person = models.ForeignKey("registry.Person", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", help_text=_("The registry person created or chosen on review."))
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(_("review note"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("person proposal")
        verbose_name_plural = _("person proposals")
        indexes = [models.Index(fields=["grid_code"], name="proposal_grid", opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return self.name


class HouseholdScreening(ScopedModel):
    """A household's standing in a round: its latest visit's result (the ledger counts these)."""

    scope_field = "grid_code"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="standings")
    round = models.PositiveSmallIntegerField()
    household = models.ForeignKey("registry.Household", on_delete=models.CASCADE, related_name="+")
    grid_code = models.CharField(max_length=15)
    status = models.CharField(max_length=10, choices=VisitStatus.choices)
    revisit_at = models.DateTimeField(null=True, blank=True)
    last_visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="+")
    members = models.PositiveSmallIntegerField(default=0)
    flagged_members = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "round", "household"],
                                               name="household_screening_once")]
        indexes = [models.Index(fields=["campaign", "round", "grid_code"], name="standing_campaign_round_grid"),
                   # the ledger's revisits due: the standing revisits only, read from the index alone
                   models.Index(fields=["campaign", "round", "revisit_at"], name="standing_revisit",
                                include=["grid_code"], condition=Q(status="revisit"))]

    def __str__(self):
        return f"{self.campaign_id}/{self.round} {self.household_id}: {self.status}"


class CoverageCount(ScopedModel):
    """The coverage ledger per grid per round, maintained incrementally by the visit service (one row updated per
    visit), so the ledger answers from ~3,000 rows instead of grouping hundreds of thousands of visits.
    `registered` is the grid's households when the round started; pending = registered − the other counts."""

    scope_field = "grid_code"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="coverage")
    round = models.PositiveSmallIntegerField()
    grid_code = models.CharField(max_length=15)
    registered = models.PositiveIntegerField(default=0)
    # The grid's registered persons (normal status) when the round opened, for 人头清; None: not counted then (the
    # ledger counts the registry as it is now).
    registered_persons = models.PositiveIntegerField(null=True, blank=True)
    visited = models.PositiveIntegerField(default=0)
    absent = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    moved_out = models.PositiveIntegerField(default=0)
    revisit = models.PositiveIntegerField(default=0)
    members = models.PositiveIntegerField(_("persons screened"), default=0)
    flagged_members = models.PositiveIntegerField(_("flagged persons"), default=0)
    stats = models.JSONField(default=dict, blank=True)  # the statistics tables' counts, summed

    objects = ScopedQuerySet.as_manager()

    class Meta:
        # The unique index serves the ledger: one campaign's round is a few thousand rows, read whole.
        constraints = [models.UniqueConstraint(fields=["campaign", "round", "grid_code"], name="coverage_once")]

    def __str__(self):
        return f"{self.campaign_id}/{self.round} {self.grid_code}"


class FlagOperator(models.TextChoices):
    EQUALS = "eq", _("equals")
    NOT_EQUALS = "ne", _("does not equal")
    AT_LEAST = "gte", _("at least")
    AT_MOST = "lte", _("at most")
    ANY_OF = "in", _("is one of")
    SELECTED = "selected", _("has selected any of")


class FlagRule(models.Model):
    """A rule on answers (fever → urgent; visited a listed risk area → follow up): a flagged member raises an event
    through the events service, routed and timed like any other, and the grid's chain hears of it."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="flag_rules")
    code = models.SlugField(_("flag"), max_length=50)
    label = models.CharField(_("label"), max_length=100)
    field = models.CharField(_("field"), max_length=100, help_text=_("A field name (inside the member group for "
                                                                    "per-member questions)."))
    operator = models.CharField(_("operator"), max_length=8, choices=FlagOperator.choices)
    value = models.JSONField(_("value"))
    category = models.ForeignKey("cases.Category", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", help_text=_("The event category; empty: flag only, no event."))
    urgency = models.CharField(_("urgency"), max_length=10, default="normal")
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("flag rule")
        verbose_name_plural = _("flag rules")
        constraints = [models.UniqueConstraint(fields=["campaign", "code"], name="flag_rule_code")]

    def __str__(self):
        return self.label


class FlagHit(models.Model):
    """A flag raised by a visit (per member where the field is a member's), and the event it opened."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="flag_hits")
    rule = models.ForeignKey(FlagRule, on_delete=models.PROTECT, related_name="hits")
    member_index = models.PositiveSmallIntegerField(null=True, blank=True)
    event = models.ForeignKey("cases.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("flag")
        verbose_name_plural = _("flags")

    def __str__(self):
        return f"{self.visit_id}: {self.rule_id}"


class DailyReport(ScopedModel):
    """A grid's daily report in a campaign, due by the campaign's deadline; a zero report says explicitly that
    there was nothing to report."""

    scope_field = "grid_code"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="daily_reports")
    grid_code = models.CharField(_("grid"), max_length=15)
    day = models.DateField(_("day"))
    zero = models.BooleanField(_("zero report"), default=False)
    visited = models.PositiveIntegerField(_("households visited"), default=0)
    flagged_members = models.PositiveIntegerField(_("flagged persons"), default=0)
    note = models.TextField(_("note"), blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(auto_now_add=True)
    late = models.BooleanField(_("late"), default=False)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("daily report")
        verbose_name_plural = _("daily reports")
        constraints = [models.UniqueConstraint(fields=["campaign", "grid_code", "day"], name="daily_report_once")]

    def __str__(self):
        return f"{self.campaign_id} {self.grid_code} {self.day}"


class MissingReportNotice(models.Model):
    """The reminders sent for one day's missing daily reports of a campaign (campaigns/reports.py): one row per
    campaign and day, so the periodic job tells the grids once."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="missing_report_notices")
    day = models.DateField(_("day"))
    grids = models.PositiveIntegerField(_("grids missing"), default=0)
    recipients = models.PositiveIntegerField(_("users notified"), default=0)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("missing-report notice")
        verbose_name_plural = _("missing-report notices")
        constraints = [models.UniqueConstraint(fields=["campaign", "day"], name="missing_report_notice_once")]

    def __str__(self):
        return f"{self.campaign_id} {self.day}"


@track_changes()
class PushedList(ScopedModel):
    """A list of persons pushed from another system (public security, big data) for the grids to verify (核查)."""

    scope_field = "area_code"

    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.PROTECT, related_name="lists")
    name = models.CharField(_("name"), max_length=200)
    source = models.CharField(_("source"), max_length=100, help_text=_("The pushing system, e.g. 公安 or 大数据局."))
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    area_code = models.CharField(_("area"), max_length=15)
    deadline = models.DateTimeField(_("results due"))
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(auto_now_add=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_matched = models.PositiveIntegerField(default=0)
    # [[key, header], …] in the incoming order (keys: row_id, name, id_number, phone, address): the results go
    # back under the same headers (or JSON keys), so the pushing system can take them in.
    columns = models.JSONField(default=list, blank=True, editable=False)
    purged_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("pushed list")
        verbose_name_plural = _("pushed lists")
        ordering = ["-imported_at", "-id"]

    def __str__(self):
        return self.name


class MatchMethod(models.TextChoices):
    ID_NUMBER = "id_number", _("by ID number")
    ADDRESS = "address", _("by address")
    NONE = "none", _("unmatched")


class ClaimState(models.TextChoices):
    UNCLAIMED = "unclaimed", _("not claimed (未认领)")
    CLAIMED = "claimed", _("claimed (已认领)")
    DECLINED = "declined", _("cannot claim (不可认领)")


class DeclineReason(models.TextChoices):
    DUPLICATE = "duplicate", _("duplicate data (数据重复)")
    ID_EXISTS = "id_exists", _("ID number already registered (身份证号已存在)")
    CANCELLED = "cancelled", _("registration cancelled (已注销)")
    DECEASED = "deceased", _("deceased (已死亡)")
    NOT_FOUND = "not_found", _("no such person (查无此人)")
    NOT_HERE = "not_here", _("not in this grid")


class RowResult(models.TextChoices):
    PENDING = "pending", pgettext_lazy("pushed row result", "pending")
    VERIFIED = "verified", _("verified at the door")
    NOT_FOUND = "not_found", _("not found at the address")
    MOVED = "moved", _("moved away")


class PushedRow(ScopedModel):
    """One row of a pushed list: the incoming row id (the results go back under it), the person's numbers sealed
    like the registry's, the match, the grid's claim and the result of the visit."""

    scope_field = "grid_code"

    pushed_list = models.ForeignKey(PushedList, on_delete=models.CASCADE, related_name="rows")
    row_id = models.CharField(_("row id"), max_length=64)
    name = models.CharField(_("name"), max_length=50, blank=True)
    id_number_enc = models.TextField(blank=True, editable=False)
    id_number_index = models.CharField(max_length=64, blank=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=18, blank=True, editable=False)
    phone_enc = models.TextField(blank=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True, editable=False)
    address = models.CharField(_("address"), max_length=200, blank=True)
    person = models.ForeignKey("registry.Person", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    # The household to call on: the matched person's, or the one living at the matched house (when only one does).
    household = models.ForeignKey("registry.Household", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    grid_code = models.CharField(_("grid"), max_length=15, blank=True)
    match = models.CharField(_("match"), max_length=10, choices=MatchMethod.choices, default=MatchMethod.NONE)
    claim = models.CharField(_("claim"), max_length=10, choices=ClaimState.choices, default=ClaimState.UNCLAIMED)
    decline_reason = models.CharField(_("reason"), max_length=10, choices=DeclineReason.choices, blank=True)
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    claimed_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(_("result"), max_length=10, choices=RowResult.choices, default=RowResult.PENDING)
    result_note = models.CharField(_("result note"), max_length=500, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("pushed row")
        verbose_name_plural = _("pushed rows")
        constraints = [models.UniqueConstraint(fields=["pushed_list", "row_id"], name="pushed_row_once")]
        indexes = [models.Index(fields=["grid_code"], name="pushed_row_grid", opclasses=["varchar_pattern_ops"]),
                   models.Index(fields=["pushed_list", "claim"], name="pushed_row_claim")]

    def __str__(self):
        return f"{self.pushed_list_id}:{self.row_id}"


class AnswerReveal(models.Model):
    """One row per reading of a visit's personal answers (who, which visit, why, when, in which request); users
    cannot change it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    visit = models.ForeignKey(Visit, null=True, on_delete=models.SET_NULL, related_name="+")
    pushed_row = models.ForeignKey(PushedRow, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=200)
    request_id = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("answer reveal")
        verbose_name_plural = _("answer reveals")

    def __str__(self):
        return f"{self.user_id} {self.at:%Y-%m-%d %H:%M}"
