"""Campaigns through their services: states and rounds, visits validated and matched, the ledger kept by the visit
service (checked against a hand count), flags opening events, proposals, idempotent resubmission, the audited
reading of answers, the purge, and scope."""

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.utils import timezone

from wangge.campaigns import services
from wangge.campaigns.models import (
    AnswerReveal,
    CampaignState,
    CoverageCount,
    FlagHit,
    HouseholdScreening,
    PersonProposal,
    Visit,
    VisitMember,
)
from wangge.cases.models import Category, Event
from wangge.core.errors import DomainError
from wangge.core.testing import (
    COMMUNITY_A,
    COMMUNITY_B,
    DOOR_PHOTO,
    OTHER_SUBDISTRICT_COMMUNITY,
    ROOM_PHOTOS,
    make_user,
    png_upload,
    running_photo_campaign,
)
from wangge.geo.models import Area
from wangge.registry import services as registry

pytestmark = pytest.mark.django_db
KNOWN_ID, NEW_ID = "11010519491231002X", "370103199001011238"


def grids(community, count):
    return list(Area.objects.filter(generation__state="active", level="grid", code__startswith=community)
                .order_by("code").values_list("code", flat=True)[:count])


@pytest.fixture
def world(district):
    staff = make_user("subdistrict_staff", COMMUNITY_A[:9])
    community = make_user("community_staff", COMMUNITY_A)
    grid, other_grid = grids(COMMUNITY_A, 2)
    far_grid = grids(COMMUNITY_B, 1)[0]
    households = [registry.do_create_household(actor=community, number=f"H-{i}", grid_code=grid) for i in range(3)]
    households.append(registry.do_create_household(actor=community, number="H-other", grid_code=other_grid))
    far = registry.do_create_household(actor=make_user("community_staff", COMMUNITY_B), number="H-far",
                                       grid_code=far_grid)
    known = registry.do_create_person(actor=community, name="张三", id_number=KNOWN_ID, household=households[0],
                                      grid_code=grid)
    campaign = services.do_create_campaign(
        actor=staff, name="冬季入户摸排", purpose="掌握辖区返乡人员健康情况", legal_basis="《传染病防治法》第三十一条",
        area_code=COMMUNITY_A[:9], target_codes=[COMMUNITY_A], starts_on=date.today(),
        ends_on=date.today() + timedelta(days=14), retention_days=7)
    return {"staff": staff, "community": community, "grid": grid, "other_grid": other_grid,
            "households": households, "far": far, "known": known, "campaign": campaign,
            "worker": make_user("grid_worker", grid), "other_worker": make_user("grid_worker", far_grid)}


def member(**values):
    row = {"name": "张三", "id_number": KNOWN_ID, "returned": "no", "fever": "no", "contact": "no",
           "isolation": "none"}
    row.update(values)
    return row


def running(world):
    return services.do_start_campaign(world["campaign"], actor=world["staff"])


def ledger(campaign, grid):
    return CoverageCount.objects.get(campaign=campaign, round=campaign.current_round, grid_code=grid)


def test_states_and_refusals(world):
    campaign = world["campaign"]
    with pytest.raises(DomainError) as err:  # a draft takes no visits
        services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0],
                                 status="absent")
    assert err.value.code == "invalid_transition"
    with pytest.raises(DomainError) as err:
        services.do_start_campaign(campaign, actor=world["worker"])
    assert err.value.status_code == 403
    campaign = running(world)
    assert campaign.state == CampaignState.RUNNING and campaign.current_round == 1
    assert ledger(campaign, world["grid"]).registered == 3
    assert ledger(campaign, world["other_grid"]).registered == 1
    with pytest.raises(DomainError):
        services.do_start_campaign(campaign, actor=world["staff"])
    campaign = services.do_close_campaign(campaign, actor=world["staff"])
    assert campaign.purge_due_on == timezone.localdate() + timedelta(days=7)
    with pytest.raises(DomainError) as err:  # closed: answers are frozen
        services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0],
                                 status="absent")
    assert err.value.field == "campaign"


@pytest.mark.parametrize("changes, field", [
    ({"purpose": " "}, "purpose"), ({"legal_basis": ""}, "legal_basis"),
    ({"target_codes": [OTHER_SUBDISTRICT_COMMUNITY]}, "target_codes"),
    ({"target_codes": ["999999999999"]}, "target_codes"),
    ({"ends_on": "2000-01-01"}, "ends_on"), ({"retention_days": -1}, "retention_days"),
    ({"starts_on": "tomorrow"}, "starts_on"),
])
def test_create_refusals(world, changes, field):
    values = {"name": "x", "purpose": "p", "legal_basis": "l", "area_code": COMMUNITY_A[:9],
              "target_codes": [COMMUNITY_A], "starts_on": date.today(), "ends_on": date.today()}
    values.update(changes)
    with pytest.raises(DomainError) as err:
        services.do_create_campaign(actor=world["staff"], **values)
    assert err.value.field == field


def test_a_visit_matches_members_proposes_strangers_and_moves_the_ledger(world):
    campaign = running(world)
    household = world["households"][0]
    visit = services.do_record_visit(campaign, actor=world["worker"], household=household, status="visited",
                                     answers={"members": [member(), member(name="王五", id_number=NEW_ID)]})
    rows = list(VisitMember.objects.filter(visit=visit).order_by("index"))
    assert rows[0].person == world["known"] and rows[1].person is None
    proposal = PersonProposal.objects.get(visit=visit)
    assert proposal.name == "王五" and proposal.id_number_masked.startswith("370103") and NEW_ID not in str(
        proposal.__dict__)
    assert NEW_ID not in visit.answers_enc and "王五" not in visit.answers_enc  # sealed
    counts = ledger(campaign, world["grid"])
    assert (counts.visited, counts.members, counts.flagged_members) == (1, 2, 0)
    # the household called on again: its standing moves, the ledger counts it once
    services.do_record_visit(campaign, actor=world["worker"], household=household, status="refused")
    counts = ledger(campaign, world["grid"])
    assert (counts.visited, counts.refused, counts.members) == (0, 1, 0)
    assert HouseholdScreening.objects.get(household=household).status == "refused"


def test_ledger_equals_a_hand_count(world):
    campaign = running(world)
    a, b, c, other = world["households"]
    worker = world["worker"]
    services.do_record_visit(campaign, actor=worker, household=a, status="absent")
    services.do_record_visit(campaign, actor=worker, household=a, status="visited",
                             answers={"members": [member(returned="yes", return_date="2026-11-20", from_place="武汉",
                                                         isolation="home")]})
    services.do_record_visit(campaign, actor=worker, household=b, status="revisit",
                             revisit_at=(timezone.now() + timedelta(days=1)).isoformat())
    services.do_record_visit(campaign, actor=make_user("grid_worker", world["other_grid"]), household=other,
                             status="moved_out")
    grid = ledger(campaign, world["grid"])
    assert (grid.registered, grid.visited, grid.absent, grid.revisit, grid.refused, grid.moved_out) == (
        3, 1, 0, 1, 0, 0)
    assert grid.registered - grid.visited - grid.absent - grid.revisit - grid.refused - grid.moved_out == 1  # c
    assert grid.stats == {"arrival": 1, "isolation_home": 1}
    assert ledger(campaign, world["other_grid"]).moved_out == 1
    assert c.pk not in HouseholdScreening.objects.values_list("household_id", flat=True)


def test_the_ledger_takes_back_what_a_households_earlier_call_counted(world):
    campaign = running(world)
    household, worker = world["households"][0], world["worker"]
    arrival = {"members": [member(returned="yes", return_date="2026-11-20", from_place="武汉", isolation="home"),
                           member(name="王五", id_number=NEW_ID)]}
    services.do_record_visit(campaign, actor=worker, household=household, status="visited", answers=arrival)
    counts = ledger(campaign, world["grid"])
    assert (counts.visited, counts.members, counts.stats) == (1, 2, {"arrival": 1, "isolation_home": 1})
    services.do_record_visit(campaign, actor=worker, household=household, status="visited",
                             answers={"members": [member()]})  # the arrival was a mistake
    counts = ledger(campaign, world["grid"])
    assert (counts.visited, counts.members, counts.stats) == (1, 1, {})
    services.do_record_visit(campaign, actor=worker, household=household, status="visited", answers=arrival)
    services.do_record_visit(campaign, actor=worker, household=household, status="moved_out")
    counts = ledger(campaign, world["grid"])
    assert (counts.visited, counts.moved_out, counts.members, counts.stats) == (0, 1, 0, {})
    standing = HouseholdScreening.objects.get(campaign=campaign, household=household)
    assert (standing.status, standing.members, standing.last_visit) == (
        "moved_out", 0, Visit.objects.filter(household=household).order_by("-created_at", "-id").first())


def test_flags_open_events_and_tell_the_grid(world):
    campaign = running(world)
    category = Category.objects.get(kind="event", code="0901")
    services.do_add_flag_rule(campaign, actor=world["staff"], code="fever", label="发热", field="fever",
                              operator="eq", value="yes", category=category.pk, urgency="urgent")
    with pytest.raises(DomainError) as err:
        services.do_add_flag_rule(campaign, actor=world["staff"], code="x", label="x", field="colour",
                                  operator="eq", value="yes")
    assert err.value.field == "field"
    visit = services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0],
                                     status="visited", answers={"members": [member(), member(
                                         name="王五", id_number=NEW_ID, fever="yes")]})
    assert visit.flags == ["fever"]
    hit = FlagHit.objects.get(visit=visit)
    assert hit.member_index == 1 and hit.event is not None
    event = Event.objects.get(pk=hit.event_id)
    assert event.category == category and event.urgency == "urgent" and event.grid_code == world["grid"]
    assert "王五" not in event.description and NEW_ID not in event.description
    assert VisitMember.objects.get(visit=visit, index=1).flagged
    assert ledger(campaign, world["grid"]).flagged_members == 1
    assert world["community"].notifications.filter(title__contains="发热").exists()


def test_a_flag_raised_with_the_gps_in_the_next_grid_opens_the_event_in_the_households_grid(world):
    """A phone's GPS near a grid's edge can put the worker in the neighbouring grid, outside their area: the visit
    is kept (inside_grid false) and its flag opens the event where the household is."""
    from wangge.geo.models import Area

    campaign = running(world)
    services.do_add_flag_rule(campaign, actor=world["staff"], code="fever", label="发热", field="fever",
                              operator="eq", value="yes", category=Category.objects.get(kind="event", code="0901").pk)
    elsewhere = Area.objects.filter(generation__state="active", level="grid").exclude(
        code__startswith=world["grid"][:12]).first().geom.point_on_surface
    visit = services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0],
                                     status="visited", answers={"members": [member(fever="yes")]},
                                     location={"type": "Point", "coordinates": [elsewhere.x, elsewhere.y]})
    assert visit.inside_grid is False and visit.flags == ["fever"]
    event = Event.objects.get(pk=FlagHit.objects.get(visit=visit).event_id)
    assert event.grid_code == world["grid"]


def test_bad_answers_write_nothing(world):
    campaign = running(world)
    with pytest.raises(DomainError) as err:
        services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0],
                                 status="visited", answers={"members": [member(fever="maybe")]})
    assert err.value.fields == {"members[0].fever": [err.value.fields["members[0].fever"][0]]}
    with pytest.raises(DomainError) as err:
        services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0],
                                 status="absent", answers={"members": [member()]})
    assert err.value.field == "answers"
    assert not Visit.objects.exists() and ledger(campaign, world["grid"]).absent == 0


def test_photos_are_stored_with_their_visit_and_a_refused_visit_keeps_none(world, settings, tmp_path, monkeypatch):
    """A photo question answered with the uploaded file: the visit service stores it in the campaign's folder and the
    answer names where; a visit refused after its photos were stored (answers that break the form, a photo that is
    no image, any error on the way) leaves no file behind, and a resubmitted instance stores nothing."""
    settings.MEDIA_ROOT = tmp_path
    campaign = running_photo_campaign(world["staff"], [
        {"name": "note", "type": "text", "label": {"zh": "备注", "en": "Note"}, "required": True}, DOOR_PHOTO,
        ROOM_PHOTOS])
    first, second = world["households"][:2]

    def files():
        return {path for path in tmp_path.rglob("*") if path.is_file()}

    def record(household, answers, **kwargs):
        return services.do_record_visit(campaign, actor=world["worker"], household=household, status="visited",
                                        answers=answers, **kwargs)

    visit = record(first, {"note": "二楼", "door": png_upload("door.png"),
                           "rooms": [{"view": png_upload("room.png")}, {}]}, instance_id="uuid:photos-1")
    answers = services.do_reveal_answers(visit, actor=world["community"], reason="核对")
    names = {answers["door"], answers["rooms"][0]["view"]}
    assert all(name.startswith(f"campaigns/{campaign.pk}/") for name in names)
    assert files() == {tmp_path / name for name in names}

    with pytest.raises(DomainError) as err:  # the photos pass, the answers do not
        record(second, {"door": png_upload("door.png"), "rooms": [{"view": png_upload("room.png")}]})
    assert "note" in err.value.fields
    with pytest.raises(DomainError) as err:  # the second photo is no image
        record(second, {"note": "x", "door": png_upload("door.png"),
                        "rooms": [{"view": SimpleUploadedFile("room.png", b"GIF89a not really")}]})
    assert err.value.field == "rooms[0].view"

    def down(*args):
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched:  # anything failing after the photos were stored
        patched.setattr(services, "_move_standing", down)
        with pytest.raises(RuntimeError):
            record(second, {"note": "x", "door": png_upload("door.png")})
    again = record(first, {"note": "二楼", "door": png_upload("door.png")}, instance_id="uuid:photos-1")
    assert again.pk == visit.pk
    assert files() == {tmp_path / name for name in names} and Visit.objects.filter(campaign=campaign).count() == 1


@pytest.mark.parametrize("status, revisit_at", [
    ("revisit", None), ("revisit", "yesterday"), ("revisit", "2020-01-01T09:00:00+08:00"),
    ("absent", "2099-01-01T09:00:00+08:00")])
def test_the_time_to_call_again(world, status, revisit_at):
    campaign = running(world)
    with pytest.raises(DomainError) as err:
        services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0], status=status,
                                 revisit_at=revisit_at)
    assert err.value.field == "revisit_at"


def test_households_outside_the_workers_grids(world):
    campaign = running(world)
    with pytest.raises(Http404):  # a target household in another grid
        services.do_record_visit(campaign, actor=world["worker"], household=world["households"][3],
                                 status="absent")
    with pytest.raises(DomainError) as err:  # not a target at all
        services.do_record_visit(campaign, actor=world["other_worker"], household=world["far"], status="absent")
    assert err.value.field == "household"


def test_resubmitting_an_instance_is_idempotent(world):
    campaign = running(world)
    kwargs = {"household": world["households"][0], "status": "visited", "answers": {"members": [member()]},
              "instance_id": "uuid:4b1c-1"}
    first = services.do_record_visit(campaign, actor=world["worker"], **kwargs)
    again = services.do_record_visit(campaign, actor=world["worker"], **kwargs)
    assert again.pk == first.pk and Visit.objects.count() == 1 and ledger(campaign, world["grid"]).visited == 1
    with pytest.raises(Http404):  # someone else replaying another's instance id learns nothing
        services.do_record_visit(campaign, actor=world["other_worker"], **kwargs)


def test_a_new_round_starts_coverage_again_and_keeps_the_old(world):
    campaign = running(world)
    services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0], status="absent")
    with pytest.raises(DomainError) as err:
        services.do_rescreen(campaign, actor=world["staff"], reason="", deadline=None)
    assert err.value.field == "reason"
    with pytest.raises(DomainError) as err:
        services.do_rescreen(campaign, actor=world["staff"], reason="风险地区调整",
                             deadline=timezone.now() - timedelta(hours=1))
    assert err.value.field == "deadline"
    campaign = services.do_rescreen(campaign, actor=world["staff"], reason="风险地区调整",
                                    deadline=timezone.now() + timedelta(hours=10))
    assert campaign.current_round == 2
    assert CoverageCount.objects.get(campaign=campaign, round=1, grid_code=world["grid"]).absent == 1
    assert ledger(campaign, world["grid"]).absent == 0
    visit = services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0],
                                     status="absent")
    assert visit.round == 2


def test_reading_answers_is_audited_and_scoped(world):
    campaign = running(world)
    visit = services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0],
                                     status="visited", answers={"members": [member(fever="yes")]})
    with pytest.raises(DomainError) as err:  # a grid worker records but does not read back
        services.do_reveal_answers(visit, actor=world["worker"], reason="核实")
    assert err.value.status_code == 403
    with pytest.raises(Http404):
        services.do_reveal_answers(visit, actor=make_user("community_staff", COMMUNITY_B), reason="核实")
    with pytest.raises(DomainError) as err:
        services.do_reveal_answers(visit, actor=world["community"], reason=" ")
    assert err.value.field == "reason"
    answers = services.do_reveal_answers(visit, actor=world["community"], reason="核实发热人员", request_id="r1")
    assert answers["members"][0]["fever"] == "yes" and answers["members"][0]["id_number"] == KNOWN_ID
    audit = AnswerReveal.objects.get()
    assert (audit.user, audit.visit, audit.reason, audit.request_id) == (world["community"], visit, "核实发热人员",
                                                                         "r1")


def test_proposal_review(world):
    campaign = running(world)
    visit = services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0],
                                     status="visited", answers={"members": [member(name="王五", id_number=NEW_ID)]})
    proposal = PersonProposal.objects.get(visit=visit)
    with pytest.raises(DomainError):
        services.do_review_proposal(proposal, actor=world["community"], accept=False, note="")
    proposal = services.do_review_proposal(proposal, actor=world["community"], accept=True)
    assert proposal.person.name == "王五" and proposal.person.household == world["households"][0]
    assert registry.find_person_by_id_number(NEW_ID) == proposal.person
    with pytest.raises(DomainError):
        services.do_review_proposal(proposal, actor=world["community"], accept=True)


def test_purge_after_retention_keeps_only_counts(world, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    campaign = running(world)
    photo = tmp_path / services.answer_files_folder(campaign.pk) / "answer.jpg"  # a photo answered in a form
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"jpeg")
    visit = services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0],
                                     status="visited", location={"type": "Point", "coordinates": [117, 36.6]},
                                     answers={"members": [member(), member(name="王五", id_number=NEW_ID)]})
    campaign = services.do_close_campaign(campaign, actor=world["staff"])
    with pytest.raises(DomainError) as err:
        services.do_purge_campaign(campaign, actor=world["staff"])
    assert "retention" in err.value.message
    assert services.purge_due_campaigns(today=timezone.localdate() + timedelta(days=6)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.purge_due_campaigns(today=timezone.localdate() + timedelta(days=7)) == 1
    assert not photo.exists()
    visit.refresh_from_db()
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.PURGED and visit.answers_enc == "" and visit.location is None
    assert not PersonProposal.objects.exists()
    assert not VisitMember.objects.filter(person__isnull=False).exists()
    assert not VisitMember.objects.exclude(id_number_index="").exists()
    counts = ledger(campaign, world["grid"])
    assert (counts.visited, counts.members) == (1, 2)  # the aggregate statistics stay
    with pytest.raises(DomainError):
        services.do_reveal_answers(visit, actor=world["community"], reason="x")


def test_starting_assigns_the_grid_posts_and_the_volunteers_sent_down(world):
    """At the start, each target grid's workers (by their posts) and the volunteers sent down to a target grid, with
    accounts and serving today, become its campaign workers; a volunteer sent to a whole community, one whose
    period is over and one sent outside the targets do not."""
    from wangge.campaigns.models import CampaignWorker
    from wangge.workforce.models import Department, GridPost, VolunteerAssignment

    GridPost.objects.create(kind="full_time", grid_code=world["grid"], holder_user=world["worker"],
                            holder_name="网格员", started_on=date(2024, 1, 1))
    sender = Department.objects.create(name="区直机关", code="T-QZ", area_code="370103")
    volunteers = {key: make_user("volunteer", code) for key, code in (
        ("here", world["other_grid"]), ("community", COMMUNITY_A), ("ended", world["other_grid"]),
        ("far", grids(COMMUNITY_B, 1)[0]))}
    for key, user in volunteers.items():
        code = {"community": COMMUNITY_A, "far": grids(COMMUNITY_B, 1)[0]}.get(key, world["other_grid"])
        VolunteerAssignment.objects.create(department=sender, grid_code=code, user=user, name=key,
                                           started_on=date(2024, 1, 1),
                                           ended_on=date(2024, 6, 1) if key == "ended" else None)
    running(world)
    assigned = set(CampaignWorker.objects.filter(campaign=world["campaign"]).values_list("grid_code", "user", "role"))
    assert assigned == {(world["grid"], world["worker"].pk, "grid_worker"),
                        (world["other_grid"], volunteers["here"].pk, "volunteer")}
    # the volunteer, holding the volunteer role in the grid, records a visit there
    visit = services.do_record_visit(world["campaign"], actor=volunteers["here"], household=world["households"][3],
                                     status="absent")
    assert visit.worker == volunteers["here"]
