"""Scope: the one path for reading and writing area-scoped data.

A scoped model names where its area code lives (`scope_field`, e.g. "code" or "grid_code"). Because area codes
are hierarchical (6/9/12/15 digits), a code prefix is a subtree: a user assigned to 370103002 with a role that allows
the action sees every row whose code starts with 370103002. Several assignments are OR-ed.

Not found and not allowed answer the same (404), so nobody can probe for what exists outside their scope.
"""

from django.db import models
from django.db.models import Q
from django.http import Http404


class Everywhere:
    """The scope of a superuser: no filter."""

    def __repr__(self):
        return "Everywhere"


EVERYWHERE = Everywhere()


def scope_codes(user, action):
    """The area codes under which `user` may perform `action`, or EVERYWHERE, or an empty tuple."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return ()
    if user.is_superuser:
        return EVERYWHERE
    return user.scope_codes(action)


def code_in_scope(code, codes):
    if codes is EVERYWHERE:
        return True
    return any(str(code).startswith(prefix) for prefix in codes)


def any_scope_codes(user, *actions):
    """The area codes under which `user` may perform any of `actions` (a prefix inside another adds nothing), or
    EVERYWHERE, or an empty tuple — for reads that more than one action allows (aggregates or details)."""
    found = set()
    for action in actions:
        codes = scope_codes(user, action)
        if codes is EVERYWHERE:
            return EVERYWHERE
        found.update(codes)
    return tuple(sorted(code for code in found if not any(code != other and code.startswith(other)
                                                           for other in found)))


def scope_sql(codes, column):
    """restrict() for a raw statement: (" AND <column> LIKE ANY(%s)", [patterns]) for `codes` from scope_codes, or
    ("", []) for EVERYWHERE. Codes are digits: nothing to escape in a LIKE pattern. An empty scope matches nothing."""
    if codes is EVERYWHERE:
        return "", []
    return f" AND {column} LIKE ANY(%s)", [[f"{code}%" for code in codes]]


class ScopedQuerySet(models.QuerySet):
    def restrict(self, user, action):
        """Rows of this queryset that `user` may `action`; none when the role does not allow it."""
        return self.within(scope_codes(user, action), action)

    def within(self, codes, action=None):
        """Rows inside `codes` as scope_codes / any_scope_codes answer them (EVERYWHERE, or prefixes): what
        restrict() reads, for a scope already worked out."""
        if codes is EVERYWHERE:
            return self
        if not codes:
            return self.none()
        return self.filter(self.model.scope_q(codes, action))

    def get_for(self, user, action, **lookup):
        """One row the user may act on, else Http404 — the same answer for missing and forbidden."""
        try:
            return self.restrict(user, action).get(**lookup)
        except (self.model.DoesNotExist, self.model.MultipleObjectsReturned, ValueError) as exc:
            raise Http404 from exc


class ScopedModel(models.Model):
    """Mixin for models whose rows belong to an area subtree."""

    scope_field = "code"

    class Meta:
        abstract = True

    @classmethod
    def scope_q(cls, codes, action=None):
        query = Q()
        for prefix in codes:
            query |= Q(**{f"{cls.scope_field}__startswith": prefix})
        return query


def ensure_code_in_scope(user, action, code):
    """For writes: raise Http404 unless `code` lies inside the user's scope for `action`.

    Services call this inside their transaction with the code the object will have after the write, so nobody
    can create an object in, or move one into, an area outside their scope.
    """
    if not code_in_scope(code, scope_codes(user, action)):
        raise Http404
