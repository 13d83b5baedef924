from datetime import timedelta
from io import StringIO

import pghistory
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from wangge.accounts.models import AreaAssignment, Role
from wangge.accounts.services import do_create_api_key
from wangge.core.history import event_models_of, history_of
from wangge.core.testing import (
    COMMUNITY_A,
    COMMUNITY_B,
    OTHER_SUBDISTRICT_COMMUNITY,
    assert_cross_scope_denied,
    make_superuser,
    make_user,
)
from wangge.geo.models import Area
from wangge.geo.services import do_create_draft

pytestmark = pytest.mark.django_db


def _api(app_label, model_name, pk):
    return reverse("history-api", args=[app_label, model_name, pk])


def _ui(app_label, model_name, pk):
    return reverse("core:history", args=[app_label, model_name, pk])


def _grids(district, community):
    return Area.objects.filter(generation=district, parent__code=community).order_by("code")


def _updates(rows, field):
    return [row for row in rows if row["label"] == "update" and field in row["changes"]]


def test_a_bulk_update_is_recorded_per_row_with_who_and_which_request(district):
    staff = make_user("community_staff", COMMUNITY_A, display_name="Wang Fang")
    grids = list(_grids(district, COMMUNITY_A))
    assert len(grids) >= 2
    # What RequestContextMiddleware binds around every request.
    with pghistory.context(user=staff.pk, request_id="req-bulk-1", url="/somewhere/"):
        changed = Area.objects.filter(pk__in=[g.pk for g in grids]).update(name="Renamed in bulk")
    assert changed == len(grids)
    for grid in grids:
        [row] = _updates(history_of(grid), "name")
        assert row["changes"]["name"] == [grid.name, "Renamed in bulk"]
        assert row["user"] == staff.pk and row["user_name"] == "Wang Fang"
        assert row["request_id"] == "req-bulk-1"


def test_a_raw_sql_update_is_recorded_too(district):
    staff = make_user("community_staff", COMMUNITY_A)
    grid = _grids(district, COMMUNITY_A).first()
    with pghistory.context(user=staff.pk, request_id="req-raw-1"), connection.cursor() as cursor:
        cursor.execute("UPDATE geo_area SET notes = %s WHERE id = %s", ["fixed by hand", grid.pk])
    [row] = _updates(history_of(grid), "notes")
    assert row["changes"]["notes"] == [grid.notes, "fixed by hand"]
    assert row["user"] == staff.pk and row["request_id"] == "req-raw-1"


def test_an_api_update_records_the_request_id_of_its_response(client, district):
    draft = do_create_draft(actor=make_superuser(), description="changelog test")
    grid = Area.objects.get(generation=draft, code=_grids(district, COMMUNITY_A).first().code)
    staff = make_user("community_staff", COMMUNITY_A, display_name="Li Lei")
    client.force_login(staff)
    response = client.patch(reverse("area-detail", args=[grid.pk]), {"name": "Renamed by API"},
                            content_type="application/json")
    assert response.status_code == 200, response.content
    request_id = response["X-Request-ID"]
    assert request_id

    history = client.get(_api("geo", "area", grid.pk))
    assert history.status_code == 200
    body = history.json()
    assert body["object"] == {"app_label": "geo", "model": "area", "pk": str(grid.pk),
                              "label": f"{grid.code} Renamed by API", "exists": True}
    [row] = _updates(body["results"], "name")
    assert row["changes"]["name"] == [grid.name, "Renamed by API"]
    assert row["request_id"] == request_id
    assert row["user"] == staff.pk and row["user_name"] == "Li Lei"
    assert row["url"] == reverse("area-detail", args=[grid.pk])


def test_a_well_formed_incoming_request_id_is_kept_in_the_log(client, district):
    manager = make_user("admin", "370103002")
    user = make_user("grid_worker", COMMUNITY_A)
    client.force_login(manager)
    response = client.post(reverse("accounts-api:assignment-list"),
                           {"user": user.pk, "area_code": COMMUNITY_B, "role": "volunteer"},
                           content_type="application/json", HTTP_X_REQUEST_ID="trace-0042")
    assert response.status_code == 201, response.content
    assert response["X-Request-ID"] == "trace-0042"
    assignment = AreaAssignment.objects.get(pk=response.json()["id"])
    [insert] = [row for row in history_of(assignment) if row["label"] == "insert"]
    assert insert["request_id"] == "trace-0042" and insert["user"] == manager.pk
    assert insert["changes"]["area_code"] == [None, COMMUNITY_B]


def test_the_history_page_shows_time_who_request_and_before_after(client, district):
    grid = _grids(district, COMMUNITY_A).first()
    staff = make_user("community_staff", COMMUNITY_A, display_name="Zhao Min")
    with pghistory.context(user=staff.pk, request_id="req-page-7"):
        Area.objects.filter(pk=grid.pk).update(notes="new notes")
    client.force_login(staff)
    response = client.get(_ui("geo", "area", grid.pk), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Zhao Min" in page and "req-page-7" in page
    assert "new notes" in page and grid.name in page
    [row] = [c for c in response.context["changes"] if c["request_id"] == "req-page-7"]
    assert row["changes"]["notes"][1] == "new notes"
    # Newest first on the page.
    assert response.context["changes"][0]["request_id"] == "req-page-7"


def test_history_across_scope_is_404_in_the_ui_and_the_apis(client, district):
    grid_a = _grids(district, COMMUNITY_A).first()
    community_a = Area.objects.get(generation=district, code=COMMUNITY_A)
    outsider = make_user("community_staff", COMMUNITY_B)
    for url in (_api("geo", "area", grid_a.pk), _ui("geo", "area", grid_a.pk),
                _api("geo", "area", community_a.pk), reverse("area-history", args=[grid_a.pk])):
        assert_cross_scope_denied(client, outsider, url)
    insider = make_user("community_staff", COMMUNITY_A)
    client.force_login(insider)
    assert client.get(_api("geo", "area", grid_a.pk)).status_code == 200
    assert client.get(_ui("geo", "area", grid_a.pk)).status_code == 200


def test_missing_untracked_or_unknown_things_are_404_even_for_a_superuser(client, district):
    client.force_login(make_superuser())
    role = Role.objects.get(slug="grid_worker")
    assert client.get(_api("accounts", "role", role.pk)).status_code == 200
    for url in (_api("nosuch", "model", 1), _api("accounts", "nosuch", 1), _api("sessions", "session", "x"),
                _api("geo", "area", "not-a-number"), _ui("geo", "area", "not-a-number")):
        assert client.get(url).status_code == 404, url


def test_nobody_anonymous_reads_history(client, district):
    grid = _grids(district, COMMUNITY_A).first()
    assert client.get(_api("geo", "area", grid.pk)).status_code in (401, 403)
    response = client.get(_ui("geo", "area", grid.pk))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_user_and_role_history_is_for_user_managers_in_their_scope(client, district):
    manager = make_user("admin", "370103002")
    near = make_user("grid_worker", COMMUNITY_A)
    far = make_user("grid_worker", OTHER_SUBDISTRICT_COMMUNITY)
    role = Role.objects.get(slug="grid_worker")
    client.force_login(manager)
    assert client.get(_api("accounts", "user", near.pk)).status_code == 200
    assert client.get(_ui("accounts", "user", near.pk)).status_code == 200
    assert client.get(_api("accounts", "role", role.pk)).status_code == 200
    assert_cross_scope_denied(client, manager, _api("accounts", "user", far.pk))
    far_assignment = far.assignments.get()
    assert_cross_scope_denied(client, manager, _api("accounts", "areaassignment", far_assignment.pk))
    # Community staff see their areas' history, but people and roles are not theirs to inspect.
    staff = make_user("community_staff", COMMUNITY_A)
    assert_cross_scope_denied(client, staff, _api("accounts", "user", near.pk))
    assert_cross_scope_denied(client, staff, _api("accounts", "role", role.pk))


def test_api_key_history_never_holds_the_secret_and_follows_its_user(client, district):
    manager = make_user("admin", "370103002")
    system = make_user("system", COMMUNITY_A)
    key, raw = do_create_api_key(system, "registry sync", actor=manager)
    client.force_login(manager)
    response = client.get(_api("accounts", "apikey", key.pk))
    assert response.status_code == 200
    assert raw not in response.content.decode()
    assert key.key_hash not in response.content.decode()
    [insert] = response.json()["results"]
    assert insert["changes"]["prefix"] == [None, key.prefix]
    other_manager = make_user("admin", "370103003")
    assert_cross_scope_denied(client, other_manager, _api("accounts", "apikey", key.pk))


def test_a_deleted_rows_history_is_for_superusers_only(client, district):
    manager = make_user("admin", "370103002")
    user = make_user("grid_worker", COMMUNITY_A)
    assignment = user.assignments.get()
    pk = assignment.pk
    with pghistory.context(user=manager.pk, request_id="req-del-1"):
        assignment.delete()
    assert_cross_scope_denied(client, manager, _api("accounts", "areaassignment", pk))
    client.force_login(make_superuser())
    body = client.get(_api("accounts", "areaassignment", pk)).json()
    assert body["object"]["exists"] is False
    assert [row["label"] for row in body["results"]] == ["insert", "delete"]
    assert body["results"][-1]["request_id"] == "req-del-1"
    assert body["results"][-1]["changes"]["area_code"] == [COMMUNITY_A, None]


def test_prune_keeps_six_months_and_deletes_what_is_older(district):
    grid = _grids(district, COMMUNITY_A).first()
    with pghistory.context(request_id="req-old"):
        Area.objects.filter(pk=grid.pk).update(notes="long ago")
    with pghistory.context(request_id="req-recent"):
        Area.objects.filter(pk=grid.pk).update(notes="recently")
    event_model = event_models_of(Area)[0]
    old = event_model.objects.filter(pgh_obj_id=grid.pk, notes="long ago")
    old.update(pgh_created_at=timezone.now() - timedelta(days=250))

    with pytest.raises(CommandError):
        call_command("prune_changelog", "--older-than-days", "90", stdout=StringIO())
    call_command("prune_changelog", "--older-than-days", "240", "--dry-run", stdout=StringIO())
    assert old.exists()
    call_command("prune_changelog", stdout=StringIO())  # default: 200 days
    assert not old.exists()
    assert [row["request_id"] for row in _updates(history_of(grid), "notes")] == ["req-recent"]


def test_event_tables_are_indexed_only_for_how_the_log_is_read():
    """By object and by request: the tracked rows' foreign keys and geometries are copied without their indexes,
    which every tracked write would otherwise maintain."""
    from django.apps import apps

    event_models = [model for model in apps.get_models() if issubclass(model, pghistory.models.Event)
                    and not model._meta.abstract and not model._meta.proxy]
    assert len(event_models) >= 10
    with connection.cursor() as cursor:
        for model in event_models:
            constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
            indexed = {tuple(info["columns"]) for info in constraints.values() if info["index"]}
            assert indexed <= {("pgh_id",), ("pgh_obj_id",), ("pgh_context_id",)}, (model._meta.db_table, indexed)
