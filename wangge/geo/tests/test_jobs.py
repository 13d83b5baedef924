import json

import pytest
from django.db import connection
from django.urls import reverse

from wangge.core.testing import COMMUNITY_A, make_superuser, make_user
from wangge.geo import jobs, services

pytestmark = pytest.mark.django_db


def test_background_validation_is_queued_then_runs(client, district):
    admin = make_superuser()
    draft = services.do_create_draft(actor=admin)
    client.force_login(admin)
    response = client.post(reverse("generation-validate", args=[draft.pk]) + "?background=1")
    assert response.status_code == 202
    with connection.cursor() as cursor:
        cursor.execute("SELECT task_name, args FROM procrastinate_jobs WHERE id = %s", [response.json()["job"]])
        task_name, args = cursor.fetchone()
    args = json.loads(args) if isinstance(args, str) else args
    assert task_name == "geo.validate_generation" and args == {"generation_id": draft.pk, "actor_id": admin.pk}
    # Tests run the job inline: the worker would call exactly this.
    assert jobs.validate_generation(**args) == {"generation": draft.pk, "errors": 0, "warnings": 0}
    draft.refresh_from_db()
    assert draft.state == "validated"


def test_background_validation_is_refused_without_the_permission(client, district):
    draft = services.do_create_draft(actor=make_superuser())
    client.force_login(make_user("community_staff", COMMUNITY_A))
    response = client.post(reverse("generation-validate", args=[draft.pk]) + "?background=1")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
