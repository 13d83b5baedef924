"""The in-app inbox: each user sees, reads and counts only their own notifications."""

import pytest

from wangge.cases.models import Notification
from wangge.cases.notifications import notify, unread_count
from wangge.core.testing import make_user

pytestmark = pytest.mark.django_db
API = "/api/v1/cases/notifications/"


def test_notify_writes_one_row_per_distinct_user():
    alice, bob = make_user("grid_chief"), make_user("grid_chief")
    rows = notify([alice, bob, alice, None, bob.pk], "other", None, "Case X: warning", "")
    assert len(rows) == 2 and unread_count(alice) == 1 and unread_count(bob) == 1


def test_user_sees_only_their_own(client):
    alice, bob = make_user("grid_chief"), make_user("grid_chief")
    notify([alice], "other", None, "for alice")
    notify([bob], "other", None, "for bob 1")
    notify([bob], "other", None, "for bob 2")
    client.force_login(alice)
    listing = client.get(API)
    assert listing.status_code == 200
    assert [row["title"] for row in listing.json()["results"]] == ["for alice"]
    assert client.get(f"{API}unread-count/").json() == {"unread": 1}
    bobs = Notification.objects.filter(recipient=bob).first()
    assert client.post(f"{API}{bobs.pk}/read/").status_code == 404
    bobs.refresh_from_db()
    assert bobs.read_at is None
    mine = Notification.objects.get(recipient=alice)
    response = client.post(f"{API}{mine.pk}/read/")
    assert response.status_code == 200 and response.json()["read_at"]
    assert client.get(f"{API}unread-count/").json() == {"unread": 0}
    client.force_login(bob)
    assert client.get(f"{API}unread-count/").json() == {"unread": 2}


def test_anonymous_is_refused(client):
    assert client.get(API).status_code in (401, 403)
