"""The work-team API and services: posts with history, one chief per grid, memberships, volunteers, coverage and
roster — and every endpoint tried from another community's (or subdistrict's) account."""

import datetime

import pytest
from django.utils import timezone

from wangge.core.errors import DomainError
from wangge.core.testing import (
    COMMUNITY_A,
    COMMUNITY_B,
    OTHER_SUBDISTRICT_COMMUNITY,
    assert_cross_scope_denied,
    assert_matches_schema,
    make_superuser,
    make_user,
)
from wangge.geo.models import Area
from wangge.registry import services as registry
from wangge.workforce import services
from wangge.workforce.models import DepartmentMembership, GridPost, PostKind, VolunteerAssignment

pytestmark = pytest.mark.django_db

API = "/api/v1/workforce"
TODAY = timezone.localdate


def grids_of(district, community=COMMUNITY_A):
    return list(Area.objects.filter(generation=district, parent__code=community, level="grid")
                .order_by("code").values_list("code", flat=True))


@pytest.fixture
def staff(district):
    return make_user("community_staff", COMMUNITY_A)


@pytest.fixture
def outsider(district):
    return make_user("community_staff", COMMUNITY_B)


@pytest.fixture
def root(district):
    return make_superuser()


@pytest.fixture
def department(root, district):
    return services.do_create_department(actor=root, name="城管局", code="CGJ", area_code=district.areas.get(
        level="district").code)


@pytest.fixture
def world(district, staff, root, department):
    grid = grids_of(district)[0]
    chief = services.do_appoint(actor=staff, kind=PostKind.GRID_CHIEF, grid_code=grid, holder_name="王网格长",
                                started_on="2025-01-01")
    member = services.do_add_member(department, actor=root, user=staff)
    volunteer = services.do_assign_volunteer(actor=staff, department=department, grid_code=COMMUNITY_A,
                                             name="李突击", started_on="2025-01-01")
    return {"grid": grid, "chief": chief, "member": member, "volunteer": volunteer}


def test_appoint_end_and_history(client, staff, district):
    grid = grids_of(district)[0]
    client.force_login(staff)
    response = client.post(f"{API}/posts/", {"kind": "full_time", "grid_code": grid, "holder_name": "张三",
                                             "started_on": "2025-03-01"}, content_type="application/json")
    assert response.status_code == 201, response.content
    assert_matches_schema(response, "/api/v1/workforce/posts/", "post")
    post_id = response.json()["id"]

    ended = client.post(f"{API}/posts/{post_id}/end/", {"reason": "resigned"}, content_type="application/json")
    assert ended.status_code == 200
    assert ended.json()["ended_on"] == TODAY().isoformat()
    # The row is kept: it shows in the history, not among today's active posts.
    assert GridPost.objects.filter(pk=post_id).exists()
    listed = client.get(f"{API}/posts/", {"area": grid}).json()["results"]
    assert [p["id"] for p in listed] == [post_id]
    assert client.get(f"{API}/posts/", {"area": grid, "active_on": TODAY().isoformat()}).json()["results"] == []
    assert [p["id"] for p in client.get(f"{API}/posts/", {"area": grid, "active_on": "2025-03-02"})
            .json()["results"]] == [post_id]
    again = client.post(f"{API}/posts/{post_id}/end/", {}, content_type="application/json")
    assert again.status_code == 400 and "ended_on" in again.json()["error"]["fields"]


def test_one_chief_per_grid_and_several_posts_per_person(staff, district):
    first, second = grids_of(district)[:2]
    person = registry.do_create_person(actor=staff, name="赵六", grid_code=first)
    services.do_appoint(actor=staff, kind=PostKind.GRID_CHIEF, grid_code=first, holder_name="甲")
    with pytest.raises(DomainError) as refused:
        services.do_appoint(actor=staff, kind=PostKind.GRID_CHIEF, grid_code=first, holder_name="乙")
    assert refused.value.field == "kind"
    # One holder, several posts: chief of one grid, worker of another, instructor of the community.
    services.do_appoint(actor=staff, kind=PostKind.GRID_CHIEF, grid_code=second, holder_person=person)
    services.do_appoint(actor=staff, kind=PostKind.FULL_TIME, grid_code=first, holder_person=person)
    services.do_appoint(actor=staff, kind=PostKind.INSTRUCTOR, grid_code=COMMUNITY_A, holder_person=person)
    assert GridPost.objects.filter(holder_person=person, holder_name="赵六").count() == 3
    with pytest.raises(DomainError) as twice:
        services.do_appoint(actor=staff, kind=PostKind.FULL_TIME, grid_code=first, holder_person=person)
    assert twice.value.field == "holder_name"


@pytest.mark.parametrize("body, field", [
    ({"kind": "full_time", "grid_code": COMMUNITY_A, "holder_name": "x"}, "grid_code"),  # grid posts need a grid
    ({"kind": "full_time", "grid_code": "37010300200199", "holder_name": "x"}, "grid_code"),
    ({"kind": "full_time", "grid_code": "370103002001999", "holder_name": "x"}, "grid_code"),  # no such grid
    ({"kind": "captain", "grid_code": COMMUNITY_A, "holder_name": "x"}, "kind"),
    ({"kind": "instructor", "grid_code": COMMUNITY_A}, "holder_name"),
    ({"kind": "instructor", "grid_code": COMMUNITY_A, "holder_person": 999999999}, "holder_person"),
    ({"kind": "full_time", "grid_code": None, "holder_name": "x"}, "grid_code"),
])
def test_bad_post_input_names_the_field(client, staff, district, body, field):
    client.force_login(staff)
    response = client.post(f"{API}/posts/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


def test_end_date_rules(staff, district):
    post = services.do_appoint(actor=staff, kind=PostKind.PART_TIME, grid_code=grids_of(district)[0],
                               holder_name="甲", started_on="2025-05-01")
    for day in ("2025-04-30", (TODAY() + datetime.timedelta(days=2)).isoformat()):
        with pytest.raises(DomainError) as refused:
            services.do_end_post(post, actor=staff, ended_on=day)
        assert refused.value.field == "ended_on"


def test_leader_assignment_to_a_project(staff):
    post = services.do_appoint(actor=staff, kind=PostKind.LEADER, grid_code=COMMUNITY_A, holder_name="刘书记",
                               project="老旧小区改造")
    assert post.project == "老旧小区改造"
    with pytest.raises(DomainError) as refused:
        services.do_appoint(actor=staff, kind=PostKind.FULL_TIME, grid_code=COMMUNITY_A + "001",
                            holder_name="x", project="p")
    assert refused.value.field in ("project", "grid_code")


def test_cannot_appoint_outside_scope(client, outsider, staff, district):
    client.force_login(outsider)
    response = client.post(f"{API}/posts/", {"kind": "grid_chief", "grid_code": grids_of(district)[0],
                                             "holder_name": "x"}, content_type="application/json")
    assert response.status_code == 404
    grid_worker = make_user("grid_worker", COMMUNITY_A)
    client.force_login(grid_worker)  # may see the team, not appoint
    response = client.post(f"{API}/posts/", {"kind": "grid_chief", "grid_code": grids_of(district)[0],
                                             "holder_name": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert GridPost.objects.count() == 0


def test_every_endpoint_denies_other_scopes(client, world, outsider, district):
    far = make_user("subdistrict_staff", OTHER_SUBDISTRICT_COMMUNITY[:9])
    leader = make_user("leader", COMMUNITY_A)
    chief, volunteer, member = world["chief"], world["volunteer"], world["member"]
    for user in (outsider, far):
        for url in (f"{API}/posts/{chief.pk}/", f"{API}/volunteers/{volunteer.pk}/",
                    f"{API}/roster/?community={COMMUNITY_A}", f"{API}/coverage/?area={COMMUNITY_A}"):
            assert_cross_scope_denied(client, user, url)
        for url, body in ((f"{API}/posts/{chief.pk}/end/", {}), (f"{API}/volunteers/{volunteer.pk}/end/", {}),
                          (f"{API}/memberships/{member.pk}/end/", {}),
                          (f"{API}/departments/{member.department_id}/end/", {}),
                          (f"{API}/departments/", {"name": "x", "code": "X", "area_code": "370103"}),
                          (f"{API}/memberships/", {"department": member.department_id, "user": outsider.pk}),
                          (f"{API}/volunteers/", {"department": member.department_id, "grid_code": COMMUNITY_A,
                                                  "name": "x"}),
                          (f"{API}/posts/", {"kind": "instructor", "grid_code": COMMUNITY_A, "holder_name": "x"})):
            assert_cross_scope_denied(client, user, url, method="post", data=body)
        client.force_login(user)
        assert client.get(f"{API}/posts/").json()["results"] == []
        assert client.get(f"{API}/volunteers/").json()["results"] == []
    # Leaders (aggregates only) see the coverage counts, not the people.
    for url in (f"{API}/posts/", f"{API}/volunteers/", f"{API}/departments/", f"{API}/memberships/",
                f"{API}/roster/?community={COMMUNITY_A}"):
        assert_cross_scope_denied(client, leader, url)
    client.force_login(leader)
    assert client.get(f"{API}/coverage/?area={COMMUNITY_A}").status_code == 200
    chief.refresh_from_db()
    volunteer.refresh_from_db()
    assert chief.ended_on is None and volunteer.ended_on is None


def test_departments_seen_from_below_managed_from_above(client, world, staff, department):
    client.force_login(staff)
    listed = client.get(f"{API}/departments/")
    assert listed.status_code == 200
    assert_matches_schema(listed, "/api/v1/workforce/departments/")
    assert [d["code"] for d in listed.json()["results"]] == ["CGJ"]
    # A community may see the district's department, not close it or add members to it.
    assert client.post(f"{API}/departments/{department.pk}/end/", {}, content_type="application/json"
                       ).status_code == 404
    response = client.post(f"{API}/departments/", {"name": "x", "code": "X", "area_code": "370103"},
                           content_type="application/json")
    assert response.status_code == 404
    assert client.get(f"{API}/memberships/").json()["results"][0]["user"] == staff.pk


def test_membership_and_closing_a_department(client, root, world, department, staff):
    client.force_login(root)
    handler = make_user("department", "370103")
    response = client.post(f"{API}/memberships/", {"department": department.pk, "user": handler.pk,
                                                   "role": "head"}, content_type="application/json")
    assert response.status_code == 201, response.content
    duplicate = client.post(f"{API}/memberships/", {"department": department.pk, "user": handler.pk,
                                                    "role": "head"}, content_type="application/json")
    assert duplicate.status_code == 400 and "user" in duplicate.json()["error"]["fields"]
    closed = client.post(f"{API}/departments/{department.pk}/end/", {}, content_type="application/json")
    assert closed.status_code == 200 and closed.json()["closed_on"] == TODAY().isoformat()
    assert not DepartmentMembership.objects.filter(department=department, active_to__isnull=True).exists()
    assert DepartmentMembership.objects.filter(department=department).count() == 2  # kept
    refused = client.post(f"{API}/volunteers/", {"department": department.pk, "grid_code": COMMUNITY_A,
                                                 "name": "x"}, content_type="application/json")
    assert refused.status_code == 400 and "department" in refused.json()["error"]["fields"]


def test_volunteer_period(client, staff, world, department):
    client.force_login(staff)
    response = client.post(f"{API}/volunteers/", {"department": department.pk, "grid_code": COMMUNITY_A,
                                                  "name": "党员甲", "team": "第一突击队", "started_on": "2025-02-01",
                                                  "ended_on": "2025-01-01"}, content_type="application/json")
    assert response.status_code == 400 and "ended_on" in response.json()["error"]["fields"]
    outside = client.post(f"{API}/volunteers/", {"department": department.pk, "grid_code": COMMUNITY_B,
                                                 "name": "党员乙"}, content_type="application/json")
    assert outside.status_code == 404
    volunteer = world["volunteer"]
    ended = client.post(f"{API}/volunteers/{volunteer.pk}/end/", {}, content_type="application/json")
    assert ended.status_code == 200
    assert_matches_schema(ended, "/api/v1/workforce/volunteers/{id}/end/", "post")
    assert VolunteerAssignment.objects.active_on().filter(pk=volunteer.pk).count() == 0


def test_coverage_lists_gaps_and_counts(client, staff, district):
    grids = grids_of(district)
    assert len(grids) >= 2
    services.do_appoint(actor=staff, kind=PostKind.GRID_CHIEF, grid_code=grids[0], holder_name="甲",
                        started_on="2025-01-01")
    services.do_appoint(actor=staff, kind=PostKind.PART_TIME, grid_code=grids[0], holder_name="乙",
                        started_on="2025-01-01")
    services.do_appoint(actor=staff, kind=PostKind.GRID_CHIEF, grid_code=grids[1], holder_name="丙",
                        started_on="2025-01-01")
    ended = services.do_appoint(actor=staff, kind=PostKind.FULL_TIME, grid_code=grids[1], holder_name="丁",
                                started_on="2025-01-01")
    services.do_end_post(ended, actor=staff)
    services.do_appoint(actor=staff, kind=PostKind.INSTRUCTOR, grid_code=COMMUNITY_A, holder_name="戊")

    client.force_login(staff)
    response = client.get(f"{API}/coverage/", {"area": COMMUNITY_A})
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/workforce/coverage/")
    body = response.json()
    gaps = {gap["code"]: gap["missing"] for gap in body["gaps"]}
    assert grids[0] not in gaps
    assert gaps[grids[1]] == ["worker"]  # the worker's post ended: a gap again
    for grid in grids[2:]:
        assert gaps[grid] == ["chief", "worker"]
    [community] = body["communities"]
    assert community["grids"] == len(grids) and community["covered"] == 1
    assert community["without_chief"] == len(grids) - 2 and community["without_worker"] == len(grids) - 1
    # Before the appointments every grid was a gap.
    earlier = client.get(f"{API}/coverage/", {"area": COMMUNITY_A, "date": "2024-12-31"}).json()
    assert earlier["totals"]["covered"] == 0
    assert client.get(f"{API}/coverage/", {"area": "37x"}).status_code in (400, 404)
    assert client.get(f"{API}/coverage/", {"area": COMMUNITY_A, "date": "soon"}).status_code == 400


def test_coverage_is_open_where_either_scope_reaches(client, district):
    """The report reads the team where the user may see it (VIEW_WORKFORCE) or its counts (VIEW_AGGREGATES): a grid
    worker of one community who leads another reaches both, and opens on the wider of the two."""
    from wangge.accounts.models import AreaAssignment, Role

    grid = grids_of(district)[0]
    user = make_user("grid_worker", grid)
    AreaAssignment.objects.create(user=user, area_code=COMMUNITY_B, role=Role.objects.get(slug="leader"))
    client.force_login(user)
    assert client.get(f"{API}/coverage/").json()["area"]["code"] == COMMUNITY_B
    for area in (grid, COMMUNITY_B):
        assert client.get(f"{API}/coverage/", {"area": area}).status_code == 200, area
    for area in (COMMUNITY_A, OTHER_SUBDISTRICT_COMMUNITY, COMMUNITY_A[:9]):  # neither reaches these
        assert_cross_scope_denied(client, user, f"{API}/coverage/?area={area}")


def test_roster_names_holders_and_masks_phones(client, staff, district):
    grid = grids_of(district)[0]
    person = registry.do_create_person(actor=staff, name="王五", phone="13800138000", grid_code=grid)
    services.do_appoint(actor=staff, kind=PostKind.GRID_CHIEF, grid_code=grid, holder_person=person)
    services.do_appoint(actor=staff, kind=PostKind.INSTRUCTOR, grid_code=COMMUNITY_A, holder_name="下沉干部")
    services.do_appoint(actor=make_superuser(), kind=PostKind.LEADER, grid_code=COMMUNITY_A[:9],
                        holder_name="街道书记")
    client.force_login(staff)
    response = client.get(f"{API}/roster/", {"community": COMMUNITY_A})
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/workforce/roster/")
    body = response.json()
    by_grid = {g["code"]: g["posts"] for g in body["grids"]}
    assert [(p["holder_name"], p["kind"]) for p in by_grid[grid]] == [("王五", "grid_chief")]
    assert "13800138000" not in response.content.decode()
    assert by_grid[grid][0]["phone"] == person.phone_masked != ""
    assert [p["holder_name"] for p in body["area_posts"]] == ["街道书记", "下沉干部"]
    assert client.get(f"{API}/roster/", {"community": grid}).status_code == 400
    assert client.get(f"{API}/roster/").status_code == 400
