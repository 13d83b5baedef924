"""The demo ownership table (who handles which category where) for Shizhong District's demo departments, and the
demo department handler's memberships — so that a demo event reported on the phone page is routed, dispatched and
handled without any set-up by hand.

Locality (属地): each subdistrict gets a functional department of its own, its office (街道办事处), serving its area.
Owners (属主) and emergency responders (应急) are the district's departments of wangge/workforce/demo.py. Idempotent.
"""

import datetime

from django.db import transaction

from wangge.geo import codes as area_codes
from wangge.geo.models import Area
from wangge.workforce.models import Department, DepartmentKind, DepartmentMembership

from . import routing
from .models import Category, CategoryKind, RoutingRole, RoutingRule

EVENT, PART = CategoryKind.EVENT, CategoryKind.PART
# (kind, class or subclass code) → owner department code, emergency responder code or None
OWNERS = {
    (EVENT, "01"): ("CGJ", None), (EVENT, "02"): ("CGJ", None), (EVENT, "03"): ("ZJJ", None),
    (EVENT, "04"): ("CGJ", None), (EVENT, "05"): ("YJGL", "YJGL"), (EVENT, "0502"): ("XFJY", "XFJY"),
    (EVENT, "06"): ("CGJ", None), (EVENT, "07"): ("SFJ", None), (EVENT, "0702"): ("RSJ", None),
    (EVENT, "08"): ("YJGL", "YJGL"), (EVENT, "0801"): ("XFJY", "XFJY"), (EVENT, "0802"): ("RQ", "RQ"),
    (EVENT, "09"): ("WJJ", "WJJ"),
    (PART, "01"): ("GS", None), (PART, "0102"): ("GDJ", None), (PART, "02"): ("JTJ", None),
    (PART, "03"): ("CGJ", None), (PART, "04"): ("CGJ", None), (PART, "05"): ("ZJJ", "YJGL"),
    (PART, "06"): ("CGJ", None),
}
DEMO_HANDLER = "department"  # load_demo's department handler: a member of the city management bureau and one office
DEMO_HANDLER_OFFICE = "370103002"  # 大观园街道, where the demo grid worker works


def office_code(subdistrict_code):
    return f"JD{subdistrict_code}"


@transaction.atomic
def load():
    """Creates the missing subdistrict offices, rules and memberships; returns counts of what it added."""
    from wangge.accounts.models import User

    district = Area.objects.current().filter(level=area_codes.DISTRICT).values_list("code", flat=True).first()
    if district is None:
        raise ValueError("No active district: load the demo district first.")
    added = {"offices": 0, "rules": 0, "memberships": 0}
    offices = {}
    for code, name in Area.objects.current().filter(level=area_codes.SUBDISTRICT).values_list("code", "name"):
        office, created = Department.objects.get_or_create(
            code=office_code(code), defaults={"name": f"{name}办事处", "kind": DepartmentKind.FUNCTIONAL,
                                              "area_code": code})
        offices[code] = office
        added["offices"] += created
    departments = {row.code: row for row in Department.objects.filter(area_code=district)}
    categories = {(row.kind, row.code): row for row in Category.objects.all()}
    wanted = []
    for key, (owner, responder) in OWNERS.items():
        category = categories.get(key)
        if category is None:
            continue
        if owner in departments:
            wanted.append((category, district, RoutingRole.OWNER, departments[owner]))
        if responder in departments:
            wanted.append((category, district, RoutingRole.EMERGENCY, departments[responder]))
        if len(key[1]) == 2:  # locality: each subdistrict's office, for whole classes
            wanted += [(category, code, RoutingRole.LOCALITY, office) for code, office in offices.items()]
    have = set(RoutingRule.objects.values_list("category_id", "area_code", "role", "department_id"))
    new = [RoutingRule(category=category, area_code=area, role=role, department=department)
           for category, area, role, department in wanted
           if (category.pk, area, role, department.pk) not in have]
    RoutingRule.objects.bulk_create(new)
    routing.active_rules.invalidate()
    added["rules"] = len(new)

    handler = User.objects.filter(username=DEMO_HANDLER).first()
    if handler is not None:
        for department in (departments.get("CGJ"), offices.get(DEMO_HANDLER_OFFICE)):
            if department is None or DepartmentMembership.objects.filter(user=handler,
                                                                         department=department).exists():
                continue
            DepartmentMembership.objects.create(user=handler, department=department,
                                                active_from=datetime.date(2025, 1, 1))
            added["memberships"] += 1
    return added
