"""Writes with rules for accounts: login failures and lockout, API keys, area assignments."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from wangge.core.errors import DomainError
from wangge.core.scope import code_in_scope, ensure_code_in_scope, scope_codes

from .models import ApiKey, AreaAssignment, LoginThrottle, Role, User, hash_api_key
from .roles import MANAGE_USERS


@transaction.atomic
def do_record_login_failure(user: User) -> None:
    """Counts a failed login; locks the account once the failures within the window reach the limit."""
    now = timezone.now()
    user = User.objects.select_for_update().get(pk=user.pk)
    window = timedelta(seconds=settings.WANGGE_LOGIN_FAILURE_WINDOW_SECONDS)
    if user.first_failed_login_at is None or now - user.first_failed_login_at > window:
        # A new window starts with this failure (F() below would add to the old count kept in the row).
        user.failed_logins = 1
        user.first_failed_login_at = now
    else:
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
    ensure_may_manage_user(actor, user)
    User.objects.filter(pk=user.pk).update(failed_logins=0, first_failed_login_at=None, locked_until=None)


def ensure_may_manage(actor: User) -> None:
    if not actor.has_action(MANAGE_USERS):
        raise DomainError("You may not manage users.", code="forbidden")


def ensure_may_manage_user(actor: User, user: User) -> None:
    """A manager acts only on users inside its scope; anyone else is answered as if missing (404)."""
    ensure_may_manage(actor)
    if not User.objects.restrict(actor, MANAGE_USERS).filter(pk=user.pk).exists():
        raise Http404


@transaction.atomic
def do_create_api_key(user: User, name: str, *, actor: User, expires_at=None) -> tuple[ApiKey, str]:
    """Returns the key row and the raw key, which is shown once and never stored."""
    ensure_may_manage_user(actor, user)
    if not name.strip():
        raise DomainError("A key needs a name.", field="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError(_("The expiry must lie in the future."), field="expires_at")
    prefix = secrets.token_hex(6)
    raw = f"wg_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(user=user, name=name.strip(), prefix=prefix, key_hash=hash_api_key(raw),
                                expires_at=expires_at)
    return key, raw


@transaction.atomic
def do_revoke_api_key(key: ApiKey, *, actor: User) -> None:
    ensure_may_manage_user(actor, key.user)
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


@transaction.atomic
def do_assign_area(user: User, area_code: str, role_slug: str, *, actor: User) -> AreaAssignment:
    """Gives `user` a role over an area; the actor can only hand out areas inside its own scope, to users it
    manages (or who have no assignment yet), and only roles whose actions it holds there itself."""
    ensure_may_manage(actor)
    if user.assignments.exists():
        ensure_may_manage_user(actor, user)
    ensure_code_in_scope(actor, MANAGE_USERS, area_code)
    try:
        role = Role.objects.get(slug=role_slug)
    except Role.DoesNotExist as exc:
        raise DomainError(f"Unknown role {role_slug!r}.", field="role") from exc
    # Least privilege: nobody can hand out more than they hold, or an admin of a subdistrict could mint
    # a role with actions (e.g. ingest) that nobody gave them.
    missing = [action for action in role.actions if not code_in_scope(area_code, scope_codes(actor, action))]
    if missing:
        raise DomainError(_("You cannot grant a role with actions you do not hold there: %(actions)s.")
                          % {"actions": ", ".join(missing)}, field="role", code="forbidden")
    assignment = AreaAssignment(user=user, area_code=area_code, role=role)
    assignment.full_clean(exclude=["user", "role"])
    assignment, _created = AreaAssignment.objects.get_or_create(user=user, area_code=area_code, role=role)
    return assignment


@transaction.atomic
def do_remove_assignment(assignment: AreaAssignment, *, actor: User) -> None:
    """Takes a role over an area away; only for an area inside the actor's own scope."""
    ensure_may_manage(actor)
    ensure_code_in_scope(actor, MANAGE_USERS, assignment.area_code)
    AreaAssignment.objects.filter(pk=assignment.pk).delete()


# Unknown usernames ---------------------------------------------------------------------------------------------

def unknown_username_locked(username: str) -> bool:
    throttle = LoginThrottle.objects.filter(key=LoginThrottle.key_for(username)).first()
    return throttle is not None and throttle.is_locked()


@transaction.atomic
def do_record_unknown_login_failure(username: str) -> bool:
    """Counts a failed login for a username that has no account, by the same rule as do_record_login_failure,
    so that an unknown name locks after the same number of tries. Returns whether it is now locked."""
    now = timezone.now()
    window = timedelta(seconds=settings.WANGGE_LOGIN_FAILURE_WINDOW_SECONDS)
    lock = timedelta(seconds=settings.WANGGE_LOGIN_LOCK_SECONDS)
    # Rows nobody has tried for a while carry no state worth keeping.
    LoginThrottle.objects.filter(updated_at__lt=now - max(window, lock)).delete()
    throttle, _created = LoginThrottle.objects.select_for_update().get_or_create(key=LoginThrottle.key_for(username))
    if throttle.first_failed_login_at is None or now - throttle.first_failed_login_at > window:
        throttle.failed_logins = 0
        throttle.first_failed_login_at = now
    throttle.failed_logins += 1
    if throttle.failed_logins >= settings.WANGGE_LOGIN_MAX_FAILURES:
        throttle.locked_until = now + lock
        throttle.failed_logins = 0
        throttle.first_failed_login_at = None
    throttle.save()
    return throttle.is_locked(now)


class SignInRefused(Exception):
    """A password sign-in refused: wrong credentials, or — `locked` — too many failures for this username. The same
    answers for a username that exists and one that does not, so no door tells who has an account."""

    def __init__(self, *, locked):
        super().__init__("locked" if locked else "wrong")
        self.locked = locked


def ensure_not_locked(username, known):
    """SignInRefused(locked) when `username` (its account `known`, or None when it has none) is locked out."""
    if (known is not None and known.is_locked()) or (known is None and unknown_username_locked(username)):
        raise SignInRefused(locked=True)


def do_sign_in(request, username, password, *, known=None):
    """A password sign-in under the lockout (MLPS level 3), for every door that takes a password (the login page,
    OpenRosa's Basic): the user, or SignInRefused. `known` is the account as the caller read it, if it did. The
    backend (LockoutModelBackend) counts a known user's failures and clears them on success; an unknown name's are
    counted here, by the same rule."""
    from django.contrib.auth import authenticate

    if known is None:
        known = User.objects.filter(username=username).first()
    ensure_not_locked(username, known)
    user = authenticate(request, username=username, password=password)
    if user is None:
        if known is None:
            raise SignInRefused(locked=do_record_unknown_login_failure(username))
        known.refresh_from_db(fields=["locked_until"])
        raise SignInRefused(locked=known.is_locked())
    return user


def do_record_sign_in_failure(username, known):
    """A failed sign-in no backend saw (a Digest response that does not match): counted as the backend would. Returns
    whether the username is now locked."""
    if known is None:
        return do_record_unknown_login_failure(username)
    do_record_login_failure(known)
    known.refresh_from_db(fields=["locked_until"])
    return known.is_locked()
