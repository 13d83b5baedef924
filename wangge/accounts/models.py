import functools
import hashlib

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import connections, models
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wangge.core.changelog import track_changes
from wangge.core.scope import EVERYWHERE, ScopedModel, ScopedQuerySet, scope_codes

area_code_validator = RegexValidator(
    r"^(\d{6}|\d{9}|\d{12}|\d{15})$", _("An area code has 6, 9, 12 or 15 digits.")
)


class UserQuerySet(models.QuerySet):
    def restrict(self, user, action):
        """Users `user` may `action` (e.g. manage): those holding at least one assignment inside its scope.

        Users are not area-scoped rows themselves, so their place is the union of their assignments; a user with
        no assignment at all is visible to superusers only.
        """
        codes = scope_codes(user, action)
        if codes is EVERYWHERE:
            return self
        if not codes:
            return self.none()
        inside = AreaAssignment.objects.filter(AreaAssignment.scope_q(codes, action), user=OuterRef("pk"))
        return self.filter(Exists(inside))


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):
    @functools.cached_property  # a manager serves one model and one database
    def _signed_in_sql(self):
        fields, quote = self.model._meta.concrete_fields, connections[self.db].ops.quote_name
        return (f"SELECT {', '.join(f'u.{quote(field.column)}' for field in fields)}, "
                f"ARRAY(SELECT json_build_object('code', a.area_code, 'actions', r.actions) "
                f"FROM {AreaAssignment._meta.db_table} a JOIN {Role._meta.db_table} r ON r.id = a.role_id "
                f"WHERE a.user_id = u.id) FROM {self.model._meta.db_table} u WHERE u.id = %s",
                [field.attname for field in fields])

    def signed_in(self, pk):
        """The user `pk` with its assignments (area code and the role's actions, for User.scope_codes) in one
        query, or None: every request's user is signed in this way, which saves a query on each request."""
        # A plain cursor and Model.from_db: a RawQuerySet's column mapping costs as much again as the query.
        sql, attnames = self._signed_in_sql
        with connections[self.db].cursor() as cursor:
            cursor.execute(sql, [pk])
            row = cursor.fetchone()
        if row is None:
            return None
        user = self.model.from_db(self.db, attnames, row[:-1])
        user.assignment_rows = row[-1]
        return user


@track_changes(exclude=["password", "last_login"])
class User(AbstractUser):
    """A person or a system account. Its scope is the union of its area assignments."""

    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    failed_logins = models.PositiveIntegerField(default=0, editable=False)
    first_failed_login_at = models.DateTimeField(null=True, blank=True, editable=False)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return self.display_name or self.username

    def is_locked(self, now=None):
        return self.locked_until is not None and self.locked_until > (now or timezone.now())

    def scope_codes(self, action):
        """Area codes whose subtree this user may `action` in; cached for the life of this object (one request)."""
        cache = self.__dict__.setdefault("_scope_cache", {})
        if action not in cache:
            if None not in cache:  # the user's assignments, read once: a request asks for several actions
                rows = self.__dict__.get("assignment_rows")  # read with the user (UserManager.signed_in)
                cache[None] = ([(row["code"], set(row["actions"])) for row in rows] if rows is not None else
                               [(row.area_code, set(row.role.actions))
                                for row in self.assignments.select_related("role")])
            codes = {area_code for area_code, actions in cache[None] if action in actions}
            # A prefix already covered by a shorter one adds nothing to the filter.
            cache[action] = tuple(
                sorted(c for c in codes if not any(c != other and c.startswith(other) for other in codes))
            )
        return cache[action]

    def has_action(self, action):
        return self.is_superuser or bool(self.scope_codes(action))


@track_changes()
class Role(models.Model):
    """A role is data: the actions it allows. Seeded with the roles of ARCHITECTURE.md; admins may add more."""

    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=100)
    actions = ArrayField(models.CharField(max_length=64), default=list, blank=True, verbose_name=_("actions"))
    # Every action the default-role seeding has granted, so an action an admin took away is not granted again.
    seeded_actions = ArrayField(models.CharField(max_length=64), default=list, blank=True, editable=False)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["slug"]

    def __str__(self):
        return self.name


@track_changes()
class AreaAssignment(ScopedModel):
    """User × area × role. Keyed by the area code, which stays stable across boundary generations."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="assignments")
    area_code = models.CharField(_("area code"), max_length=15, validators=[area_code_validator], db_index=True)
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="assignments")

    scope_field = "area_code"  # restrict(): assignments whose area lies inside the user's scope for the action

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("area assignment")
        verbose_name_plural = _("area assignments")
        constraints = [models.UniqueConstraint(fields=["user", "area_code", "role"], name="unique_assignment")]

    def __str__(self):
        return f"{self.user} @ {self.area_code} ({self.role.slug})"


def hash_api_key(raw_key: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is enough; no salt or stretching is needed.
    return hashlib.sha256(raw_key.encode()).hexdigest()


@track_changes(exclude=["key_hash", "last_used_at"])
class ApiKey(models.Model):
    """A system's credential: only its hash is stored; the key is shown once, on creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now=None):
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class LoginThrottle(models.Model):
    """Failed logins for usernames that do not exist, counted like a user's own, so that from the outside an
    unknown username fails, and locks, exactly as a known one does (no probing for who has an account).

    Keyed by a hash of the attempted name: people sometimes type a password into the username field.
    Not in the change log: it is attack noise, not a change to anyone's data.
    """

    key = models.CharField(max_length=64, unique=True)
    failed_logins = models.PositiveIntegerField(default=0)
    first_failed_login_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("login throttle")
        verbose_name_plural = _("login throttles")

    def __str__(self):
        return f"{self.key[:12]}… ({self.failed_logins})"

    @staticmethod
    def key_for(username: str) -> str:
        return hashlib.sha256(username.strip().lower().encode()).hexdigest()

    def is_locked(self, now=None):
        return self.locked_until is not None and self.locked_until > (now or timezone.now())
