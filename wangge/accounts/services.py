"""Writes with rules for accounts: login failures and lockout, API keys, area assignments."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from wangge.core.errors import DomainError
from wangge.core.scope import ensure_code_in_scope

from .models import ApiKey, AreaAssignment, Role, User, hash_api_key
from .roles import MANAGE_USERS


@transaction.atomic
def do_record_login_failure(user: User) -> None:
    """Counts a failed login; locks the account once the failures within the window reach the limit."""
    now = timezone.now()
    user = User.objects.select_for_update().get(pk=user.pk)
    window = timedelta(seconds=settings.WANGGE_LOGIN_FAILURE_WINDOW_SECONDS)
    if user.first_failed_login_at is None or now - user.first_failed_login_at > window:
        user.failed_logins = 0
        user.first_failed_login_at = now
    user.failed_logins = F("failed_logins") + 1
    user.save(update_fields=["failed_logins", "first_failed_login_at"])
    user.refresh_from_db(fields=["failed_logins"])
    if user.failed_logins >= settings.WANGGE_LOGIN_MAX_FAILURES:
        user.locked_until = now + timedelta(seconds=settings.WANGGE_LOGIN_LOCK_SECONDS)
        user.failed_logins = 0
        user.first_failed_login_at = None
        user.save(update_fields=["locked_until", "failed_logins", "first_failed_login_at"])


def do_record_login_success(user: User) -> None:
    if user.failed_logins or user.first_failed_login_at or user.locked_until:
        User.objects.filter(pk=user.pk).update(failed_logins=0, first_failed_login_at=None, locked_until=None)


@transaction.atomic
def do_unlock_user(user: User, *, actor: User) -> None:
    ensure_may_manage(actor)
    User.objects.filter(pk=user.pk).update(failed_logins=0, first_failed_login_at=None, locked_until=None)


def ensure_may_manage(actor: User) -> None:
    if not actor.has_action(MANAGE_USERS):
        raise DomainError("You may not manage users.", code="forbidden")


@transaction.atomic
def do_create_api_key(user: User, name: str, *, actor: User, expires_at=None) -> tuple[ApiKey, str]:
    """Returns the key row and the raw key, which is shown once and never stored."""
    ensure_may_manage(actor)
    if not name.strip():
        raise DomainError("A key needs a name.", field="name")
    prefix = secrets.token_hex(6)
    raw = f"wg_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(user=user, name=name.strip(), prefix=prefix, key_hash=hash_api_key(raw),
                                expires_at=expires_at)
    return key, raw


@transaction.atomic
def do_revoke_api_key(key: ApiKey, *, actor: User) -> None:
    ensure_may_manage(actor)
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


@transaction.atomic
def do_assign_area(user: User, area_code: str, role_slug: str, *, actor: User) -> AreaAssignment:
    """Gives `user` a role over an area; the actor can only hand out areas inside its own scope."""
    ensure_may_manage(actor)
    ensure_code_in_scope(actor, MANAGE_USERS, area_code)
    try:
        role = Role.objects.get(slug=role_slug)
    except Role.DoesNotExist as exc:
        raise DomainError(f"Unknown role {role_slug!r}.", field="role") from exc
    assignment = AreaAssignment(user=user, area_code=area_code, role=role)
    assignment.full_clean(exclude=["user", "role"])
    assignment, _ = AreaAssignment.objects.get_or_create(user=user, area_code=area_code, role=role)
    return assignment
