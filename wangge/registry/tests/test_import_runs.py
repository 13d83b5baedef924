"""Large imports run as a background job with their progress on the page; the worker is run inline here."""

import json
import os

import pytest
from django.db import connection
from django.urls import reverse

from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_user
from wangge.registry import jobs, services
from wangge.registry.models import ImportRun, Person
from wangge.registry.tests.test_import import VALID_IDS, csv_file, grid_point, person_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def place(district):
    actor = make_user("community_staff", COMMUNITY_A)
    _code, point = grid_point(COMMUNITY_A)
    building = services.do_create_building(actor=actor, location=point)
    house = services.do_create_house(building, actor=actor, unit="1", room="101")
    return building, house, f"{building.grid_code}{building.number}"


@pytest.fixture
def staff(district):
    return make_user("community_staff", COMMUNITY_A)


def _queued_job(run):
    with connection.cursor() as cursor:
        cursor.execute("SELECT task_name, args FROM procrastinate_jobs WHERE args->>'run_id' = %s", [str(run.pk)])
        rows = cursor.fetchall()
    return [(name, json.loads(args) if isinstance(args, str) else args) for name, args in rows]


def test_a_background_import_shows_progress_then_its_report(client, place, staff, settings, tmp_path,
                                                           django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    _building, _house, code = place
    upload = csv_file([person_row(code, VALID_IDS[0], name="甲"), person_row(code, VALID_IDS[1], name="乙", room="")])
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("registry-import:page"),
                               {"kind": "persons", "file": upload, "mode": "commit", "background": "1"})
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("registry-import:run", args=[run.pk])
    assert _queued_job(run) == [("registry.import_file", {"run_id": run.pk})]
    assert os.stat(run.stored_path).st_mode & 0o777 == 0o600  # the upload holds personal data: private file
    page = client.get(reverse("registry-import:run", args=[run.pk]))
    assert b'id="import-progress"' in page.content and b"every 1s" in page.content  # polling while queued

    assert jobs.import_file(run.pk) == ImportRun.State.DONE  # what the worker does
    run.refresh_from_db()
    assert run.report["committed"] and Person.objects.filter(name__in=["甲", "乙"]).count() == 2
    assert not run.stored_path and not list(tmp_path.glob("imports/*"))  # the upload is gone
    assert jobs.read_progress(run.pk)["phase"] == "done"
    status = client.get(reverse("registry-import:run-status", args=[run.pk]))
    assert b"every 1s" not in status.content and b'id="import-report"' in status.content
    assert jobs.import_file(run.pk) == ImportRun.State.DONE  # a replayed job does not import twice
    assert Person.objects.filter(name__in=["甲", "乙"]).count() == 2


def test_a_rejected_background_import_writes_nothing_and_lists_the_rows(client, place, staff, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    _building, _house, code = place
    bad = VALID_IDS[0][:-1] + "2"
    client.force_login(staff)
    client.post(reverse("registry-import:page"), {"kind": "persons", "mode": "commit", "background": "1",
                                                  "file": csv_file([person_row(code, bad)])})
    run = ImportRun.objects.get()
    assert jobs.import_file(run.pk) == ImportRun.State.REJECTED
    run.refresh_from_db()
    assert run.report["problems"][0]["column"] == "身份证号" and bad not in json.dumps(run.report)
    assert not Person.objects.exists()
    status = client.get(reverse("registry-import:run-status", args=[run.pk]))
    assert status.content.count(b'class="import-error"') == 1


def test_someone_elses_import_run_is_not_found(client, place, staff, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    _building, _house, code = place
    client.force_login(staff)
    client.post(reverse("registry-import:page"), {"kind": "persons", "background": "1",
                                                  "file": csv_file([person_row(code)])})
    run = ImportRun.objects.get()
    client.force_login(make_user("community_staff", COMMUNITY_B))
    assert client.get(reverse("registry-import:run", args=[run.pk])).status_code == 404
    assert client.get(reverse("registry-import:run-status", args=[run.pk])).status_code == 404


def test_a_user_who_may_not_import_is_refused_before_anything_is_queued(client, place, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    _building, _house, code = place
    client.force_login(make_user("volunteer", COMMUNITY_A))
    response = client.post(reverse("registry-import:page"), {"kind": "persons", "background": "1",
                                                             "file": csv_file([person_row(code)])})
    assert response.status_code == 200 and not ImportRun.objects.exists()
    assert not list(tmp_path.glob("imports/*"))
