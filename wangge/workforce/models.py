"""The work team (一支工作队伍; issue 4 §1): departments and their handlers, the posts bound to grids and areas, and
the volunteers sent down for a period.

Every row is scoped by an area code prefix (restrict()). History is kept: ending a post, a membership or a
volunteer period sets its end date; nothing is deleted. Periods are half-open — a row is active on day `d` when
`started_on <= d` and (`ended_on` is empty or `d < ended_on`) — so a post ended today no longer counts today.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wangge.accounts.models import area_code_validator
from wangge.accounts.roles import VIEW_WORKFORCE
from wangge.core.changelog import track_changes
from wangge.core.scope import ScopedModel, ScopedQuerySet
from wangge.geo.codes import ancestor_codes


class PeriodQuerySet(ScopedQuerySet):
    start_field = "started_on"
    end_field = "ended_on"

    def active_on(self, day=None):
        day = day or timezone.localdate()
        return self.filter(Q(**{f"{self.start_field}__lte": day})
                           & (Q(**{f"{self.end_field}__isnull": True}) | Q(**{f"{self.end_field}__gt": day})))


class MembershipQuerySet(PeriodQuerySet):
    start_field = "active_from"
    end_field = "active_to"

    def departments_of(self, user, day=None):
        """Ids of the departments `user` is an active member of on `day` (today): whose cases and figures they see."""
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return []
        return list(self.active_on(day).filter(user=user).values_list("department_id", flat=True).distinct())


class VisibleFromBelow(ScopedModel):
    """Departments serve an area (usually the whole district): a user who may view the work team anywhere inside
    that area sees them too, so a community worker knows the district's departments. Managing stays inside the
    subtree."""

    class Meta:
        abstract = True

    @classmethod
    def scope_q(cls, codes, action=None):
        query = super().scope_q(codes, action)
        if action == VIEW_WORKFORCE:
            ancestors = {ancestor for code in codes for ancestor in ancestor_codes(code)}
            if ancestors:
                query |= Q(**{f"{cls.scope_field}__in": sorted(ancestors)})
        return query


class DepartmentKind(models.TextChoices):
    FUNCTIONAL = "functional", _("functional department (职能部门)")
    COMMAND = "command", _("command centre (指挥中心)")
    SUPERVISION = "supervision", _("supervision centre (监督中心)")


@track_changes()
class Department(VisibleFromBelow):
    """A functional department, or the command or supervision centre, serving an area (usually the district)."""

    scope_field = "area_code"

    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=30, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=DepartmentKind.choices,
                            default=DepartmentKind.FUNCTIONAL)
    area_code = models.CharField(_("area served"), max_length=15, validators=[area_code_validator])
    contact = models.CharField(_("contact"), max_length=100, blank=True,
                               help_text=_("The office's contact (duty phone, office address), not a person's."))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]
        indexes = [models.Index(fields=["area_code"], name="department_area_prefix",
                                opclasses=["varchar_pattern_ops"])]

    def __str__(self):
        return self.name


class MembershipRole(models.TextChoices):
    HEAD = "head", _("head (负责人)")
    HANDLER = "handler", _("handler (处置人员)")
    DISPATCHER = "dispatcher", _("dispatcher (派遣员)")
    SUPERVISOR = "supervisor", _("supervisor (督查员)")
    LIAISON = "liaison", _("liaison (联络员)")


@track_changes()
class DepartmentMembership(VisibleFromBelow):
    """A user handling a department's work for a period."""

    scope_field = "department__area_code"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(_("role in the department"), max_length=12, choices=MembershipRole.choices,
                            default=MembershipRole.HANDLER)
    active_from = models.DateField(_("active from"))
    active_to = models.DateField(_("active to"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("department membership")
        verbose_name_plural = _("department memberships")
        constraints = [models.CheckConstraint(condition=Q(active_to__isnull=True) | Q(active_to__gte=F("active_from")),
                                              name="membership_period_order")]

    def __str__(self):
        return f"{self.user} @ {self.department}"


class PostKind(models.TextChoices):
    GRID_CHIEF = "grid_chief", _("grid chief (网格长)")
    FULL_TIME = "full_time", _("full-time grid worker (专职网格员)")
    PART_TIME = "part_time", _("part-time grid worker (兼职网格员)")
    INSTRUCTOR = "instructor", _("grid instructor (网格指导员)")
    LEADER = "leader", _("leader assignment (包挂领导)")


GRID_KINDS = (PostKind.GRID_CHIEF, PostKind.FULL_TIME, PostKind.PART_TIME)  # bound to one terminal grid
WORKER_KINDS = (PostKind.FULL_TIME, PostKind.PART_TIME)


@track_changes()
class GridPost(ScopedModel):
    """A post bound to an area: grid chiefs and workers to a terminal grid, instructors and leaders to an area of
    any level (a leader may also be assigned to a project there). The holder is a registry person and/or a user
    account; `holder_name` keeps the name shown on rosters either way. One person may hold several posts."""

    scope_field = "grid_code"

    kind = models.CharField(_("kind"), max_length=12, choices=PostKind.choices)
    grid_code = models.CharField(_("area code"), max_length=15, validators=[area_code_validator],
                                 help_text=_("15 digits for grid posts; any level for instructors and leaders."))
    holder_person = models.ForeignKey("registry.Person", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="posts", verbose_name=_("holder (person)"))
    holder_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="posts", verbose_name=_("holder (user)"))
    holder_name = models.CharField(_("holder's name"), max_length=50)
    project = models.CharField(_("project"), max_length=100, blank=True,
                               help_text=_("For a leader assignment (包挂): the project, if any."))
    started_on = models.DateField(_("started on"))
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PeriodQuerySet.as_manager()

    class Meta:
        verbose_name = _("grid post")
        verbose_name_plural = _("grid posts")
        indexes = [models.Index(fields=["grid_code"], name="gridpost_area_prefix", opclasses=["varchar_pattern_ops"])]
        constraints = [models.CheckConstraint(condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                                              name="gridpost_period_order")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.grid_code}: {self.holder_name}"


@track_changes()
class VolunteerAssignment(ScopedModel):
    """A party-member volunteer (党员突击队员) sent down from a department to a community or grid for a period."""

    scope_field = "grid_code"

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="volunteers",
                                   verbose_name=_("sent by"))
    grid_code = models.CharField(_("community or grid code"), max_length=15, validators=[area_code_validator])
    person = models.ForeignKey("registry.Person", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="volunteer_assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="volunteer_assignments")
    name = models.CharField(_("name"), max_length=50)
    team = models.CharField(_("team"), max_length=100, blank=True)
    started_on = models.DateField(_("started on"))
    ended_on = models.DateField(_("ended on"), null=True, blank=True,
                                help_text=_("The first day no longer served; empty while open-ended."))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PeriodQuerySet.as_manager()

    class Meta:
        verbose_name = _("volunteer assignment")
        verbose_name_plural = _("volunteer assignments")
        indexes = [models.Index(fields=["grid_code"], name="volunteer_area_prefix", opclasses=["varchar_pattern_ops"])]
        constraints = [models.CheckConstraint(condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                                              name="volunteer_period_order")]

    def __str__(self):
        return f"{self.name} → {self.grid_code}"
