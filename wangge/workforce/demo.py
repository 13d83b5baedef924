"""The demo work team: the district's departments and its command and supervision centres, a chief and one or two
grid workers in every current grid, and about a thousand party-member volunteers sent down to communities and grids.

Holders are the grid's own demo persons (registry) when it has any, else name-only. Idempotent: departments are
matched by code, posts are added only to grids that have none, volunteers only when the demo departments have
sent none yet. Bulk inserts throughout (the change-log triggers still record every row)."""

import datetime
import random

from django.db import transaction

from wangge.geo import codes as area_codes
from wangge.geo.models import Area
from wangge.registry.models import Person, PersonStatus

from .models import Department, DepartmentKind, GridPost, PostKind, VolunteerAssignment

DEPARTMENTS = [
    ("CGJ", "城市管理局"), ("ZJJ", "住房和城乡建设局"), ("SCJG", "市场监督管理局"), ("HBFJ", "生态环境分局"),
    ("YJGL", "应急管理局"), ("GAFJ", "公安分局"), ("WJJ", "卫生健康局"), ("MZJ", "民政局"), ("JTJ", "交通运输局"),
    ("SWJ", "水务局"), ("ZRZY", "自然资源分局"), ("JYJ", "教育和体育局"), ("RSJ", "人力资源和社会保障局"),
    ("SFJ", "司法局"), ("XFJ", "信访局"), ("WLJ", "文化和旅游局"), ("TYJ", "退役军人事务局"), ("CZJ", "财政局"),
    ("FGJ", "发展和改革局"), ("GXJ", "工业和信息化局"), ("SWUJ", "商务局"), ("NYJ", "农业农村局"),
    ("TJJ", "统计局"), ("YBJ", "医疗保障局"), ("XFJY", "消防救援大队"), ("GDJ", "供电公司"), ("RQ", "燃气公司"),
    ("GS", "供水公司"), ("TX", "通信运营商联络办"), ("JGGW", "机关事务服务中心"),
]
CENTRES = [("ZHZX", "网格化服务管理指挥中心", DepartmentKind.COMMAND),
           ("JDZX", "网格化服务管理监督中心", DepartmentKind.SUPERVISION)]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅建国志文斌海燕鹏飞宇晨"


def _name(rng):
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


@transaction.atomic
def load(*, seed=4, volunteers=1000, started_on=datetime.date(2025, 1, 1)):
    rng = random.Random(seed)
    district = Area.objects.current().filter(level=area_codes.DISTRICT).values_list("code", flat=True).first()
    if district is None:
        raise ValueError("No active district: load the demo district first.")
    counts = {"departments": 0, "posts": 0, "volunteers": 0}

    wanted = [(code, name, DepartmentKind.FUNCTIONAL) for code, name in DEPARTMENTS] + CENTRES
    have = set(Department.objects.filter(code__in=[c for c, _n, _k in wanted]).values_list("code", flat=True))
    new = [Department(code=code, name=name, kind=kind, area_code=district, contact=f"0531-8{i:03d}1234")
           for i, (code, name, kind) in enumerate(wanted) if code not in have]
    Department.objects.bulk_create(new)
    counts["departments"] = len(new)

    grids = list(Area.objects.current().filter(level=area_codes.GRID, code__startswith=district)
                 .values_list("code", flat=True).order_by("code"))
    staffed = set(GridPost.objects.filter(grid_code__in=grids).values_list("grid_code", flat=True).distinct())
    todo = [grid for grid in grids if grid not in staffed]
    people = {}
    for pk, name, grid in (Person.objects.filter(grid_code__in=todo, status=PersonStatus.NORMAL)
                           .order_by("grid_code", "pk").values_list("pk", "name", "grid_code")):
        if len(people.setdefault(grid, [])) < 3:
            people[grid].append((pk, name))
    posts = []
    for grid in todo:
        kinds = [PostKind.GRID_CHIEF, PostKind.FULL_TIME] + ([PostKind.PART_TIME] if rng.random() < 0.5 else [])
        holders = people.get(grid, [])
        for i, kind in enumerate(kinds):
            pk, name = holders[i] if i < len(holders) else (None, _name(rng))
            posts.append(GridPost(kind=kind, grid_code=grid, holder_person_id=pk, holder_name=name,
                                  started_on=started_on))
    GridPost.objects.bulk_create(posts, batch_size=2000)
    counts["posts"] = len(posts)

    senders = list(Department.objects.filter(code__in=[c for c, _n in DEPARTMENTS]))
    if volunteers and not VolunteerAssignment.objects.filter(department__in=senders).exists():
        communities = list(Area.objects.current().filter(level=area_codes.COMMUNITY, code__startswith=district)
                           .values_list("code", flat=True))
        targets = communities + grids
        rows = []
        for i in range(volunteers):
            start = started_on + datetime.timedelta(days=rng.randrange(0, 180))
            end = start + datetime.timedelta(days=rng.choice((90, 180, 365))) if rng.random() < 0.7 else None
            rows.append(VolunteerAssignment(department=rng.choice(senders), grid_code=rng.choice(targets),
                                            name=_name(rng), team=f"党员突击队第{i // 25 + 1}队", started_on=start,
                                            ended_on=end))
        VolunteerAssignment.objects.bulk_create(rows, batch_size=2000)
        counts["volunteers"] = len(rows)
    return counts
