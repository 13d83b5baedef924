"""Routing by the ownership table (issue 4 §4): which department an event belongs to, from its category and grid.

A rule applies to an event when its category is the event's subclass or that subclass's class, and its area code is a
prefix of the event's grid code. Among the rules that apply, the most specific area wins, then a subclass rule over a
class rule. The category's ownership rule orders the roles: 部件 "先属主后属地" asks for the owner (属主) first and
falls back to the locality (属地); 事件 "先属地后属主" the other way round. Emergency responders (应急) are a role of
their own, asked only for emergencies, which fall back to the ordinary route when a category names none.
"""

from django.db.models import Q
from django.utils import timezone

from .models import Ownership, RoutingRole, RoutingRule

ORDER = {Ownership.OWNER_FIRST: (RoutingRole.OWNER, RoutingRole.LOCALITY),
         Ownership.LOCALITY_FIRST: (RoutingRole.LOCALITY, RoutingRole.OWNER)}


def area_prefixes(code):
    """The code and its ancestors' codes (6, 9, 12, 15 digits)."""
    return [code[:length] for length in (6, 9, 12, 15) if len(code) >= length]


def candidates(category, grid_code, roles):
    """Active rules for `category` (or its class) at `grid_code` with one of `roles`, best first, whose department
    is open and serves the grid."""
    today = timezone.localdate()
    categories = [category.pk] + ([category.parent_id] if category.parent_id else [])
    rules = (RoutingRule.objects.filter(active=True, category_id__in=categories, role__in=roles,
                                        area_code__in=area_prefixes(grid_code))
             .filter(Q(department__closed_on__isnull=True) | Q(department__closed_on__gt=today))
             .select_related("department"))
    rules = [rule for rule in rules if grid_code.startswith(rule.department.area_code)]
    return sorted(rules, key=lambda rule: (roles.index(rule.role), -len(rule.area_code),
                                           rule.category_id != category.pk, rule.department.code))


def route(category, grid_code, *, emergency=False):
    """The department an event of `category` in `grid_code` is routed to, or None when the table names none."""
    roles = list(ORDER.get(category.ownership, ORDER[Ownership.LOCALITY_FIRST]))
    if emergency:
        roles.insert(0, RoutingRole.EMERGENCY)
    found = candidates(category, grid_code, roles)
    return found[0].department if found else None
