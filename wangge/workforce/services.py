"""Writes with rules for the work team. Each service re-checks, inside its transaction, that the area the row will
belong to lies in the actor's MANAGE_WORKFORCE scope (404 otherwise: the same answer as for what does not exist),
and refuses bad input with a DomainError naming the field. Ending sets an end date; nothing is deleted."""

import datetime

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from wangge.accounts.roles import MANAGE_WORKFORCE
from wangge.core.errors import DomainError
from wangge.core.scope import ensure_code_in_scope, scope_codes
from wangge.geo import codes as area_codes
from wangge.geo.models import Area
from wangge.registry.models import PersonStatus

from .models import (
    GRID_KINDS,
    Department,
    DepartmentKind,
    DepartmentMembership,
    GridPost,
    MembershipRole,
    PostKind,
    VolunteerAssignment,
)


def _require_manage(actor):
    if not scope_codes(actor, MANAGE_WORKFORCE):
        raise DomainError(_("Your role may not manage the work team."), code="forbidden")


def require_manage(actor, code):
    """403 for an actor who may not manage the work team anywhere, 404 when `code` lies outside their scope."""
    _require_manage(actor)
    ensure_code_in_scope(actor, MANAGE_WORKFORCE, code)


def _day(value, field, *, default_today=True):
    if value is None:
        return timezone.localdate() if default_today else None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError as exc:
        raise DomainError(_("Not a date (YYYY-MM-DD)."), field=field) from exc


def _current_area(code, field, *, levels=None):
    """A code of the active generation (of one of `levels` when given), else a 400 naming `field`."""
    code = (code or "").strip()
    level = area_codes.level_of(code)
    if level is None:
        raise DomainError(_("An area code has 6, 9, 12 or 15 digits."), field=field)
    if levels and level not in levels:
        names = ", ".join(str(area_codes.LEVEL_LABELS[lv]) for lv in levels)
        raise DomainError(_("Must be the code of a %(levels)s.") % {"levels": names}, field=field)
    if not Area.objects.current().filter(code=code).exists():
        raise DomainError(_("No current area has the code %(code)s.") % {"code": code}, field=field)
    return code


def _choice(value, choices, field):
    if value not in choices.values:
        raise DomainError(_("Not a valid choice."), field=field)
    return value


def _holder_name(name, person, user, field="holder_name"):
    name = (name or "").strip() or (person.name if person else "") or (str(user) if user else "")
    if not name:
        raise DomainError(_("A holder is required: a person, a user or at least a name."), field=field)
    if len(name) > 50:
        raise DomainError(_("A name has at most 50 characters."), field=field)
    if person is not None and person.status != PersonStatus.NORMAL:
        raise DomainError(_("This person's record is not current (moved out, deceased or merged)."),
                          field="holder_person")
    return name


def _end_day(ended_on, started_on):
    day = _day(ended_on, "ended_on")
    if day > timezone.localdate():
        raise DomainError(_("The end date cannot be in the future."), field="ended_on")
    if day < started_on:
        raise DomainError(_("The end date cannot precede the start date."), field="ended_on")
    return day


def _lock(key):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key])


# Departments ------------------------------------------------------------------------------------------------------

@transaction.atomic
def do_create_department(*, actor, name, code, area_code, kind=DepartmentKind.FUNCTIONAL, contact=""):
    _require_manage(actor)
    area_code = _current_area(area_code, "area_code")
    ensure_code_in_scope(actor, MANAGE_WORKFORCE, area_code)
    name, code = (name or "").strip(), (code or "").strip()
    if not name:
        raise DomainError(_("A name is required."), field="name")
    if not code:
        raise DomainError(_("A code is required."), field="code")
    if Department.objects.filter(code=code).exists():
        raise DomainError(_("Department code %(code)s is already used.") % {"code": code}, field="code")
    return Department.objects.create(name=name, code=code, area_code=area_code,
                                     kind=_choice(kind, DepartmentKind, "kind"), contact=(contact or "").strip())


@transaction.atomic
def do_close_department(department, *, actor, closed_on=None):
    """Closes a department: its open memberships end the same day; its history stays."""
    _require_manage(actor)
    department = Department.objects.select_for_update().get(pk=department.pk)
    ensure_code_in_scope(actor, MANAGE_WORKFORCE, department.area_code)
    if department.closed_on is not None:
        raise DomainError(_("This department is already closed."), field="closed_on")
    day = _day(closed_on, "closed_on")
    if day > timezone.localdate():
        raise DomainError(_("The end date cannot be in the future."), field="closed_on")
    department.closed_on = day
    department.save(update_fields=["closed_on", "updated_at"])
    for membership in department.memberships.select_for_update().filter(active_to__isnull=True):
        membership.active_to = max(day, membership.active_from)
        membership.save(update_fields=["active_to"])
    return department


@transaction.atomic
def do_add_member(department, *, actor, user, role=MembershipRole.HANDLER, active_from=None):
    _require_manage(actor)
    department = Department.objects.select_for_update().get(pk=department.pk)
    ensure_code_in_scope(actor, MANAGE_WORKFORCE, department.area_code)
    if department.closed_on is not None:
        raise DomainError(_("This department is closed."), field="department")
    if user is None or not user.is_active:
        raise DomainError(_("Unknown user."), field="user")
    role = _choice(role, MembershipRole, "role")
    if department.memberships.active_on().filter(user=user, role=role).exists():
        raise DomainError(_("This user already holds this role in the department."), field="user")
    return DepartmentMembership.objects.create(department=department, user=user, role=role,
                                               active_from=_day(active_from, "active_from"))


@transaction.atomic
def do_end_membership(membership, *, actor, active_to=None):
    _require_manage(actor)
    membership = DepartmentMembership.objects.select_for_update().select_related("department").get(pk=membership.pk)
    ensure_code_in_scope(actor, MANAGE_WORKFORCE, membership.department.area_code)
    if membership.active_to is not None:
        raise DomainError(_("This membership has already ended."), field="active_to")
    try:
        membership.active_to = _end_day(active_to, membership.active_from)
    except DomainError as exc:
        raise DomainError(exc.message, field="active_to") from exc
    membership.save(update_fields=["active_to"])
    return membership


# Posts ------------------------------------------------------------------------------------------------------------

@transaction.atomic
def do_appoint(*, actor, kind, grid_code, holder_person=None, holder_user=None, holder_name="", started_on=None,
               project=""):
    """Appoints a holder to a post. Grid chiefs and workers sit in a terminal grid; instructors and leaders in an
    area of any level. A grid has one chief at a time: end the current chief's post first."""
    _require_manage(actor)
    kind = _choice(kind, PostKind, "kind")
    levels = (area_codes.GRID,) if kind in GRID_KINDS else None
    grid_code = _current_area(grid_code, "grid_code", levels=levels)
    ensure_code_in_scope(actor, MANAGE_WORKFORCE, grid_code)
    name = _holder_name(holder_name, holder_person, holder_user)
    started_on = _day(started_on, "started_on")
    if project and kind != PostKind.LEADER:
        raise DomainError(_("Only a leader assignment has a project."), field="project")
    _lock(f"workforce-post:{grid_code}")
    open_posts = GridPost.objects.filter(grid_code=grid_code, kind=kind, ended_on__isnull=True)
    if kind == PostKind.GRID_CHIEF and open_posts.exists():
        raise DomainError(_("This grid already has a chief; end that post first."), field="kind")
    same_holder = (open_posts.filter(holder_person=holder_person) if holder_person else
                   open_posts.filter(holder_user=holder_user) if holder_user else
                   open_posts.filter(holder_name=name, holder_person__isnull=True, holder_user__isnull=True))
    if same_holder.filter(project=project or "").exists():
        raise DomainError(_("This holder already holds this post here."), field="holder_name")
    return GridPost.objects.create(kind=kind, grid_code=grid_code, holder_person=holder_person,
                                   holder_user=holder_user, holder_name=name, started_on=started_on,
                                   project=(project or "").strip())


@transaction.atomic
def do_end_post(post, *, actor, ended_on=None, reason=""):
    _require_manage(actor)
    post = GridPost.objects.select_for_update().get(pk=post.pk)
    ensure_code_in_scope(actor, MANAGE_WORKFORCE, post.grid_code)
    if post.ended_on is not None:
        raise DomainError(_("This post has already ended."), field="ended_on")
    post.ended_on = _end_day(ended_on, post.started_on)
    post.end_reason = (reason or "").strip()[:200]
    post.save(update_fields=["ended_on", "end_reason", "updated_at"])
    return post


# Volunteers -------------------------------------------------------------------------------------------------------

@transaction.atomic
def do_assign_volunteer(*, actor, department, grid_code, person=None, user=None, name="", started_on=None,
                        ended_on=None, team=""):
    """Assigns a volunteer sent down by `department` to a community or grid for a period (`ended_on`, the first
    day no longer served, may be planned ahead)."""
    _require_manage(actor)
    grid_code = _current_area(grid_code, "grid_code", levels=(area_codes.COMMUNITY, area_codes.GRID))
    ensure_code_in_scope(actor, MANAGE_WORKFORCE, grid_code)
    if department is None or department.closed_on is not None:
        raise DomainError(_("Unknown or closed department."), field="department")
    try:
        name = _holder_name(name, person, user, field="name")
    except DomainError as exc:
        raise DomainError(exc.message, field="person" if exc.field == "holder_person" else "name") from exc
    started_on = _day(started_on, "started_on")
    ended_on = _day(ended_on, "ended_on", default_today=False)
    if ended_on is not None and ended_on < started_on:
        raise DomainError(_("The end date cannot precede the start date."), field="ended_on")
    return VolunteerAssignment.objects.create(department=department, grid_code=grid_code, person=person, user=user,
                                              name=name, team=(team or "").strip(), started_on=started_on,
                                              ended_on=ended_on)


@transaction.atomic
def do_end_volunteer(assignment, *, actor, ended_on=None):
    """Ends a volunteer period early (or on the day planned)."""
    _require_manage(actor)
    assignment = VolunteerAssignment.objects.select_for_update().get(pk=assignment.pk)
    ensure_code_in_scope(actor, MANAGE_WORKFORCE, assignment.grid_code)
    today = timezone.localdate()
    if assignment.ended_on is not None and assignment.ended_on <= today:
        raise DomainError(_("This volunteer period has already ended."), field="ended_on")
    assignment.ended_on = _end_day(ended_on, assignment.started_on)
    assignment.save(update_fields=["ended_on", "updated_at"])
    return assignment
