"""The standard categories (DOMAIN.md §4), seeded after every migrate: a missing category is created, an existing
one keeps an administrator's edits.

Each row: (kind, code, name, ownership rule, limit unit, (normal, urgent, emergency), self-handling, note).
Classes carry no limits of their own; subclasses do. 事件 go "先属地后属主" (locality first), 部件 "先属主后属地".
"""

from django.db import connections

from wangge.core.refcache import ReferenceCache

EVENT, PART = "event", "part"
LOCALITY, OWNER = "locality_first", "owner_first"
H, D = "hours", "days"

CLASSES = [
    (EVENT, "01", "市容环境", [
        ("01", "私搭乱建", H, (4, 2, 1), False, "stop within 4 working hours, demolish within 20 working days"),
        ("02", "暴露垃圾", H, (4, 2, 1), True, ""),
        ("03", "道路不洁", H, (2, 1, 1), True, "道路保洁 2 working hours"),
        ("04", "渣土撒漏", D, (2, 1, 1), False, ""),
    ]),
    (EVENT, "02", "宣传广告", [
        ("01", "违规户外广告", D, (5, 2, 1), False, ""),
        ("02", "非法小广告", H, (8, 4, 2), True, ""),
    ]),
    (EVENT, "03", "施工管理", [
        ("01", "施工扰民", H, (4, 2, 1), False, ""),
        ("02", "无证掘路", D, (2, 1, 1), False, ""),
    ]),
    (EVENT, "04", "街面秩序", [
        ("01", "占道经营", H, (4, 2, 1), True, ""),
        ("02", "乱堆物料", H, (8, 4, 2), True, ""),
    ]),
    (EVENT, "05", "突发事件", [
        ("01", "路面塌陷", H, (2, 1, 1), False, ""),
        ("02", "火情", H, (1, 1, 1), False, ""),
    ]),
    (EVENT, "06", "其他", [("01", "其他事件", D, (5, 2, 1), False, "")]),
    (EVENT, "07", "矛盾纠纷", [
        ("01", "邻里纠纷", D, (5, 2, 1), True, ""),
        ("02", "劳资纠纷", D, (10, 5, 2), False, ""),
    ]),
    (EVENT, "08", "安全隐患", [
        ("01", "消防隐患", D, (2, 1, 1), False, ""),
        ("02", "燃气隐患", H, (4, 2, 1), False, ""),
    ]),
    (EVENT, "09", "疫情防控", [("01", "重点人员排查", D, (1, 1, 1), True, "")]),
    (PART, "01", "公用设施", [
        ("01", "井盖缺失", H, (4, 2, 1), False, ""),
        ("02", "路灯损坏", D, (3, 1, 1), False, ""),
    ]),
    (PART, "02", "道路交通", [
        ("01", "交通标志损坏", D, (5, 2, 1), False, ""),
        ("02", "护栏损坏", D, (5, 2, 1), False, ""),
    ]),
    (PART, "03", "市容环境", [
        ("01", "垃圾箱破损", D, (3, 1, 1), False, ""),
        ("02", "公厕设施损坏", D, (3, 1, 1), False, ""),
    ]),
    (PART, "04", "园林绿化", [
        ("01", "绿地养护", D, (5, 2, 1), False, "绿地养护 5 working days"),
        ("02", "树木倒伏", H, (4, 2, 1), False, ""),
    ]),
    (PART, "05", "房屋土地", [("01", "危房", D, (2, 1, 1), False, "")]),
    (PART, "06", "其他设施", [("01", "其他部件", D, (5, 2, 1), False, "")]),
]


def seed_categories(using="default", **kwargs):
    """post_migrate: creates the standard categories that are missing."""
    from .models import Category

    if Category._meta.db_table not in connections[using].introspection.table_names():
        return
    for kind, class_code, class_name, subclasses in CLASSES:
        ownership = LOCALITY if kind == EVENT else OWNER
        parent, _created = Category.objects.using(using).get_or_create(
            kind=kind, code=class_code, defaults={"name": class_name, "ownership": ownership})
        for code, name, unit, (normal, urgent, emergency), self_handling, note in subclasses:
            Category.objects.using(using).get_or_create(
                kind=kind, code=class_code + code,
                defaults={"name": name, "parent": parent, "ownership": ownership, "limit_unit": unit,
                          "limit_normal": normal, "limit_urgent": urgent, "limit_emergency": emergency,
                          "self_handling": self_handling, "limit_note": note})


def _load_categories():
    from .models import Category

    return {category.pk: category for category in Category.objects.all()}


# {id: category}: a few dozen rows read on every report, held in memory (wangge.core.refcache).
by_id = ReferenceCache("cases:categories", _load_categories)
