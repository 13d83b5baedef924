"""Screening campaigns' rules, in one place (issue 5): the campaign's states and rounds, visits (validated against
the form, members matched to the registry, flags raising events, the ledger kept up to date), audited reading of
answers, proposals to the registry, daily reports and the purge.

    draft ──start──▶ running ──close──▶ closed ──purge (after the retention period)──▶ purged
                       └─rescreen: a new round (coverage starts again; earlier rounds' results stay)
"""

import json
import uuid
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from wangge.accounts.roles import MANAGE_CAMPAIGN, VIEW_ANSWERS, VIEW_CAMPAIGN, VISIT_HOUSEHOLD
from wangge.core import pii
from wangge.core.errors import DomainError
from wangge.core.scope import code_in_scope, ensure_code_in_scope, scope_codes

from . import forms
from .models import (
    Campaign,
    CampaignRound,
    CampaignState,
    CampaignWorker,
    CoverageCount,
    FlagHit,
    FlagRule,
    Form,
    FormVersion,
    HouseholdScreening,
    PersonProposal,
    ProposalState,
    TargetKind,
    Visit,
    VisitMember,
    VisitSource,
    VisitStatus,
    WorkerRole,
)

ANSWERS_PURPOSE = "campaign_answers"
STATUS_COLUMNS = {VisitStatus.VISITED: "visited", VisitStatus.ABSENT: "absent", VisitStatus.REFUSED: "refused",
                  VisitStatus.MOVED_OUT: "moved_out", VisitStatus.REVISIT: "revisit"}
MAX_RETENTION_DAYS = 3650


# ---- campaigns -----------------------------------------------------------------------------------------------------

def _manageable(campaign, actor):
    """404 outside the actor's scope, 403 without the right to manage campaigns."""
    codes = scope_codes(actor, MANAGE_CAMPAIGN)
    if not codes:
        raise DomainError(_("Your role may not manage screening campaigns."), code="forbidden")
    if not code_in_scope(campaign.area_code, codes):
        raise Http404


def _date(value, field):
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError) as exc:
        raise DomainError(_("Give a date as YYYY-MM-DD."), field=field) from exc


def _time(value, field):
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except (TypeError, ValueError) as exc:
        raise DomainError(_("Give a time as HH:MM."), field=field) from exc


def _target_codes(area_code, codes):
    """The target areas: existing current areas inside the organising area, none inside another."""
    from wangge.geo.models import Area

    if not isinstance(codes, list | tuple) or not codes:
        raise DomainError(_("Choose at least one target area."), field="target_codes")
    codes = sorted({str(code).strip() for code in codes})
    known = set(Area.objects.current().filter(code__in=codes).values_list("code", flat=True))
    for code in codes:
        if code not in known:
            raise DomainError(_("%(code)s is not a current area.") % {"code": code}, field="target_codes")
        if not code.startswith(area_code):
            raise DomainError(_("%(code)s lies outside the organising area.") % {"code": code},
                              field="target_codes")
    return [code for code in codes if not any(code != other and code.startswith(other) for other in codes)]


def _prefixes(codes):
    return sorted({code[:n] for code in codes for n in (6, 9, 12, 15) if n <= len(code)})


def default_form_version():
    from .household_form import CODE

    return FormVersion.objects.filter(form__code=CODE).order_by("-number").first()


@transaction.atomic
def do_create_campaign(*, actor, name, purpose, legal_basis, area_code, target_codes, starts_on, ends_on,
                       form_version=None, daily_deadline="08:00", retention_days=30, target_kind=TargetKind.AREAS):
    """A draft campaign. Its purpose and legal basis are required: every worker and every resident-facing page
    shows them (PIPL: a specific purpose)."""
    values = {"name": name, "purpose": purpose, "legal_basis": legal_basis}
    for field, value in values.items():
        if not str(value or "").strip():
            raise DomainError(_("Required."), field=field)
    area_code = str(area_code or "").strip()
    codes = scope_codes(actor, MANAGE_CAMPAIGN)
    if not codes:
        raise DomainError(_("Your role may not manage screening campaigns."), code="forbidden")
    ensure_code_in_scope(actor, MANAGE_CAMPAIGN, area_code)
    if target_kind not in TargetKind.values:
        raise DomainError(_("Unknown target."), field="target_kind")
    targets = _target_codes(area_code, list(target_codes or [area_code]))
    starts_on, ends_on = _date(starts_on, "starts_on"), _date(ends_on, "ends_on")
    if ends_on < starts_on:
        raise DomainError(_("The campaign ends before it starts."), field="ends_on")
    try:
        retention_days = int(retention_days)
    except (TypeError, ValueError) as exc:
        raise DomainError(_("A whole number of days."), field="retention_days") from exc
    if not 0 <= retention_days <= MAX_RETENTION_DAYS:
        raise DomainError(_("Between 0 and %(max)s days.") % {"max": MAX_RETENTION_DAYS}, field="retention_days")
    version = _form_version(form_version) if form_version else default_form_version()
    if version is None:
        raise DomainError(_("Choose a form."), field="form_version")
    return Campaign.objects.create(
        name=str(name).strip()[:200], purpose=str(purpose).strip(), legal_basis=str(legal_basis).strip(),
        area_code=area_code, district_code=area_code[:6], form_version=version, target_kind=target_kind,
        target_codes=targets, scope_prefixes=_prefixes(targets), starts_on=starts_on, ends_on=ends_on,
        daily_deadline=_time(daily_deadline, "daily_deadline"), retention_days=retention_days, created_by=actor)


def _form_version(value):
    version = value if isinstance(value, FormVersion) else (
        FormVersion.objects.filter(pk=value).first() if str(value).isdigit() else None)
    if version is None:
        raise DomainError(_("Unknown form version."), field="form_version")
    return version


def _locked(campaign):
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _expect(campaign, *states):
    if campaign.state not in states:
        raise DomainError(_("The campaign is %(state)s.") % {"state": campaign.get_state_display()},
                          field="state", code="invalid_transition")


@transaction.atomic
def do_start_campaign(campaign, *, actor, deadline=None):
    """draft → running: opens round 1 (the ledger's registered households per grid, counted now) and assigns the
    grids' workers from the work team where nobody is assigned yet."""
    _manageable(campaign, actor)
    campaign = _locked(campaign)
    _expect(campaign, CampaignState.DRAFT)
    campaign.state, campaign.started_at = CampaignState.RUNNING, timezone.now()
    campaign.save()
    _open_round(campaign, actor, reason=_("first round"), deadline=deadline)
    assign_workers_from_posts(campaign)
    return campaign


@transaction.atomic
def do_rescreen(campaign, *, actor, reason, deadline):
    """A new round (re-screening overnight when risk areas change): coverage starts again from zero with its own
    deadline; the earlier rounds' visits and ledgers stay as they were."""
    _manageable(campaign, actor)
    campaign = _locked(campaign)
    _expect(campaign, CampaignState.RUNNING)
    if not str(reason or "").strip():
        raise DomainError(_("Give the reason for the new round."), field="reason")
    _open_round(campaign, actor, reason=reason, deadline=deadline)
    return campaign


def _deadline(value):
    from django.utils.dateparse import parse_datetime

    if value in (None, ""):
        return None
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment is None:
        raise DomainError(_("Give the deadline as an ISO 8601 date and time."), field="deadline")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment <= timezone.now():
        raise DomainError(_("The deadline lies in the past."), field="deadline")
    return moment


def _open_round(campaign, actor, *, reason, deadline):
    campaign.current_round += 1
    campaign.save(update_fields=["current_round", "updated_at"])
    CampaignRound.objects.create(campaign=campaign, number=campaign.current_round, reason=str(reason)[:200],
                                 deadline=_deadline(deadline), started_by=actor)
    # The ledger's rows: every current grid in the targets, with its households counted now (set-based).
    from wangge.geo.models import Area

    grids = list(Area.objects.current().filter(level="grid").filter(_prefix_q("code", campaign.target_codes))
                 .values_list("code", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {CoverageCount._meta.db_table} (campaign_id, round, grid_code, registered, visited, absent,"
            " refused, moved_out, revisit, members, flagged_members, stats) "
            "SELECT %s, %s, g.code, COALESCE(h.n, 0), 0, 0, 0, 0, 0, 0, 0, '{}'::jsonb "
            "FROM unnest(%s::varchar[]) AS g(code) "
            "LEFT JOIN (SELECT grid_code, count(*) AS n FROM registry_household WHERE grid_code = ANY(%s) "
            "GROUP BY grid_code) h ON h.grid_code = g.code",
            [campaign.pk, campaign.current_round, grids, grids])
    count_registered_persons(campaign, campaign.current_round)  # the 人头清 snapshot, beside the households


def _prefix_q(field, codes):
    from django.db.models import Q

    query = Q(pk__in=[])
    for code in codes:
        query |= Q(**{f"{field}__startswith": code})
    return query


def assign_workers_from_posts(campaign):
    """Each target grid's active full-/part-time workers and chief (with accounts) become its campaign workers,
    and the volunteers sent down to a target grid (with accounts, serving today) theirs as volunteers — unless the
    grid already has someone assigned. Being assigned says who answers for a grid's households; recording a visit
    still needs a role with campaigns.visit in the grid (grid worker, volunteer), as every write needs its scope."""
    from django.db.models.functions import Length

    from wangge.workforce.models import GridPost, PostKind, VolunteerAssignment

    today = timezone.localdate()
    assigned = set(CampaignWorker.objects.filter(campaign=campaign).values_list("grid_code", flat=True))
    targets = _prefix_q("grid_code", campaign.target_codes)
    posts = (GridPost.objects.active_on(today)
             .filter(targets, holder_user__isnull=False,
                     kind__in=[PostKind.GRID_CHIEF, PostKind.FULL_TIME, PostKind.PART_TIME])
             .values_list("grid_code", "holder_user_id"))
    volunteers = (VolunteerAssignment.objects.active_on(today).filter(targets, user__isnull=False)
                  .annotate(code_length=Length("grid_code")).filter(code_length=15)  # a grid, not a community
                  .values_list("grid_code", "user_id"))
    rows = [CampaignWorker(campaign=campaign, grid_code=grid, user_id=user_id, role=role)
            for found, role in ((posts, WorkerRole.GRID_WORKER), (volunteers, WorkerRole.VOLUNTEER))
            for grid, user_id in found if grid not in assigned]
    CampaignWorker.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


@transaction.atomic
def do_assign_worker(campaign, *, actor, grid_code, user, role=WorkerRole.GRID_WORKER):
    _manageable(campaign, actor)
    if role not in WorkerRole.values:
        raise DomainError(_("Unknown role."), field="role")
    if not any(str(grid_code).startswith(code) for code in campaign.target_codes) or len(str(grid_code)) != 15:
        raise DomainError(_("Not a grid of the campaign's targets."), field="grid_code")
    worker, _created = CampaignWorker.objects.get_or_create(campaign=campaign, grid_code=grid_code, user=user,
                                                            defaults={"role": role})
    return worker


@transaction.atomic
def do_close_campaign(campaign, *, actor):
    """running → closed: answers are frozen; the purge falls due after the retention period."""
    _manageable(campaign, actor)
    campaign = _locked(campaign)
    _expect(campaign, CampaignState.RUNNING)
    campaign.state, campaign.closed_at = CampaignState.CLOSED, timezone.now()
    campaign.purge_due_on = timezone.localdate() + timedelta(days=campaign.retention_days)
    campaign.save()
    return campaign


@transaction.atomic
def do_purge_campaign(campaign, *, actor=None, today=None):
    """closed → purged, once the retention period is over: the personal answers, member matches, proposals and the
    campaign's pushed rows' personal fields are deleted; visits keep their result, counts and flags (no personal
    data), so the ledgers and statistics stay. `actor` None: the scheduled job."""
    if actor is not None:
        _manageable(campaign, actor)
    campaign = _locked(campaign)
    _expect(campaign, CampaignState.CLOSED)
    today = today or timezone.localdate()
    if campaign.purge_due_on and today < campaign.purge_due_on:
        raise DomainError(_("The retention period runs until %(day)s.") % {"day": campaign.purge_due_on},
                          field="state", code="invalid_transition")
    visits = Visit.objects.filter(campaign=campaign)
    visits.update(answers_enc="", location=None)
    VisitMember.objects.filter(visit__campaign=campaign).update(person=None, id_number_index="")
    PersonProposal.objects.filter(visit__campaign=campaign).delete()
    from .models import PushedRow

    PushedRow.objects.filter(pushed_list__campaign=campaign).update(
        name="", id_number_enc="", id_number_index="", id_number_masked="", phone_enc="", phone_masked="",
        address="", person=None)
    campaign.lists.update(purged_at=timezone.now())
    campaign.state, campaign.purged_at = CampaignState.PURGED, timezone.now()
    campaign.save()
    transaction.on_commit(lambda: delete_answer_files(campaign.pk))
    return campaign


def answer_files_folder(campaign_id):
    """Where photos answered in a campaign's forms are stored (below MEDIA_ROOT), so the purge can remove them."""
    return f"campaigns/{int(campaign_id)}"


def delete_answer_files(campaign_id):
    """Deletes the photos answered in a campaign's forms (after the purge has committed)."""
    import shutil
    from pathlib import Path

    from django.conf import settings

    shutil.rmtree(Path(settings.MEDIA_ROOT) / answer_files_folder(campaign_id), ignore_errors=True)


def _answer_uploads(definition, answers):
    """The photo questions answered with an uploaded file: [(path, the dict holding the answer, its key, upload)],
    paths as the answers number them (`door`, `people[0].photo`)."""
    from django.core.files.base import File

    found = []
    for field in definition["fields"]:
        value = answers.get(field["name"])
        if field["type"] == "photo" and isinstance(value, File):
            found.append((field["name"], answers, field["name"], value))
        if field["type"] == "repeat" and isinstance(value, list):
            for index, row in enumerate(value):
                for child in field["children"] if isinstance(row, dict) else []:
                    if child["type"] == "photo" and isinstance(row.get(child["name"]), File):
                        found.append((f"{field['name']}[{index}].{child['name']}", row, child["name"],
                                      row[child["name"]]))
    return found


def store_answer_photos(campaign, definition, answers, stored):
    """The answers with each photo question answered by an uploaded file (a django File: the phone page's file
    input, an OpenRosa attachment) answered instead by where the photo is stored: checked as a real image (the
    events' rules), then stored under a random name in the campaign's folder, which the purge removes. Nothing is
    stored when one is bad; each name stored is added to `stored` as it is written, for do_record_visit to delete
    if the visit is then refused. The caller's answers are left as they were."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from wangge.cases.attachments import check_photos

    answers = {key: [dict(row) if isinstance(row, dict) else row for row in value] if isinstance(value, list)
               else value for key, value in answers.items()}
    checked = []
    for path, holder, key, upload in _answer_uploads(definition, answers):
        try:
            found = check_photos([upload], field=path)
        except DomainError as exc:  # named by the question's path, not the photo's index
            raise DomainError(exc.message, field=path) from exc
        checked.append((holder, key, found[0]))
    for holder, key, photo in checked:
        holder[key] = default_storage.save(f"{answer_files_folder(campaign.pk)}/{uuid.uuid4().hex}.{photo.extension}",
                                           ContentFile(photo.content))
        stored.append(holder[key])
    return answers


def delete_answer_photos(names):
    from django.core.files.storage import default_storage

    for name in names:
        default_storage.delete(name)


def purge_due_campaigns(today=None):
    """The scheduled purge: every closed campaign whose retention period is over."""
    today = today or timezone.localdate()
    purged = 0
    for campaign in Campaign.objects.filter(state=CampaignState.CLOSED, purge_due_on__lte=today):
        do_purge_campaign(campaign, today=today)
        purged += 1
    return purged


# ---- visits --------------------------------------------------------------------------------------------------------

def visible_campaigns(user, action=VIEW_CAMPAIGN):
    return Campaign.objects.visible_to(user, action)


def visit_campaigns(user):
    """The campaigns `user` records visits in, each read as do_record_visit takes it from a caller that has just
    read it: with its form version and its active flag rules (`visit_flag_rules`) in the same statement, so the
    service reads neither again. A campaign read any other way is read again by the service."""
    from django.db.models import JSONField
    from django.db.models.expressions import RawSQL

    # Raw: the same subquery through ArraySubquery(JSONObject(…)) took longer to compile than to run.
    rules = RawSQL(
        "(SELECT coalesce(jsonb_agg(jsonb_build_object('id', rule.id, 'code', rule.code, 'label', rule.label, "
        "'field', rule.field, 'operator', rule.operator, 'value', rule.value, 'category_id', rule.category_id, "
        "'urgency', rule.urgency, 'active', rule.active) ORDER BY rule.id), '[]') "
        'FROM campaigns_flagrule AS rule WHERE rule.campaign_id = "campaigns_campaign".id AND rule.active)', [],
        output_field=JSONField())
    return (visible_campaigns(user, VISIT_HOUSEHOLD).select_related("form_version")
            .annotate(visit_flag_rules=rules))


def _active_rules(campaign):
    """The campaign's active flag rules: as visit_campaigns() read them, else from the database."""
    rows = getattr(campaign, "visit_flag_rules", None)
    if rows is None:
        return list(campaign.flag_rules.filter(active=True).order_by("pk"))
    return [FlagRule(campaign=campaign, **row) for row in rows]


def _read_household(value, campaign, instance_id):
    """The household a visit names (None when there is none), the visit its instance id was first recorded as (its
    id, or None), and whether that was looked for: one statement for both when the household is read here."""
    from django.db.models import Subquery

    from wangge.registry.models import Household

    if isinstance(value, Household):
        return value, None, False
    if not str(value or "").isdigit():
        return None, None, False
    households = Household.objects.filter(pk=value)
    if instance_id:
        households = households.annotate(earlier_visit=Subquery(
            Visit.objects.filter(campaign=campaign.pk, instance_id=instance_id).order_by().values("pk")[:1]))
    household = households.first()
    if household is None:
        return None, None, False
    return household, getattr(household, "earlier_visit", None), bool(instance_id)


def _household(household, campaign, actor):
    """The household _read_household found, checked: in the actor's grids, a target of the campaign. An unknown id
    and a household outside the actor's grids answer alike (404), so nobody learns which ids exist elsewhere."""
    if household is None:
        raise Http404
    ensure_code_in_scope(actor, VISIT_HOUSEHOLD, household.grid_code)
    if not any(household.grid_code.startswith(code) for code in campaign.target_codes):
        raise DomainError(_("The household is not among the campaign's targets."), field="household")
    return household


def _moment(value, field):
    from django.utils.dateparse import parse_datetime

    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment is None:
        raise DomainError(_("Give the time as ISO 8601."), field=field)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _visit_moment(value):
    """When the call was made: now, or a given moment not in the future (a phone's clock may run a little fast)."""
    now = timezone.now()
    if value in (None, ""):
        return now
    moment = _moment(value, "visited_at")
    if moment > now + timedelta(minutes=10):
        raise DomainError(_("The visit lies in the future."), field="visited_at")
    return moment


def _match_members(definition, answers):
    """[(index, registry person's id or None, id_number or "", member answers)] for the member group's rows."""
    from wangge.registry.models import Person

    group = forms.repeat_field(definition)
    if group is None:
        return []
    id_field = forms.role_field(definition, "id_number")
    rows = answers.get(group["name"], [])
    numbers = [str(row.get(id_field) or "") if id_field else "" for row in rows]
    indexes = {number: pii.blind_index(number, purpose=pii.ID_NUMBER) for number in numbers if number}
    persons = dict(Person.objects.filter(id_number_index__in=list(indexes.values()))
                   .values_list("id_number_index", "pk")) if indexes else {}
    return [(index, persons.get(indexes.get(number)) if number else None, number, row)
            for index, (row, number) in enumerate(zip(rows, numbers, strict=True))]


def _rule_hits(rules, definition, answers):
    """[(rule, member index or None)] for every rule the answers meet."""
    group = forms.repeat_field(definition)
    member_fields = {child["name"] for child in group["children"]} if group else set()
    hits = []
    for rule in rules:
        if rule.field in member_fields:
            for index, row in enumerate(answers.get(group["name"], [])):
                if _meets(rule, row.get(rule.field)):
                    hits.append((rule, index))
        elif _meets(rule, answers.get(rule.field)):
            hits.append((rule, None))
    return hits


def _meets(rule, value):
    from decimal import Decimal, InvalidOperation

    if value in (None, "", []):
        return False
    wanted = rule.value
    if rule.operator == "eq":
        return str(value) == str(wanted)
    if rule.operator == "ne":
        return str(value) != str(wanted)
    if rule.operator == "in":
        return str(value) in {str(item) for item in (wanted if isinstance(wanted, list) else [wanted])}
    if rule.operator == "selected":
        chosen = value if isinstance(value, list) else [value]
        return bool({str(item) for item in chosen} & {str(item) for item in (
            wanted if isinstance(wanted, list) else [wanted])})
    try:
        number, bound = Decimal(str(value)), Decimal(str(wanted))
    except InvalidOperation:
        return False
    return number >= bound if rule.operator == "gte" else number <= bound


def do_record_visit(campaign, *, actor, household, status, answers=None, location=None, visited_at=None,
                    revisit_at=None, instance_id="", source=VisitSource.PAGE):
    """Records a call at a household. Checks the campaign runs, the household is a target in the actor's grids,
    the answers against the form (visited only); matches members to the registry by ID number and proposes the
    others for review; raises flags (events through the events service, the grid's chain notified); moves the
    household's standing and the grid's ledger row in the same transaction. The same `instance_id` again returns
    the first visit and writes nothing (a resubmitted form).

    A photo question may be answered with the uploaded file itself (a django File: the phone page's file input, an
    OpenRosa attachment): once the campaign, the household and the result are checked, it is checked as an image and
    stored (store_answer_photos), and the visit keeps where; a visit refused after that keeps none of its photos."""
    if not str(instance_id or "").strip():
        instance_id = ""
    instance_id = str(instance_id).strip()[:100]
    stored = []  # the photos this call stored: deleted unless its visit is recorded
    try:
        return _record_visit(campaign, actor=actor, household=household, status=status, answers=answers,
                             location=location, visited_at=visited_at, revisit_at=revisit_at,
                             instance_id=instance_id, source=source, stored=stored)
    except IntegrityError as exc:
        # Two copies of one submission at once (a phone retrying): the second's visit waits for the first's at the
        # instance id's unique index, then breaks it; its transaction is undone and it answers with the first.
        delete_answer_photos(stored)
        if not instance_id or getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != \
                "visit_instance_once":
            raise
        first = Visit.objects.filter(campaign=campaign, instance_id=instance_id).values_list("pk", flat=True).first()
        if first is None:
            raise
    except BaseException:
        delete_answer_photos(stored)
        raise
    return _earlier_visit(campaign, actor, first)


def _earlier_visit(campaign, actor, pk):
    """The visit an instance id was first recorded as: the worker's own, else not found."""
    existing = Visit.objects.get(pk=pk)
    if existing.worker_id != actor.pk:
        raise Http404
    return existing


@transaction.atomic
def _record_visit(campaign, *, actor, household, status, answers, location, visited_at, revisit_at, instance_id,
                  source, stored):
    found, earlier, checked = _read_household(household, campaign, instance_id)
    if instance_id:
        if not checked:
            earlier = (Visit.objects.filter(campaign=campaign, instance_id=instance_id)
                       .values_list("pk", flat=True).first())
        if earlier is not None:
            return _earlier_visit(campaign, actor, earlier)
    if not scope_codes(actor, VISIT_HOUSEHOLD):
        raise DomainError(_("Your role may not record visits."), code="forbidden")
    if getattr(campaign, "visit_flag_rules", None) is None:  # not as visit_campaigns() reads it: read it now
        campaign = Campaign.objects.select_related("form_version").get(pk=campaign.pk)
    if campaign.state != CampaignState.RUNNING:
        raise DomainError(_("The campaign is %(state)s: it takes no visits.") % {
            "state": campaign.get_state_display()}, field="campaign", code="invalid_transition")
    household = _household(found, campaign, actor)
    if status not in VisitStatus.values:
        raise DomainError(_("Unknown result; one of: %(all)s.") % {"all": ", ".join(VisitStatus.values)},
                          field="status")
    definition = campaign.form_version.definition
    if status == VisitStatus.VISITED and isinstance(answers, dict):
        answers = store_answer_photos(campaign, definition, answers, stored)
    cleaned = forms.validate_answers(definition, answers or {}) if status == VisitStatus.VISITED else {}
    if status != VisitStatus.VISITED and answers:
        raise DomainError(_("Only a visit that found the household takes answers."), field="answers")
    moment = _visit_moment(visited_at)
    revisit = None
    if status == VisitStatus.REVISIT:
        if revisit_at in (None, ""):
            raise DomainError(_("Give the time to call again."), field="revisit_at")
        revisit = _moment(revisit_at, "revisit_at")
        if revisit <= moment:
            raise DomainError(_("The time to call again must come after the visit."), field="revisit_at")
    elif revisit_at not in (None, ""):
        raise DomainError(_("Only a visit to repeat takes a time to call again."), field="revisit_at")
    point, inside = None, None
    if location not in (None, "", {}):
        from wangge.geo.locator import grid_code_at
        from wangge.registry.services import _point

        point = _point(location)
        inside = grid_code_at(point) == household.grid_code

    members = _match_members(definition, cleaned) if cleaned else []
    hits = _rule_hits(_active_rules(campaign), definition, cleaned) if cleaned else []
    flagged_indexes = {index for _rule, index in hits if index is not None}
    visit = Visit.objects.create(
        campaign=campaign, round=campaign.current_round, household=household, grid_code=household.grid_code,
        district_code=household.grid_code[:6], status=status, revisit_at=revisit, worker=actor, visited_at=moment,
        location=point, inside_grid=inside, form_version=campaign.form_version,
        answers_enc=pii.encrypt(json.dumps(cleaned, ensure_ascii=False), purpose=ANSWERS_PURPOSE) if cleaned else "",
        members=len(members), stats=forms.stats_of(definition, cleaned) if cleaned else {},
        flags=sorted({rule.code for rule, _index in hits}), instance_id=instance_id, source=source)
    VisitMember.objects.bulk_create([
        VisitMember(visit=visit, index=index, person_id=person,
                    id_number_index=pii.blind_index(number, purpose=pii.ID_NUMBER) if number else "",
                    flagged=index in flagged_indexes)
        for index, person, number, _row in members])
    _propose_unknown(visit, household, definition, members)
    _raise_flags(visit, household, hits, actor)
    _move_standing(visit, household, len(flagged_indexes))
    return visit


def _propose_unknown(visit, household, definition, members):
    """Members with an ID number the registry does not know: proposed for review (not written blindly)."""
    name_field, phone_field = forms.role_field(definition, "name"), forms.role_field(definition, "phone")
    rows = []
    for _index, person, number, row in members:
        if person is not None or not number:
            continue
        phone = str(row.get(phone_field) or "") if phone_field else ""
        rows.append(PersonProposal(
            visit=visit, household=household, grid_code=household.grid_code,
            name=str(row.get(name_field) or "")[:50] if name_field else "",
            id_number_enc=pii.encrypt(number, purpose=pii.ID_NUMBER),
            id_number_index=pii.blind_index(number, purpose=pii.ID_NUMBER),
            id_number_masked=pii.mask_id_number(number),
            phone_enc=pii.encrypt(phone, purpose=pii.PHONE) if phone else "",
            phone_masked=pii.mask_phone(phone) if phone else ""))
    PersonProposal.objects.bulk_create(rows)


def _household_point(household):
    from wangge.geo.models import Area

    if household.house_id and household.house.building_id:
        return household.house.building.location
    area = Area.objects.current().filter(code=household.grid_code).first()
    return area.geom.point_on_surface if area else None


def _raise_flags(visit, household, hits, actor):
    """One event per flagged member (or household) and rule with a category, reported through the events service
    — routed and timed like any other — and the grid's chain notified. Descriptions name the campaign, the flag and
    the member's position, never a person."""
    if not hits:
        return
    from wangge.accounts.roles import REPORT_EVENT
    from wangge.cases.chain import GRID_CHIEF, chain_users
    from wangge.cases.models import Notification
    from wangge.cases.notifications import notify
    from wangge.cases.services import do_report_event

    reporter = actor if code_in_scope(household.grid_code, scope_codes(actor, REPORT_EVENT)) else None
    # The event belongs to the household's grid: where the worker stood counts only when it lies in that grid (a
    # phone's GPS near a boundary can fall in the next grid, outside the reporter's scope).
    point = visit.location if visit.location is not None and visit.inside_grid else _household_point(household)
    rows = []
    for rule, index in hits:
        event = None
        if rule.category_id and point is not None:
            who = _("member %(n)s") % {"n": index + 1} if index is not None else _("the household")
            description = _("Screening %(campaign)s: %(flag)s (%(who)s of household %(household)s).") % {
                "campaign": visit.campaign.name, "flag": rule.label, "who": who, "household": household.number}
            event = do_report_event(actor=reporter or visit.campaign.created_by, location=point,
                                    description=description, category=rule.category, source="inspection",
                                    urgency=rule.urgency)
        rows.append(FlagHit(visit=visit, rule=rule, member_index=index, event=event))
    FlagHit.objects.bulk_create(rows)
    chain = chain_users([household.grid_code], [GRID_CHIEF, "community_staff"])[household.grid_code]
    labels = ", ".join(sorted({rule.label for rule, _index in hits}))
    notify(chain, Notification.Kind.OTHER, None,
           _("Screening flag in grid %(grid)s: %(flags)s") % {"grid": household.grid_code, "flags": labels})


def _move_standing(visit, household, flagged):
    """The household's standing in the round becomes this visit's result; the grid's ledger row moves the count
    from the old result to the new one.

    Two statements for a household's first call, three when it was called on before, none of them reading a row
    before writing it: the standing is inserted, or (when it exists) updated while reading what it was under its
    row lock; the ledger row is added to in one upsert (the counts and the summed statistics computed by the
    database under the row's lock), so concurrent visits in a grid add up and two first calls at one household at
    once count it once (the second waits for the first's standing, then moves it)."""
    standing_table = connection.ops.quote_name(HouseholdScreening._meta.db_table)
    visit_table = connection.ops.quote_name(Visit._meta.db_table)
    ledger_table = connection.ops.quote_name(CoverageCount._meta.db_table)
    key = [visit.campaign_id, visit.round, household.pk]
    now = timezone.now()
    changes = dict.fromkeys(STATUS_COLUMNS.values(), 0)
    changes[STATUS_COLUMNS[visit.status]] = 1
    changes["members"], changes["flagged_members"] = visit.members, flagged
    stats = dict(visit.stats or {})
    old = None
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"INSERT INTO {standing_table} (campaign_id, round, household_id, grid_code, status, revisit_at, "
                "last_visit_id, members, flagged_members, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (campaign_id, round, household_id) DO NOTHING RETURNING id",
                [*key, household.grid_code, visit.status, visit.revisit_at, visit.pk, visit.members, flagged, now])
            if cursor.fetchone() is not None:  # the household's first call in the round
                break
            # Called on before (perhaps a moment ago, by a call that just committed): the standing moves, and what
            # it was comes back, read under its row lock. The old visit's counts are read with it unless that visit
            # committed while this statement waited (not in its snapshot: read again below).
            cursor.execute(
                f"UPDATE {standing_table} AS standing SET status = %s, revisit_at = %s, last_visit_id = %s, "
                "members = %s, flagged_members = %s, updated_at = %s "
                f"FROM (SELECT id, status, members, flagged_members, last_visit_id FROM {standing_table} "
                "WHERE campaign_id = %s AND round = %s AND household_id = %s FOR UPDATE) AS old "
                "WHERE standing.id = old.id RETURNING old.status, old.members, old.flagged_members, "
                f"old.last_visit_id, (SELECT stats FROM {visit_table} WHERE id = old.last_visit_id)",
                [visit.status, visit.revisit_at, visit.pk, visit.members, flagged, now, *key])
            old = cursor.fetchone()
            if old is not None:
                break
        if old is not None:
            status, members, flagged_before, last_visit, old_stats = old
            changes[STATUS_COLUMNS[status]] -= 1
            changes["members"] -= members
            changes["flagged_members"] -= flagged_before
            if old_stats is None:
                old_stats = Visit.objects.filter(pk=last_visit).values_list("stats", flat=True).first()
            elif isinstance(old_stats, str):
                old_stats = json.loads(old_stats)
            for name, value in (old_stats or {}).items():
                stats[name] = stats.get(name, 0) - value
        columns = list(changes)
        # A grid that did not exist when the round opened (a new generation) gets its row now (registered 1; the
        # inserted row is checked before the conflict is found, so it carries no negative count).
        cursor.execute(
            f"INSERT INTO {ledger_table} AS ledger (campaign_id, round, grid_code, registered, registered_persons, "
            f"{', '.join(columns)}, stats) VALUES (%s, %s, %s, 1, NULL, {', '.join(['%s'] * len(columns))}, %s) "
            "ON CONFLICT (campaign_id, round, grid_code) DO UPDATE SET "
            + "".join(f"{column} = ledger.{column} + %s, " for column in columns)
            + "stats = (SELECT coalesce(jsonb_object_agg(name, total), '{}'::jsonb) FROM ("
            "SELECT name, sum(value) AS total FROM ("
            "SELECT key AS name, value::numeric AS value FROM jsonb_each_text(ledger.stats) UNION ALL "
            "SELECT key, value::numeric FROM jsonb_each_text(EXCLUDED.stats)) AS parts "
            "GROUP BY name HAVING sum(value) <> 0) AS totals)",
            [visit.campaign_id, visit.round, household.grid_code, *(max(delta, 0) for delta in changes.values()),
             json.dumps({name: value for name, value in stats.items() if value}), *changes.values()])


# ---- reading answers -----------------------------------------------------------------------------------------------

@transaction.atomic
def do_reveal_answers(visit, *, actor, reason, request_id=""):
    """A visit's personal answers, for a role that handles the campaign in the visit's grid; each reading audited
    (who, which visit, why, when, which request)."""
    from .models import AnswerReveal

    codes = scope_codes(actor, VIEW_ANSWERS)
    if not codes:
        raise DomainError(_("Your role may not read screening answers."), code="forbidden")
    if not code_in_scope(visit.grid_code, codes):
        raise Http404
    reason = str(reason or "").strip()
    if not reason:
        raise DomainError(_("Give the reason for reading the answers."), field="reason")
    if not visit.answers_enc:
        raise DomainError(_("This visit holds no answers (none were given, or they were purged)."),
                          field="answers")
    AnswerReveal.objects.create(user=actor, visit=visit, reason=reason[:200], request_id=str(request_id)[:64])
    return json.loads(pii.decrypt(visit.answers_enc, purpose=ANSWERS_PURPOSE))


@transaction.atomic
def do_review_proposal(proposal, *, actor, accept, note=""):
    """Accepts a proposed member into the registry (a person in the household's grid, through the registry's own
    service, which checks the ID number and duplicates) or rejects it with a note."""
    from wangge.accounts.roles import CHANGE_PERSON
    from wangge.registry.services import do_create_person

    proposal = PersonProposal.objects.select_for_update().get(pk=proposal.pk)
    codes = scope_codes(actor, CHANGE_PERSON)
    if not codes:
        raise DomainError(_("Your role may not change the registry."), code="forbidden")
    if not code_in_scope(proposal.grid_code, codes):
        raise Http404
    if proposal.state != ProposalState.PENDING:
        raise DomainError(_("The proposal was already reviewed."), field="state", code="invalid_transition")
    if accept:
        number = pii.decrypt(proposal.id_number_enc, purpose=pii.ID_NUMBER) if proposal.id_number_enc else None
        phone = pii.decrypt(proposal.phone_enc, purpose=pii.PHONE) if proposal.phone_enc else None
        proposal.person = do_create_person(actor=actor, name=proposal.name, id_number=number, phone=phone,
                                           household=proposal.household, grid_code=proposal.grid_code)
        proposal.state = ProposalState.ACCEPTED
    else:
        if not str(note or "").strip():
            raise DomainError(_("Give the reason for rejecting."), field="note")
        proposal.state = ProposalState.REJECTED
    proposal.reviewed_by, proposal.reviewed_at, proposal.review_note = actor, timezone.now(), str(note)[:200]
    proposal.save()
    return proposal


# ---- flag rules ------------------------------------------------------------------------------------------------

@transaction.atomic
def do_add_flag_rule(campaign, *, actor, code, label, field, operator, value, category=None, urgency="normal"):
    """A flag rule on one of the form's fields (checked against the campaign's form)."""
    from wangge.cases.models import Category, Urgency

    from .models import FlagOperator

    _manageable(campaign, actor)
    definition = campaign.form_version.definition
    group = forms.repeat_field(definition)
    names = {item["name"] for item in definition["fields"]} | (
        {child["name"] for child in group["children"]} if group else set())
    if field not in names:
        raise DomainError(_("Not a field of the campaign's form."), field="field")
    if operator not in FlagOperator.values:
        raise DomainError(_("Unknown operator."), field="operator")
    if urgency not in Urgency.values:
        raise DomainError(_("Unknown urgency."), field="urgency")
    if category not in (None, ""):
        category = category if isinstance(category, Category) else Category.objects.filter(
            pk=category if str(category).isdigit() else None, parent__isnull=False, active=True).first()
        if category is None:
            raise DomainError(_("Unknown category: choose an active subclass."), field="category")
    if not forms.NAME.match(str(code or "")):
        raise DomainError(_("A flag code is a name (letters, digits, _)."), field="code")
    if FlagRule.objects.filter(campaign=campaign, code=code).exists():
        raise DomainError(_("The campaign already has this flag."), field="code")
    return FlagRule.objects.create(campaign=campaign, code=code, label=str(label or code)[:100], field=field,
                                   operator=operator, value=value, category=category or None, urgency=urgency)


# ---- forms -----------------------------------------------------------------------------------------------------

@transaction.atomic
def do_add_form_version(*, actor, code, title, definition, title_en="", xlsform=None, xform=""):
    """A new version of a form (the form is created with its first version); the definition is checked first."""
    if not scope_codes(actor, MANAGE_CAMPAIGN):
        raise DomainError(_("Your role may not manage screening campaigns."), code="forbidden")
    forms.check_definition(definition)
    if not forms.NAME.match(str(code or "").replace("-", "_")):
        raise DomainError(_("A form code is letters, digits, - and _."), field="code")
    form, _created = Form.objects.get_or_create(code=code, defaults={"title": str(title or code)[:200],
                                                                     "title_en": str(title_en)[:200]})
    last = form.versions.order_by("-number").values_list("number", flat=True).first() or 0
    return FormVersion.objects.create(form=form, number=last + 1, definition=definition, xlsform=xlsform,
                                      xform=xform, created_by=actor)


# ---- editing a draft ---------------------------------------------------------------------------------------------

DRAFT_FIELDS = ("name", "purpose", "legal_basis", "target_kind", "target_codes", "starts_on", "ends_on",
                "form_version", "daily_deadline", "retention_days")


@transaction.atomic
def do_update_campaign(campaign, *, actor, **changes):
    """Changes a draft's settings (the organising area stays); checked as on creation. A campaign that has started
    keeps what its workers were shown."""
    _manageable(campaign, actor)
    campaign = _locked(campaign)
    _expect(campaign, CampaignState.DRAFT)
    unknown = sorted(set(changes) - set(DRAFT_FIELDS))
    if unknown:
        raise DomainError(_("This cannot be changed."), field=unknown[0])
    for field in ("name", "purpose", "legal_basis"):
        if field in changes:
            if not str(changes[field] or "").strip():
                raise DomainError(_("Required."), field=field)
            setattr(campaign, field, str(changes[field]).strip()[:200] if field == "name" else
                    str(changes[field]).strip())
    if "target_kind" in changes:
        if changes["target_kind"] not in TargetKind.values:
            raise DomainError(_("Unknown target."), field="target_kind")
        campaign.target_kind = changes["target_kind"]
    if "target_codes" in changes:
        campaign.target_codes = _target_codes(campaign.area_code, list(changes["target_codes"] or []))
        campaign.scope_prefixes = _prefixes(campaign.target_codes)
    for field in ("starts_on", "ends_on"):
        if field in changes:
            setattr(campaign, field, _date(changes[field], field))
    if campaign.ends_on < campaign.starts_on:
        raise DomainError(_("The campaign ends before it starts."), field="ends_on")
    if "form_version" in changes:
        campaign.form_version = _form_version(changes["form_version"])
    if "daily_deadline" in changes:
        campaign.daily_deadline = _time(changes["daily_deadline"], "daily_deadline")
    if "retention_days" in changes:
        try:
            days = int(changes["retention_days"])
        except (TypeError, ValueError) as exc:
            raise DomainError(_("A whole number of days."), field="retention_days") from exc
        if not 0 <= days <= MAX_RETENTION_DAYS:
            raise DomainError(_("Between 0 and %(max)s days.") % {"max": MAX_RETENTION_DAYS}, field="retention_days")
        campaign.retention_days = days
    campaign.save()
    return campaign


# ---- the ledger's registered persons (campaigns/ledger.py: 人头清) -------------------------------------------------

def count_registered_persons(campaign, round_number):
    """Writes each grid's registered persons (normal status) into the round's ledger rows, as `registered` holds
    its households: the ledger's 人头清 compares the persons screened with them. For _open_round, in its transaction
    after the rows are inserted (one UPDATE: a count per grid from the person index on grid_code). Rows left None
    are counted live by the ledger."""
    from wangge.registry.models import Person, PersonStatus

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {CoverageCount._meta.db_table} c SET registered_persons = (SELECT count(*) FROM "
            f"{Person._meta.db_table} p WHERE p.grid_code = c.grid_code AND p.status = %s) "
            "WHERE c.campaign_id = %s AND c.round = %s", [PersonStatus.NORMAL, campaign.pk, round_number])
        return cursor.rowcount
