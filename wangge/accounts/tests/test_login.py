from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone, translation

from wangge.accounts.models import LoginThrottle, User
from wangge.core.testing import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "Wangge-test-2026"
LOGIN = "/accounts/login/"


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _login(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


def _errors(response):
    return [str(e) for e in response.context["form"].non_field_errors()] if response.status_code == 200 else None


def _logged_in(client):
    return "_auth_user_id" in client.session


def test_login_page_is_served_for_phones(client):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == LOGIN
    assert b'name="viewport"' in response.content
    assert b'name="username"' in response.content and b'name="password"' in response.content


def test_right_password_logs_in_and_goes_to_the_start_page(client, db):
    user = make_user(password=PASSWORD)
    response = _login(client, user.username, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == resolve_url(settings.LOGIN_REDIRECT_URL)
    assert _logged_in(client)


def test_login_honours_a_safe_next_but_not_a_foreign_one(client, db):
    user = make_user(password=PASSWORD)
    response = client.post(LOGIN + "?next=/accounts/password/", {"username": user.username, "password": PASSWORD})
    assert response["Location"] == "/accounts/password/"
    client.logout()
    response = client.post(LOGIN + "?next=https://evil.example/", {"username": user.username, "password": PASSWORD})
    assert "evil.example" not in response["Location"]


def test_repeated_failures_lock_the_account_even_against_the_right_password(client, db):
    user = make_user(password=PASSWORD)
    for _attempt in range(settings.WANGGE_LOGIN_MAX_FAILURES - 1):
        errors = _errors(_login(client, user.username, "wrong-Password-1"))
        assert "correct username and password" in errors[0]
    errors = _errors(_login(client, user.username, "wrong-Password-1"))
    assert "blocked" in errors[0]

    response = _login(client, user.username, PASSWORD)
    assert "blocked" in _errors(response)[0]
    assert not _logged_in(client)
    user.refresh_from_db()
    assert user.is_locked()


def test_the_lock_expires_after_the_lock_time(client, db):
    user = make_user(password=PASSWORD)
    for _attempt in range(settings.WANGGE_LOGIN_MAX_FAILURES):
        _login(client, user.username, "wrong-Password-1")
    assert "blocked" in _errors(_login(client, user.username, PASSWORD))[0]
    # The lock time has passed.
    User.objects.filter(pk=user.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert _login(client, user.username, PASSWORD).status_code == 302
    assert _logged_in(client)
    user.refresh_from_db()
    assert user.failed_logins == 0 and user.locked_until is None


def test_a_manager_unlocks_an_account_through_the_api(client, db):
    user = make_user(password=PASSWORD)
    for _attempt in range(settings.WANGGE_LOGIN_MAX_FAILURES):
        _login(client, user.username, "wrong-Password-1")
    manager = make_user("admin", "370103002")
    client.force_login(manager)
    response = client.post(reverse("accounts-api:user-unlock", args=[user.pk]))
    assert response.status_code == 200
    assert response.json()["locked"] is False
    client.logout()
    assert _login(client, user.username, PASSWORD).status_code == 302


def test_failures_spread_beyond_the_window_do_not_add_up(client, db):
    user = make_user(password=PASSWORD)
    for _attempt in range(settings.WANGGE_LOGIN_MAX_FAILURES - 1):
        _login(client, user.username, "wrong-Password-1")
    # Those failures are now older than the window.
    window = timedelta(seconds=settings.WANGGE_LOGIN_FAILURE_WINDOW_SECONDS + 1)
    User.objects.filter(pk=user.pk).update(first_failed_login_at=timezone.now() - window)
    errors = _errors(_login(client, user.username, "wrong-Password-1"))
    assert "correct username and password" in errors[0]
    assert _login(client, user.username, PASSWORD).status_code == 302


def test_an_unknown_username_answers_exactly_like_a_known_one(client, db):
    known = make_user(password=PASSWORD)
    attempts = settings.WANGGE_LOGIN_MAX_FAILURES + 1

    def answers(username):
        return [(r.status_code, _errors(r)) for r in (_login(client, username, "wrong-Password-1")
                                                     for _attempt in range(attempts))]

    known_answers = answers(known.username)
    unknown_answers = answers("nobody-by-this-name")
    assert known_answers == unknown_answers
    assert "blocked" in known_answers[-1][1][0]
    # Only a hash of the attempted name is kept.
    assert LoginThrottle.objects.filter(key=LoginThrottle.key_for("nobody-by-this-name")).exists()
    assert not LoginThrottle.objects.filter(key__contains="nobody").exists()


def test_an_inactive_account_cannot_log_in_and_says_nothing_more(client, db):
    user = make_user(password=PASSWORD, is_active=False)
    errors = _errors(_login(client, user.username, PASSWORD))
    assert "correct username and password" in errors[0]
    assert not _logged_in(client)


def test_logout_is_post_only(client, db):
    client.force_login(make_user())
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert _logged_in(client)
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert not _logged_in(client)


def test_password_change_needs_a_login(client, db):
    response = client.get(reverse("accounts:password_change"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


@pytest.mark.parametrize("weak", ["Short-1a", "abcdefghijk", "1234567890123", "password1234"])
def test_weak_passwords_are_refused_with_the_validators_message(client, db, weak):
    user = make_user(password=PASSWORD)
    client.force_login(user)
    response = client.post(reverse("accounts:password_change"),
                           {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak})
    assert response.status_code == 200
    shown = [str(e) for e in response.context["form"].errors["new_password2"]]
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        validate_password(weak, user)
    assert shown == refused.value.messages
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_strong_password_is_accepted_and_works(client, db):
    user = make_user(password=PASSWORD)
    client.force_login(user)
    new = "Grid-Chief-2027!"
    response = client.post(reverse("accounts:password_change"),
                           {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_change_done")
    client.logout()
    assert _login(client, user.username, PASSWORD).status_code == 200
    assert _login(client, user.username, new).status_code == 302


def test_a_wrong_old_password_is_refused(client, db):
    user = make_user(password=PASSWORD)
    client.force_login(user)
    new = "Grid-Chief-2027!"
    response = client.post(reverse("accounts:password_change"),
                           {"old_password": "Not-the-old-1", "new_password1": new, "new_password2": new})
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors


def test_the_admin_logs_in_through_the_same_lockout_page(client, db):
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == f"{LOGIN}?next=%2Fadmin%2F"
    root = User.objects.create(username="admin-root", is_staff=True, is_superuser=True)
    root.set_password(PASSWORD)
    root.save()
    response = client.post(f"{LOGIN}?next=/admin/", {"username": "admin-root", "password": PASSWORD})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_signed_in_non_staff_user_is_not_sent_round_in_circles_by_the_admin(client, db):
    client.force_login(make_user())
    response = client.get("/admin/", follow=True)
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == LOGIN
