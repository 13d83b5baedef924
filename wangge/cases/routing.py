"""Routing by the ownership table (issue 4 §4): which department an event belongs to, from its category and grid.

A rule applies to an event when its category is the event's subclass or that subclass's class, and its area code is a
prefix of the event's grid code. Among the rules that apply, the most specific area wins, then a subclass rule over a
class rule. The category's ownership rule orders the roles: 部件 "先属主后属地" asks for the owner (属主) first and
falls back to the locality (属地); 事件 "先属地后属主" the other way round. Emergency responders (应急) are a role of
their own, asked only for emergencies, which fall back to the ordinary route when a category names none.
"""

from django.utils import timezone

from wangge.core.refcache import ReferenceCache

from .models import Ownership, RoutingRole, RoutingRule

ORDER = {Ownership.OWNER_FIRST: (RoutingRole.OWNER, RoutingRole.LOCALITY),
         Ownership.LOCALITY_FIRST: (RoutingRole.LOCALITY, RoutingRole.OWNER)}


def area_prefixes(code):
    """The code and its ancestors' codes (6, 9, 12, 15 digits)."""
    return [code[:length] for length in (6, 9, 12, 15) if len(code) >= length]


def _load_rules():
    """{(category id, area code): [active rule with its department, …]} — the whole table (hundreds of rows), read
    once per process and again after an edit (wangge.core.refcache), so routing a report costs no query."""
    table = {}
    for rule in RoutingRule.objects.filter(active=True).select_related("department"):
        table.setdefault((rule.category_id, rule.area_code), []).append(rule)
    return table


active_rules = ReferenceCache("cases:routing", _load_rules)


def candidates(category, grid_code, roles):
    """Active rules for `category` (or its class) at `grid_code` with one of `roles`, best first, whose department
    is open and serves the grid."""
    today = timezone.localdate()
    table = active_rules.get()
    categories = [category.pk] + ([category.parent_id] if category.parent_id else [])
    rules = [rule for category_id in categories for code in area_prefixes(grid_code)
             for rule in table.get((category_id, code), ())
             if rule.role in roles and grid_code.startswith(rule.department.area_code)
             and (rule.department.closed_on is None or rule.department.closed_on > today)]
    return sorted(rules, key=lambda rule: (roles.index(rule.role), -len(rule.area_code),
                                           rule.category_id != category.pk, rule.department.code))


def route(category, grid_code, *, emergency=False):
    """The department an event of `category` in `grid_code` is routed to, or None when the table names none."""
    roles = list(ORDER.get(category.ownership, ORDER[Ownership.LOCALITY_FIRST]))
    if emergency:
        roles.insert(0, RoutingRole.EMERGENCY)
    found = candidates(category, grid_code, roles)
    return found[0].department if found else None
