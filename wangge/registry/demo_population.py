"""The demo population: a synthetic, deterministic registry for the demo district at the district's real scale
(issue 3 §7): ~1,500 courtyards, ~15,000 buildings, their houses, ~280,000 households, ~720,000 persons, tags,
~40,000 organizations and a few hundred party organizations — `scale` shrinks every count for tests.

Same seed and same district → the same people, places and numbers (only the AES-GCM ciphertexts differ: their
nonces are random by design). Everything is generated with numpy per district, sealed in batches (the exact forms
the services store: AES-GCM under the current key, HMAC blind index, mask — wangge/core/pii.py) and written with
COPY in one transaction, so a half-finished load leaves nothing behind.

Every record is placed the way the services place it: buildings and organizations by their location (the grid
index, lowest code on a shared boundary), courtyards by their point on surface, houses, households, persons and tags
by their building/house. A few records are made imperfect on purpose, so that the coverage report has something to
show: courtyards straddling grids, buildings outside the district, households without members, persons without a
household or house, grids over their household target, grids without buildings (dedicated grids).
"""

import base64
import datetime
import hashlib
import hmac
import json
import logging
import math
import os
import time
from dataclasses import dataclass

import numpy as np
import shapely
from django.db import connection, transaction
from django.utils import timezone

from wangge.core import pii
from wangge.geo import codes as area_codes

from .models import (
    Building,
    Courtyard,
    House,
    Household,
    Organization,
    PartyOrganization,
    Person,
    PersonTag,
    TagType,
)

log = logging.getLogger(__name__)

DEFAULT_SEED = 370103
# Counts at scale 1.0 (the district's census order of magnitude).
HOUSEHOLDS = 280_000
ORGANIZATIONS = 40_000
# Household numbers of the demo start with this: the loader skips when one exists.
DEMO_PREFIX = "SZ"
TODAY = datetime.date(2025, 1, 1)  # the reference day of the synthetic population (no date after it)

STREETS = ["经一路", "经二路", "经四路", "经七路", "纬一路", "纬二路", "纬六路", "英雄山路", "舜耕路", "舜玉路",
           "二环南路", "郎茂山路", "七里山路", "六里山路", "王官庄路", "建设路", "玉函路", "泺源大街", "顺河街",
           "杆石桥路", "魏家庄街", "十六里河路", "兴隆大街", "党杨路", "陡沟路", "马鞍山路", "阳光新路", "刘长山路"]
COURTYARD_WORDS = ["阳光", "和谐", "幸福", "明珠", "锦绣", "翠园", "玉函", "兴隆", "舜华", "七贤", "山水", "绿景",
                   "万科", "鲁能", "中海", "绿地", "银座", "泉景", "金域", "佳苑", "嘉园", "雅居", "丽都", "康桥"]
COURTYARD_SUFFIXES = ["小区", "花园", "家园", "苑", "新村", "宿舍"]
PROPERTY_MANAGERS = ["济南明德物业", "山东诚信物业", "济南泉城物业", "绿城物业济南分公司", "万科物业济南分公司", ""]
ETHNICITIES = (["汉族", "回族", "满族", "蒙古族", "朝鲜族"], [0.973, 0.02, 0.003, 0.002, 0.002])
INFLOW_REASONS = ["务工", "经商", "求学", "投亲靠友", "随迁", "其他"]
# Other provinces' county codes for the flowing population's ID numbers, with the province (origin).
ORIGIN_CODES = [("370202", "山东省青岛市"), ("370302", "山东省淄博市"), ("370602", "山东省烟台市"),
                ("370702", "山东省潍坊市"), ("130102", "河北省石家庄市"), ("410102", "河南省郑州市"),
                ("320102", "江苏省南京市"), ("340102", "安徽省合肥市"), ("420102", "湖北省武汉市"),
                ("210102", "辽宁省沈阳市"), ("220102", "吉林省长春市"), ("230102", "黑龙江省哈尔滨市"),
                ("110105", "北京市"), ("120103", "天津市"), ("510104", "四川省成都市"), ("430102", "湖南省长沙市")]
MOBILE_PREFIXES = [130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158, 159, 166,
                   176, 177, 178, 180, 181, 182, 183, 185, 186, 187, 188, 189, 191, 198, 199]
ORG_WORDS = ["泉城", "鲁信", "华泰", "恒通", "金诺", "瑞丰", "宏达", "天元", "鑫源", "鼎盛", "齐鲁", "舜和", "润华",
             "嘉禾", "博远", "德润", "英才", "康泰", "汇通", "远航", "新华", "正大", "永安", "长城"]
INDUSTRIES = ["科技", "商贸", "建筑工程", "餐饮管理", "物流", "文化传媒", "医药", "信息技术", "教育咨询", "房地产开发",
              "机械设备", "环保科技", "电子", "食品", "装饰工程"]
SHOP_GOODS = ["超市", "便利店", "水果店", "面馆", "快餐店", "理发店", "五金店", "药店", "烟酒店", "干洗店", "网吧",
              "饭店", "烧烤店", "服装店", "手机店", "早餐店"]

# (slug, name, category, sensitive, fields, count at scale 1.0)
TAG_TYPES = [
    ("community-corrections", "社区矫正人员", "special", True,
     [{"name": "sentence_start", "label": "矫正开始", "type": "date", "required": True},
      {"name": "sentence_end", "label": "矫正结束", "type": "date", "required": True},
      {"name": "offence", "label": "罪名", "type": "text"}], 300),
    ("released-prisoner", "刑释人员", "special", True,
     [{"name": "release_date", "label": "释放日期", "type": "date", "required": True},
      {"name": "offence", "label": "罪名", "type": "text"}], 500),
    ("severe-mental-disorder", "严重精神障碍患者", "special", True,
     [{"name": "risk_level", "label": "危险性评估等级", "type": "choice", "required": True,
       "choices": ["0", "1", "2", "3", "4", "5"]},
      {"name": "guardian", "label": "监护人", "type": "text"}], 700),
    ("drug-user", "吸毒人员", "special", True,
     [{"name": "status", "label": "管控状态", "type": "choice", "required": True,
       "choices": ["社区戒毒", "社区康复", "戒断三年未复吸"]}], 250),
    ("elderly-alone", "独居老人", "care", False,
     [{"name": "visit_frequency", "label": "走访频次", "type": "choice", "required": True,
       "choices": ["每周", "每两周", "每月"]},
      {"name": "emergency_contact", "label": "紧急联系人", "type": "text"}], 1500),
    ("disabled", "残疾人", "care", False,
     [{"name": "kind", "label": "残疾类别", "type": "choice", "required": True,
       "choices": ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"]},
      {"name": "grade", "label": "残疾等级", "type": "choice", "required": True,
       "choices": ["一级", "二级", "三级", "四级"]}],
     1500),
    ("minimum-living-allowance", "低保对象", "care", False,
     [{"name": "monthly_amount", "label": "月保障金额（元）", "type": "number", "required": True},
      {"name": "since", "label": "纳入日期", "type": "date"}], 1000),
    ("left-behind-child", "留守儿童", "care", False, [{"name": "guardian", "label": "监护人", "type": "text"}], 200),
    ("key-petitioner", "重点信访人员", "key", True,
     [{"name": "matter", "label": "信访事项", "type": "text", "required": True},
      {"name": "level", "label": "关注等级", "type": "choice", "required": True, "choices": ["一般", "重点"]}], 200),
]
OFFENCES = ["盗窃", "诈骗", "故意伤害", "危险驾驶", "寻衅滋事", "交通肇事"]
PETITION_MATTERS = ["房屋拆迁补偿", "劳动报酬", "物业纠纷", "社保待遇", "土地承包"]


TRACKED = (Courtyard, Building, House, Household, Person, PersonTag, Organization, PartyOrganization)


@dataclass
class Grid:
    code: str
    target: int
    geom: object  # shapely
    urban: bool
    dedicated: bool


def already_loaded() -> bool:
    return Household.objects.filter(number__startswith=DEMO_PREFIX).exists()


# Sealing in batches ---------------------------------------------------------------------------------------------

def _seal_chunk(args):
    """(values, purpose, key id, key, index key) → [(encrypted, index)], the forms of pii.encrypt/blind_index."""
    values, purpose, key_id, key, index_key = args
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(key)
    associated = purpose.encode()
    out_enc, out_index = [], []
    nonces = os.urandom(12 * len(values))
    for i, value in enumerate(values):
        nonce = nonces[12 * i:12 * i + 12]
        out_enc.append(f"{key_id}:{base64.b64encode(nonce + aead.encrypt(nonce, value.encode(), associated)).decode()}")
        out_index.append(hmac.digest(index_key, f"{purpose}:{value}".encode(), hashlib.sha256).hex())
    return out_enc, out_index


def seal_batch(values, purpose, *, processes=2):
    """Encrypted forms and blind indexes of many values at once (identical to pii.encrypt / pii.blind_index);
    big batches are split over `processes` worker processes."""
    keys, current = pii._keyring()
    values = list(values)
    chunk = 40_000
    jobs = [(values[i:i + chunk], purpose, current, keys[current], keys[pii.INDEX_KEY_ID])
            for i in range(0, len(values), chunk)]
    if processes > 1 and len(jobs) > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(processes) as pool:
            results = pool.map(_seal_chunk, jobs)
    else:
        results = [_seal_chunk(job) for job in jobs]
    encrypted = [e for enc, _ in results for e in enc]
    indexes = [x for _, idx in results for x in idx]
    return encrypted, indexes


# Identity numbers -----------------------------------------------------------------------------------------------

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def id_numbers(address, birth, male, rng):
    """Valid 18-digit resident ID numbers (GB 11643): address code, birth date, a sequence unique per (address,
    birth date) with the gender's parity (odd for men), and the MOD 11-2 check character."""
    n = len(address)
    ymd = (np.char.replace(np.datetime_as_string(birth, unit="D").astype(str), "-", "")).astype(np.int64)
    group = address.astype(np.int64) * 100_000_000 + ymd
    order = np.lexsort((rng.random(n), group))
    sorted_group = group[order]
    start = np.r_[0, np.flatnonzero(sorted_group[1:] != sorted_group[:-1]) + 1]
    run = np.repeat(start, np.diff(np.r_[start, n]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - run
    offset = (group * 2654435761 % 200)  # a per-group starting point, so numbers do not all start at 001
    sequence = (offset + 2 * rank) % 498 * 2 + np.where(male, 1, 2)
    body = address.astype(np.int64) * 10**11 + ymd * 1000 + sequence
    digits = (body[:, None] // 10 ** np.arange(16, -1, -1)) % 10
    check = _ID_CHECK[(digits * _ID_WEIGHTS).sum(axis=1) % 11]
    return np.char.add(np.char.zfill(body.astype(str), 17), check)


def _org_code_check(body8):
    """GB 11714 check character of an 8-character organization code body (digits and letters)."""
    weights = [3, 7, 9, 10, 5, 8, 4, 2]
    values = [int(c) if c.isdigit() else ord(c) - 55 for c in body8]
    check = 11 - sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def uscc_numbers(prefixes, rng):
    """Valid unified social credit codes (GB 32100): registering authority + type, region 370103, a 9-character
    organization code (GB 11714 check), and the MOD 31 check character; unique."""
    out, seen = [], set()
    for prefix in prefixes:
        while True:
            body8 = "".join(_USCC_ALPHABET[i] for i in rng.integers(0, 10, 8))
            code17 = f"{prefix}370103{body8}{_org_code_check(body8)}"
            if code17 not in seen:
                break
        seen.add(code17)
        total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(code17, _USCC_WEIGHTS, strict=True))
        out.append(code17 + _USCC_ALPHABET[(31 - total % 31) % 31])
    return out


def _valid_years(code):
    """The birth years (1900–2025) for which python-stdnum accepts this address code (GB/T 2260 changes)."""
    from stdnum.cn import ric

    years = set()
    for year in range(1900, 2026):
        body = f"{code}{year}06150020"
        try:
            if ric.is_valid(body[:-1] + ric.calc_check_digit(body)):
                years.add(year)
        except (KeyError, ValueError):
            pass
    return years


def _origin_address_codes(pick, years):
    """The origin county's code when it existed in the birth year, else its prefecture's (or the province's)."""
    out = np.empty(len(pick), dtype="<U6")
    for i, (code, _name) in enumerate(ORIGIN_CODES):
        mine = pick == i
        if not mine.any():
            continue
        fallback = next((c for c in (code[:4] + "00", code[:2] + "0000") if len(_valid_years(c)) == 126), "370100")
        valid = np.isin(years[mine], sorted(_valid_years(code)))
        out[mine] = np.where(valid, code, fallback)
    return out


def _local_address_codes(years, rng):
    """Jinan address codes valid in the birth year (the code list changed over time, GB/T 2260)."""
    n = len(years)
    modern = np.array(["370103"] * 6 + ["370102", "370104", "370105", "370112"])
    old = np.array(["370120", "370100"])
    pick_modern = modern[rng.integers(0, len(modern), n)]
    pick_old = old[rng.integers(0, len(old), n)]
    codes = np.where(years >= 1983, pick_modern, pick_old)
    return np.where((codes == "370112") & (years < 1987), "370103", codes)


# Geometry helpers -------------------------------------------------------------------------------------------------

def _points_in(geoms, rng, *, within=None):
    """One random point inside each geometry (arrays of shapely geometries), by rejection in the bounding box."""
    n = len(geoms)
    x, y = np.zeros(n), np.zeros(n)
    todo = np.arange(n)
    bounds = shapely.bounds(geoms)
    for _ in range(200):
        if not len(todo):
            break
        b = bounds[todo]
        cx = b[:, 0] + rng.random(len(todo)) * (b[:, 2] - b[:, 0])
        cy = b[:, 1] + rng.random(len(todo)) * (b[:, 3] - b[:, 1])
        ok = shapely.contains_xy(geoms[todo], cx, cy)
        x[todo[ok]], y[todo[ok]] = cx[ok], cy[ok]
        todo = todo[~ok]
    if len(todo):  # thin slivers: their point on surface
        surface = shapely.point_on_surface(geoms[todo])
        x[todo], y[todo] = shapely.get_x(surface), shapely.get_y(surface)
    return x, y


def _metres(lat):
    """Degrees per metre (lon, lat) at this latitude."""
    return 1 / (111_320 * math.cos(math.radians(lat))), 1 / 110_540


def _square(x, y, side_m, angle):
    dx, dy = _metres(36.65)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]]) * 0.5
    c, s = np.cos(angle), np.sin(angle)
    rotated = np.stack([corners[:, 0] * c[:, None] - corners[:, 1] * s[:, None],
                        corners[:, 0] * s[:, None] + corners[:, 1] * c[:, None]], axis=-1)
    coords = np.empty_like(rotated)
    coords[..., 0] = x[:, None] + rotated[..., 0] * side_m[:, None] * dx
    coords[..., 1] = y[:, None] + rotated[..., 1] * side_m[:, None] * dy
    return shapely.polygons(coords)


# COPY -------------------------------------------------------------------------------------------------------------

def _text(value):
    if value is None:
        return "\\N"
    if isinstance(value, bool | np.bool_):
        return "t" if value else "f"
    if isinstance(value, list):
        return "{" + ",".join(value) + "}"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class _Each:
    """One value for every row."""

    def __init__(self, value):
        self.value = value


def _series(value, start, stop, count, label):
    if isinstance(value, _Each) or not isinstance(value, np.ndarray | list | tuple):
        return [_text(value.value if isinstance(value, _Each) else value)] * (stop - start)
    if len(value) != count:
        raise ValueError(f"{label}: {len(value)} values for {count} rows")
    part = value[start:stop]
    if isinstance(part, np.ndarray) and part.dtype.kind in "iuUf":
        return part.astype(str).tolist()
    return [v if v.__class__ is str else _text(v) for v in (part.tolist() if isinstance(part, np.ndarray)
                                                             else part)]


def copy_rows(cursor, model, columns: dict, count: int, chunk: int = 50_000):
    """COPY `count` rows of `model`; `columns` maps column names to sequences (or one value for every row). Every
    other concrete column gets the field's default, as Django would write it. Rows are sent in chunks, so memory
    stays bounded."""
    if not count:
        return
    for field in model._meta.concrete_fields:
        if field.column not in columns and field.column != "id":
            columns[field.column] = _Each(field.get_default())
    names = list(columns)
    started = time.perf_counter()
    with cursor.copy(f"COPY {model._meta.db_table} ({', '.join(names)}) FROM STDIN") as copy:
        for first in range(0, count, chunk):
            last = min(first + chunk, count)
            series = [_series(columns[name], first, last, count, f"{model.__name__}.{name}") for name in names]
            copy.write("".join("\t".join(row) + "\n" for row in zip(*series, strict=True)))
    log.debug("COPY %s: %d rows in %.2f s", model._meta.db_table, count, time.perf_counter() - started)


def _reserve_ids(cursor, model, count):
    """`count` consecutive primary keys from the table's sequence (the table is locked for the load)."""
    table = model._meta.db_table
    cursor.execute(f"SELECT pg_get_serial_sequence('{table}', 'id')")
    sequence = cursor.fetchone()[0]
    cursor.execute("SELECT nextval(%s)", [sequence])
    first = cursor.fetchone()[0]
    if count > 1:
        cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return np.arange(first, first + count, dtype=np.int64)


# The generator ----------------------------------------------------------------------------------------------------

def _grids():
    from wangge.geo.models import Area

    rows = (Area.objects.current().filter(level=area_codes.GRID).order_by("code")
            .values_list("code", "household_target", "geom", "kind"))
    subdistricts = sorted(Area.objects.current().filter(level=area_codes.SUBDISTRICT).values_list("code", flat=True))
    # The last four subdistricts of the code list (十六里河, 兴隆, 党家, 陡沟) are towns on the southern fringe.
    rural = set(subdistricts[-4:]) if len(subdistricts) > 6 else set()
    return [Grid(code, target or 400, shapely.from_wkb(bytes(geom.wkb)), code[:9] not in rural, kind == "dedicated")
            for code, target, geom, kind in rows]


def _district_outline():
    from wangge.geo.models import Area

    geom = Area.objects.current().filter(level=area_codes.DISTRICT).values_list("geom", flat=True).first()
    return shapely.from_wkb(bytes(geom.wkb))


def _names(rng, surnames, n, male):
    from faker.providers.person.zh_CN import Provider

    male_given = np.array(list(Provider.first_names_male))
    female_given = np.array(list(Provider.first_names_female))
    given = np.where(male, male_given[rng.integers(0, len(male_given), n)],
                     female_given[rng.integers(0, len(female_given), n)])
    return np.char.add(surnames, given)


def _surnames(rng, n):
    from faker.providers.person.zh_CN import Provider

    names = np.array(list(Provider.last_names.keys()))
    weights = np.array(list(Provider.last_names.values()), dtype=float)
    return names[rng.choice(len(names), size=n, p=weights / weights.sum())]


def _phones(rng, n):
    prefixes = np.array(MOBILE_PREFIXES, dtype=np.int64)[rng.integers(0, len(MOBILE_PREFIXES), n)]
    return (prefixes * 10**8 + rng.integers(0, 10**8, n)).astype(str)


def _dates(rng, start: datetime.date, end: datetime.date, n):
    days = (end - start).days
    return np.datetime64(start) + rng.integers(0, days + 1, n).astype("timedelta64[D]")


def _iso(dates):
    return np.datetime_as_string(dates, unit="D").astype(str)


def load(*, scale: float = 1.0, seed: int = DEFAULT_SEED, processes: int = 2, progress=None) -> dict:
    """Generates and writes the demo population; returns the counts and timings. Skips (returns
    {"skipped": True}) when a demo population is already loaded."""
    if already_loaded():
        return {"skipped": True}
    say = progress or (lambda message: None)
    timings = {}
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    grids = _grids()
    if not grids:
        raise RuntimeError("no active generation: load the demo district first")
    from wangge.geo.index import GridIndex

    grid_codes = np.array([g.code for g in grids])
    geoms = np.array([g.geom for g in grids], dtype=object)
    index = GridIndex(0, grid_codes.tolist(), list(geoms))
    outline = _district_outline()
    n_grids = len(grids)
    now = timezone.now().isoformat()

    # Households per grid: density follows the grid's target, urban grids denser, dedicated grids mostly empty;
    # a few grids pushed over their target so that coverage and validation have something to flag.
    total_households = max(1, round(HOUSEHOLDS * scale))
    targets = np.array([g.target for g in grids], dtype=float)
    urban = np.array([g.urban for g in grids])
    dedicated = np.array([g.dedicated for g in grids])
    weight = targets * np.where(urban, 1.0, 0.35) * rng.lognormal(0, 0.35, n_grids)
    weight[dedicated & (rng.random(n_grids) < 0.6)] = 0
    households_per_grid = np.zeros(n_grids, dtype=np.int64)
    over = rng.choice(np.flatnonzero(weight > 0), size=min(round(0.008 * n_grids * scale),
                                                          int((weight > 0).sum())), replace=False)
    households_per_grid[over] = (targets[over] * rng.uniform(1.05, 1.25, len(over))).astype(np.int64)
    rest = max(total_households - int(households_per_grid.sum()), 0)
    weight[over] = 0
    households_per_grid += rng.multinomial(rest, weight / weight.sum())

    # Buildings: residential ones until the grid's houses hold its households (~90 % occupied), plus a few others.
    floors_choice, floors_p = [3, 4, 5, 6, 7, 11, 18, 26], [.12, .14, .2, .26, .1, .08, .07, .03]
    b_grid, b_floors, b_units, b_residential = [], [], [], []
    for g in range(n_grids):
        need = math.ceil(households_per_grid[g] / 0.9)
        have = 0
        while have < need:
            floors = int(rng.choice(floors_choice, p=floors_p))
            units = int(rng.choice([1, 2, 3], p=[.35, .45, .2]))
            if floors * units * 2 > need - have:  # the grid's last building: only as big as still needed
                units = 1 if need - have < 12 else units
                floors = max(1, min(floors, math.ceil((need - have) / (units * 2))))
            b_grid.append(g), b_floors.append(floors), b_units.append(units), b_residential.append(True)
            have += floors * units * 2
        others = rng.poisson(3 * scale if dedicated[g] else 0.5 * scale)
        if households_per_grid[g] == 0 and dedicated[g] and rng.random() < 0.5:
            others = 0  # a dedicated grid with no building registered yet: coverage lists it
        for _ in range(others):
            b_grid.append(g), b_floors.append(int(rng.integers(1, 6))), b_units.append(1)
            b_residential.append(False)
    # A few non-residential buildings surveyed just outside the district (kept for the coverage report).
    n_outside = max(1, round(5 * scale))
    for g in rng.integers(0, n_grids, n_outside):
        b_grid.append(int(g)), b_floors.append(2), b_units.append(1), b_residential.append(False)
    b_grid = np.array(b_grid, dtype=np.int64)
    b_floors, b_units = np.array(b_floors), np.array(b_units)
    b_residential = np.array(b_residential)
    n_buildings = len(b_grid)

    # Courtyards: about one per ten buildings, squares inside the grid; ~1 % straddle a grid boundary.
    n_courtyards = max(1, round(n_buildings / 10))
    c_grid = np.sort(rng.choice(b_grid[b_residential] if b_residential.any() else b_grid, n_courtyards))
    side = rng.uniform(80, 200, n_courtyards)
    angle = rng.uniform(0, math.pi / 2, n_courtyards)
    c_geom = np.empty(n_courtyards, dtype=object)
    todo = np.arange(n_courtyards)
    for _ in range(12):
        cx, cy = _points_in(geoms[c_grid[todo]], rng)
        squares = _square(cx, cy, side[todo], angle[todo])
        ok = shapely.contains(geoms[c_grid[todo]], squares)
        c_geom[todo[ok]] = squares[ok]
        todo = todo[~ok]
        side[todo] *= 0.75
    if len(todo):
        cx, cy = _points_in(geoms[c_grid[todo]], rng)
        c_geom[todo] = _square(cx, cy, np.full(len(todo), 10.0), angle[todo])
    straddlers = rng.choice(n_courtyards, size=max(1, round(n_courtyards * 0.01)), replace=False)
    for i in straddlers:
        boundary = shapely.boundary(geoms[c_grid[i]])
        for _ in range(20):
            point = shapely.line_interpolate_point(boundary, rng.random(), normalized=True)
            square = _square(np.array([point.x]), np.array([point.y]), np.array([120.0]), angle[i:i + 1])[0]
            if outline.contains(square):
                c_geom[i] = square
                break
    c_surface = shapely.point_on_surface(c_geom)
    c_code = index.codes_for(shapely.get_x(c_surface), shapely.get_y(c_surface))
    c_code = np.array([code or "" for code in c_code], dtype=object)

    # Building locations: residential buildings of a grid with courtyards go into one of them (most do).
    b_courtyard = np.full(n_buildings, -1, dtype=np.int64)
    courtyards_of = {}
    for i, g in enumerate(c_grid):
        courtyards_of.setdefault(int(g), []).append(i)
    pick = rng.random(n_buildings)
    for b in np.flatnonzero(b_residential & (pick < 0.75)):
        options = courtyards_of.get(int(b_grid[b]))
        if options:
            b_courtyard[b] = options[int(rng.integers(0, len(options)))]
    in_courtyard = b_courtyard >= 0
    b_x, b_y = _points_in(geoms[b_grid], rng)
    if in_courtyard.any():
        b_x[in_courtyard], b_y[in_courtyard] = _points_in(c_geom[b_courtyard[in_courtyard]], rng)
    # A few buildings just outside the district (a survey error kept for the coverage report).
    outside = np.arange(n_buildings - n_outside, n_buildings)
    ring = shapely.get_exterior_ring(max(shapely.get_parts(shapely.buffer(outline, 0.004)), key=shapely.area))
    for b in outside:
        point = shapely.line_interpolate_point(ring, rng.random(), normalized=True)
        b_x[b], b_y[b] = point.x, point.y
        b_courtyard[b] = -1
    b_code = np.array([code or "" for code in index.codes_for(b_x, b_y)], dtype=object)
    # Numbers 00001… per grid in the order the buildings were registered (their ids).
    order = np.lexsort((np.arange(n_buildings), b_code))
    b_number = np.zeros(n_buildings, dtype=np.int64)
    sorted_code = b_code[order]
    start = np.r_[0, np.flatnonzero(sorted_code[1:] != sorted_code[:-1]) + 1]
    b_number[order] = np.arange(n_buildings) - np.repeat(start, np.diff(np.r_[start, n_buildings])) + 1
    # Rows are written in (grid, number) order, so ids follow the numbering.
    perm = order
    b_grid, b_floors, b_units, b_residential = b_grid[perm], b_floors[perm], b_units[perm], b_residential[perm]
    b_x, b_y, b_code, b_number, b_courtyard = b_x[perm], b_y[perm], b_code[perm], b_number[perm], b_courtyard[perm]
    timings["places_generated_s"] = time.perf_counter() - started
    say(f"{n_courtyards} courtyards, {n_buildings} buildings generated")

    # Houses: units × floors × 2 rooms for residential buildings.
    per_building = np.where(b_residential, b_floors * b_units * 2, 0)
    n_houses = int(per_building.sum())
    h_building = np.repeat(np.arange(n_buildings), per_building)
    within = np.arange(n_houses) - np.repeat(np.cumsum(per_building) - per_building, per_building)
    per_unit = np.repeat(b_floors * 2, per_building)
    h_unit = within // per_unit + 1
    h_floor = (within % per_unit) // 2 + 1
    h_room = np.char.add(h_floor.astype(str), np.char.zfill(((within % 2) + 1).astype(str), 2))
    h_code = b_code[h_building]
    h_grid = b_grid[h_building]

    # Households: each takes a random house of its grid.
    order = np.lexsort((rng.random(n_houses), h_grid))
    sorted_grid = h_grid[order]
    first_of_grid = np.searchsorted(sorted_grid, np.arange(n_grids))
    rank = np.arange(n_houses) - first_of_grid[sorted_grid]
    hh_house = np.sort(order[rank < households_per_grid[sorted_grid]])
    n_households = len(hh_house)
    hh_code = h_code[hh_house]
    h_rented = np.zeros(n_houses, dtype=bool)

    # Persons per household (mean ~2.6); a few households registered with no member yet.
    sizes = rng.choice([1, 2, 3, 4, 5, 6], size=n_households, p=[.22, .30, .25, .14, .06, .03])
    sizes[rng.random(n_households) < 0.0015] = 0
    n_members = int(sizes.sum())
    p_household = np.repeat(np.arange(n_households), sizes)
    position = np.arange(n_members) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    head_age = rng.integers(25, 86, n_households)
    age = np.repeat(head_age, sizes).astype(np.int64)
    relation = np.full(n_members, "户主", dtype=object)
    is_spouse = (position == 1) & (rng.random(n_members) < 0.85)
    relation[is_spouse] = "配偶"
    age[is_spouse] = np.clip(age[is_spouse] + rng.integers(-4, 5, is_spouse.sum()), 20, 95)
    is_child = (position >= 1) & ~is_spouse & (position < 4)
    relation[is_child] = "子女"
    age[is_child] = np.clip(age[is_child] - rng.integers(22, 36, is_child.sum()), 0, 70)
    is_parent = position >= 4
    relation[is_parent] = "父母"
    age[is_parent] = np.clip(age[is_parent] + rng.integers(22, 30, is_parent.sum()), 45, 100)
    grandchild = is_child & (position == 3) & (np.repeat(head_age, sizes) >= 60)
    relation[grandchild] = "孙子女"
    age[grandchild] = np.clip(age[grandchild] - 25, 0, 40)
    male = rng.random(n_members) < 0.51
    head_male = np.zeros(n_households, dtype=bool)
    head_male[p_household[position == 0]] = male[position == 0]
    spouse_of = np.repeat(head_male, sizes)
    male[is_spouse] = ~spouse_of[is_spouse]

    # Residents living here without a household (collective dormitories), and a handful with neither house nor
    # household (known in the grid only): coverage lists both.
    n_no_household = max(1, round(n_members * 0.004))
    n_no_house = max(1, round(n_members * 0.0005))
    n_persons = n_members + n_no_household + n_no_house
    extra_age = rng.integers(18, 60, n_no_household + n_no_house)
    age = np.r_[age, extra_age]
    male = np.r_[male, rng.random(n_no_household + n_no_house) < 0.6]
    relation = np.r_[relation, np.full(n_no_household + n_no_house, "", dtype=object)]
    p_household = np.r_[p_household, np.full(n_no_household + n_no_house, -1)]
    occupied = hh_house if n_households else np.arange(min(n_houses, 1))
    p_house = np.r_[hh_house[p_household[:n_members]], occupied[rng.integers(0, len(occupied), n_no_household)],
                    np.full(n_no_house, -1)]
    p_code = np.where(p_house >= 0, h_code[np.maximum(p_house, 0)], "").astype(object)
    lonely = np.flatnonzero(p_house < 0)
    populated = np.flatnonzero(households_per_grid > 0)
    p_code[lonely] = grid_codes[rng.choice(populated, len(lonely))]

    # Birth dates: age in years plus a random day; nobody born after the reference day.
    birth = (np.datetime64(TODAY) - (age * 365.25).astype(np.int64).astype("timedelta64[D]")
             - rng.integers(1, 365, n_persons).astype("timedelta64[D]"))
    years = birth.astype("datetime64[Y]").astype(int) + 1970
    residence = rng.choice(["registered", "flowing", "unregistered", "foreign"], size=n_persons,
                           p=[.812, .15, .033, .005])
    # A household shares the head's residence type mostly.
    head_residence = np.full(n_households, "registered", dtype=residence.dtype)
    head_residence[p_household[:n_members][position == 0]] = residence[:n_members][position == 0]
    same = rng.random(n_members) < 0.9
    residence[:n_members] = np.where(same, np.repeat(head_residence, sizes), residence[:n_members])
    residence[n_members:n_members + n_no_household] = "flowing"
    flowing = residence == "flowing"
    origin_pick = rng.integers(0, len(ORIGIN_CODES), n_persons)
    origin_names = np.array([name for _, name in ORIGIN_CODES])[origin_pick]
    address = np.where(flowing, _origin_address_codes(origin_pick, years), _local_address_codes(years, rng))
    has_id = (residence != "foreign") & ~((residence == "unregistered") & (rng.random(n_persons) < 0.5))
    ids = id_numbers(address, birth, male, rng)
    phone = _phones(rng, n_persons)
    has_phone = (age >= 16) & (rng.random(n_persons) < 0.95)
    surname_of_household = _surnames(rng, max(n_households, 1))
    surnames = np.where(p_household >= 0, surname_of_household[np.maximum(p_household, 0)], _surnames(rng, n_persons))
    spouse_surnames = _surnames(rng, n_persons)
    surnames = np.where(relation == "配偶", spouse_surnames, surnames)
    names = _names(rng, surnames, n_persons, male)
    party = (age >= 18) & (rng.random(n_persons) < 0.095)
    status = np.full(n_persons, "normal", dtype=object)
    roll = rng.random(n_persons)
    moved = roll < 0.015
    deceased = (roll >= 0.015) & (roll < 0.015 + 0.02 * (age >= 70))
    status[moved], status[deceased] = "moved_out", "deceased"
    status_date = np.where(moved | deceased, _iso(_dates(rng, datetime.date(2020, 1, 1), TODAY, n_persons)), None)
    household_status = np.where(flowing | (residence == "foreign"), "elsewhere",
                                np.where(rng.random(n_persons) < 0.08, "away", "together"))
    inflow = np.where(flowing, _iso(_dates(rng, datetime.date(2010, 1, 1), TODAY, n_persons)), None)
    h_rented[p_house[flowing & (p_house >= 0)]] = True
    timings["persons_generated_s"] = time.perf_counter() - started
    say(f"{n_persons} persons generated")

    # Sealing: ID numbers and phones, in batches.
    t0 = time.perf_counter()
    id_values = ids[has_id]
    id_enc, id_index = seal_batch(id_values.tolist(), pii.ID_NUMBER, processes=processes)
    phone_values = phone[has_phone]
    phone_enc, phone_index = seal_batch(phone_values.tolist(), pii.PHONE, processes=processes)
    timings["sealing_s"] = time.perf_counter() - t0
    say(f"sealed {len(id_enc)} ID numbers and {len(phone_enc)} phones in {timings['sealing_s']:.1f} s")

    def spread(mask, values, empty=""):
        out = np.full(n_persons, empty, dtype=object)
        out[mask] = values
        return out

    id_masked = spread(has_id, [v[:6] + "********" + v[-4:] for v in id_values.tolist()])
    phone_masked = spread(has_phone, [v[:3] + "****" + v[-4:] for v in phone_values.tolist()])

    # Organizations: density follows the households; dedicated grids hold more.
    n_orgs = max(1, round(ORGANIZATIONS * scale))
    org_weight = households_per_grid + 30 * dedicated + 5
    o_grid = np.sort(rng.choice(n_grids, size=n_orgs, p=org_weight / org_weight.sum()))
    kinds = rng.choice(["shop", "enterprise", "social", "government", "school", "hospital", "other"], size=n_orgs,
                       p=[.55, .35, .03, .02, .015, .01, .025])
    o_x, o_y = _points_in(geoms[o_grid], rng)
    o_building = np.full(n_orgs, -1, dtype=np.int64)
    buildings_of = {}
    for b, g in enumerate(b_grid):
        buildings_of.setdefault(int(g), []).append(b)
    for o in np.flatnonzero((kinds == "shop") | (rng.random(n_orgs) < 0.3)):
        options = buildings_of.get(int(o_grid[o]))
        if options:
            b = options[int(rng.integers(0, len(options)))]
            if b_code[b] == grid_codes[o_grid[o]]:
                o_building[o] = b
                o_x[o], o_y[o] = b_x[b], b_y[b]
    o_code = np.array([code or "" for code in index.codes_for(o_x, o_y)], dtype=object)
    uscc_prefix = {"enterprise": "91", "shop": "92", "government": "11", "school": "12", "hospital": "12",
                   "social": "51", "other": "93"}
    o_uscc = uscc_numbers([uscc_prefix[k] for k in kinds], rng)
    word = np.array(ORG_WORDS)[rng.integers(0, len(ORG_WORDS), n_orgs)]
    o_names = []
    o_surnames = _surnames(rng, n_orgs)
    for i, kind in enumerate(kinds):
        if kind == "shop":
            o_names.append(f"市中区{o_surnames[i]}记{SHOP_GOODS[int(rng.integers(0, len(SHOP_GOODS)))]}")
        elif kind == "enterprise":
            o_names.append(f"济南{word[i]}{INDUSTRIES[int(rng.integers(0, len(INDUSTRIES)))]}有限公司")
        elif kind == "school":
            o_names.append(f"济南市市中区{word[i]}小学")
        elif kind == "hospital":
            o_names.append(f"济南{word[i]}医院")
        elif kind == "government":
            o_names.append(f"市中区{word[i]}服务中心")
        elif kind == "social":
            o_names.append(f"市中区{word[i]}志愿服务协会")
        else:
            o_names.append(f"济南{word[i]}合作社")
    key_places = [[] for _ in range(n_orgs)]
    for i, kind in enumerate(kinds):
        roll = rng.random()
        if kind == "shop" and "网吧" in o_names[i]:
            key_places[i] = ["internet_cafe", "crowded_place"]
        elif kind == "enterprise" and roll < 0.01:
            key_places[i] = ["hazardous_chemicals", "fire_safety"]
        elif kind == "enterprise" and roll < 0.03:
            key_places[i] = ["construction_site"]
        elif kind in ("school", "hospital"):
            key_places[i] = ["fire_safety", "crowded_place"]
    o_employees = np.where(kinds == "shop", rng.integers(1, 8, n_orgs), rng.integers(5, 400, n_orgs))
    o_phone = _phones(rng, n_orgs)
    o_phone_enc, _unused = seal_batch(o_phone.tolist(), "organization.safety_phone", processes=1)

    # Tags.
    tag_people = {}
    alive_adult = (status == "normal") & (age >= 18)
    singles = np.flatnonzero((p_household >= 0) & (age >= 65) & (status == "normal")
                             & (sizes[np.maximum(p_household, 0)] == 1))
    for slug, _name, _category, _sensitive, _fields, count in TAG_TYPES:
        want = max(1, round(count * scale))
        if slug == "elderly-alone":
            pool = singles
        elif slug == "left-behind-child":
            pool = np.flatnonzero((age < 16) & (status == "normal"))
        else:
            pool = np.flatnonzero(alive_adult)
        tag_people[slug] = np.sort(rng.choice(pool, size=min(want, len(pool)), replace=False)) if len(pool) else []

    def tag_data(slug):
        if slug == "community-corrections":
            begin = _dates(rng, datetime.date(2022, 1, 1), datetime.date(2024, 12, 1), 1)[0]
            end = begin + np.timedelta64(int(rng.integers(180, 1100)), "D")
            return {"sentence_start": str(begin), "sentence_end": str(end),
                    "offence": OFFENCES[int(rng.integers(0, len(OFFENCES)))]}
        if slug == "released-prisoner":
            return {"release_date": str(_dates(rng, datetime.date(2015, 1, 1), TODAY, 1)[0]),
                    "offence": OFFENCES[int(rng.integers(0, len(OFFENCES)))]}
        if slug == "severe-mental-disorder":
            return {"risk_level": str(int(rng.choice([0, 1, 2, 3, 4, 5], p=[.4, .3, .15, .1, .04, .01])))}
        if slug == "drug-user":
            return {"status": ["社区戒毒", "社区康复", "戒断三年未复吸"][int(rng.integers(0, 3))]}
        if slug == "elderly-alone":
            return {"visit_frequency": ["每周", "每两周", "每月"][int(rng.integers(0, 3))]}
        if slug == "disabled":
            return {"kind": ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"][int(rng.integers(0, 7))],
                    "grade": ["一级", "二级", "三级", "四级"][int(rng.integers(0, 4))]}
        if slug == "minimum-living-allowance":
            return {"monthly_amount": int(rng.integers(500, 1100)),
                    "since": str(_dates(rng, datetime.date(2012, 1, 1), TODAY, 1)[0])}
        if slug == "left-behind-child":
            return {}
        return {"matter": PETITION_MATTERS[int(rng.integers(0, len(PETITION_MATTERS)))],
                "level": ["一般", "重点"][int(rng.integers(0, 2))]}

    # Party organizations: a party committee (党委) per community, a branch (党支部) per ~10 grids serving them,
    # the branch's members the party members living in those grids.
    communities = sorted({code[:12] for code in grid_codes})
    party_rows = []  # (name, kind, parent index, served codes, grid code)
    member_pairs = []  # (party org index, person index)
    person_grid = np.array([code[:15] for code in p_code.tolist()], dtype=object)
    party_by_grid = {}
    for p in np.flatnonzero(party & (status == "normal")):
        party_by_grid.setdefault(person_grid[p], []).append(p)
    for community in communities:
        parent = len(party_rows)
        grids_here = [code for code in grid_codes if code.startswith(community)]
        party_rows.append((f"中共{community}社区委员会", "党委", None, grids_here, grids_here[0]))
        for start_at in range(0, len(grids_here), 10):
            served = grids_here[start_at:start_at + 10]
            branch = len(party_rows)
            party_rows.append((f"{community}社区第{start_at // 10 + 1}党支部", "党支部", parent, served, served[0]))
            for code in served:
                member_pairs.extend((branch, p) for p in party_by_grid.get(code, ()))

    # Writing: one transaction, COPY per table.
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor
        # The synthetic rows are written without a change-log event each (1.1 million "insert" events would bury
        # the real history): the tables' own triggers are off inside this transaction only, which also locks them
        # until the load commits. Foreign keys are still checked.
        for model in TRACKED:
            cursor.execute(f"ALTER TABLE {model._meta.db_table} DISABLE TRIGGER USER")
        if already_loaded():
            return {"skipped": True}
        # Courtyard names: a word and a suffix, numbered when repeated in the district.
        c_ids = _reserve_ids(cursor, Courtyard, n_courtyards)
        c_names = [f"{COURTYARD_WORDS[int(rng.integers(0, len(COURTYARD_WORDS)))]}"
                   f"{COURTYARD_SUFFIXES[int(rng.integers(0, len(COURTYARD_SUFFIXES)))]}" for _ in range(n_courtyards)]
        street = np.array(STREETS)[rng.integers(0, len(STREETS), max(n_courtyards, n_buildings))]
        c_names = [f"{street[i]}{name}" for i, name in enumerate(c_names)]
        c_wkt = ["SRID=4326;" + shapely.to_wkt(shapely.MultiPolygon([g]), rounding_precision=8) for g in c_geom]
        copy_rows(cursor, Courtyard, {
            "id": c_ids, "name": c_names, "address": [f"济南市市中区{street[i]}{i % 300 + 1}号" for i in
                                                     range(n_courtyards)],
            "property_manager": [PROPERTY_MANAGERS[int(rng.integers(0, len(PROPERTY_MANAGERS)))] for _ in
                                 range(n_courtyards)],
            "geom": c_wkt, "grid_code": c_code.tolist(), "district_code": [c[:6] for c in c_code],
            "created_at": now, "updated_at": now}, n_courtyards)

        b_ids = _reserve_ids(cursor, Building, n_buildings)
        b_use = np.where(b_residential, "住宅", np.array(["商业", "办公", "商住", "厂房"])[
            rng.integers(0, 4, n_buildings)])
        b_names = [f"{c_names[c]}{n}号楼" if c >= 0 else f"{street[i]}{n}号"
                   for i, (c, n) in enumerate(zip(b_courtyard.tolist(), b_number.tolist(), strict=True))]
        copy_rows(cursor, Building, {
            "id": b_ids, "number": [f"{n:05d}" for n in b_number.tolist()], "name": b_names,
            "address": [f"济南市市中区{street[i]}{i % 500 + 1}号" for i in range(n_buildings)],
            "use": b_use.tolist(), "floors": b_floors, "units": b_units,
            "courtyard_id": [c_ids[c] if c >= 0 else None for c in b_courtyard.tolist()],
            "location": [f"SRID=4326;POINT({x:.8f} {y:.8f})" for x, y in zip(b_x, b_y, strict=True)],
            "footprint": None, "grid_code": b_code.tolist(), "district_code": [c[:6] for c in b_code],
            "created_at": now, "updated_at": now}, n_buildings)

        h_ids = _reserve_ids(cursor, House, n_houses)
        owners = _names(rng, _surnames(rng, n_houses), n_houses, rng.random(n_houses) < 0.5)
        copy_rows(cursor, House, {
            "id": h_ids, "building_id": b_ids[h_building], "unit": h_unit, "floor": h_floor, "room": h_room,
            "use": "住宅", "area_m2": np.round(rng.uniform(45, 160, n_houses), 2), "owner_name": owners,
            "rented": h_rented.tolist(), "grid_code": h_code.tolist(), "district_code": [c[:6] for c in h_code],
            "created_at": now, "updated_at": now}, n_houses)
        timings["places_written_s"] = time.perf_counter() - t0
        say(f"{n_houses} houses written")

        hh_ids = _reserve_ids(cursor, Household, n_households)
        p_ids = _reserve_ids(cursor, Person, n_persons)
        head_index = np.full(n_households, -1, dtype=np.int64)
        heads = np.flatnonzero(position == 0)
        head_index[p_household[heads]] = heads
        sequence_in_grid = np.arange(n_households) - np.searchsorted(hh_code.astype(str), hh_code.astype(str))
        copy_rows(cursor, Household, {
            "id": hh_ids,
            "number": [f"{DEMO_PREFIX}{code}{s + 1:04d}" for code, s in zip(hh_code, sequence_in_grid, strict=True)],
            "house_id": h_ids[hh_house], "head_id": [int(p_ids[i]) if i >= 0 else None for i in head_index],
            "grid_code": hh_code.tolist(), "district_code": [c[:6] for c in hh_code],
            "created_at": now, "updated_at": now}, n_households)

        hukou = np.where(flowing, origin_names, "山东省济南市市中区")
        hukou = np.where(residence == "foreign", "", hukou)
        copy_rows(cursor, Person, {
            "id": p_ids, "name": names, "id_number_enc": spread(has_id, id_enc), "id_number_index":
                spread(has_id, id_index), "id_number_masked": id_masked,
            "gender": np.where(male, "male", "female"),
            "birth_date": _iso(birth),
            "phone_enc": spread(has_phone, phone_enc), "phone_index": spread(has_phone, phone_index),
            "phone_masked": phone_masked,
            "ethnicity": rng.choice(ETHNICITIES[0], size=n_persons, p=ETHNICITIES[1]),
            "hukou_place": hukou, "residence_type": residence, "household_status": household_status,
            "house_id": [int(h_ids[h]) if h >= 0 else None for h in p_house],
            "household_id": [int(hh_ids[h]) if h >= 0 else None for h in p_household],
            "relation_to_head": relation, "work_unit": "",
            "party_member": party.tolist(), "status": status, "status_date": status_date.tolist(),
            "inflow_date": inflow.tolist(),
            "inflow_reason": np.where(flowing, np.array(INFLOW_REASONS)[rng.integers(0, len(INFLOW_REASONS),
                                                                                     n_persons)], ""),
            "origin": np.where(flowing, origin_names, ""),
            "residence_permit": np.where(flowing & (rng.random(n_persons) < 0.6),
                                         np.char.add("鲁济居", rng.integers(10**8, 10**9, n_persons).astype(str)), ""),
            "grid_code": p_code.tolist(), "district_code": [c[:6] for c in p_code],
            "created_at": now, "updated_at": now}, n_persons)
        timings["persons_written_s"] = time.perf_counter() - t0
        say(f"{n_households} households and {n_persons} persons written")

        tag_types = {}
        for slug, name, category, sensitive, fields, _count in TAG_TYPES:
            tag_types[slug], _created = TagType.objects.get_or_create(
                slug=slug, defaults={"name": name, "category": category, "sensitive": sensitive, "fields": fields})
        t_person, t_type, t_data = [], [], []
        for slug, people in tag_people.items():
            for p in people:
                t_person.append(int(p))
                t_type.append(tag_types[slug].pk)
                t_data.append(tag_data(slug))
        n_tags = len(t_person)
        t_person = np.array(t_person, dtype=np.int64)
        copy_rows(cursor, PersonTag, {
            "person_id": p_ids[t_person] if n_tags else [], "tag_type_id": t_type, "data": t_data,
            "valid_from": None, "valid_to": None,
            "grid_code": p_code[t_person].tolist() if n_tags else [],
            "district_code": [c[:6] for c in p_code[t_person]] if n_tags else [],
            "created_at": now, "updated_at": now}, n_tags)

        o_ids = _reserve_ids(cursor, Organization, n_orgs)
        copy_rows(cursor, Organization, {
            "id": o_ids, "name": o_names, "kind": kinds, "uscc": o_uscc,
            "legal_representative": _names(rng, _surnames(rng, n_orgs), n_orgs, rng.random(n_orgs) < 0.6),
            "address": [f"济南市市中区{STREETS[int(rng.integers(0, len(STREETS)))]}{i % 400 + 1}号" for i in
                        range(n_orgs)],
            "location": [f"SRID=4326;POINT({x:.8f} {y:.8f})" for x, y in zip(o_x, o_y, strict=True)],
            "employees": o_employees, "safety_contact": _names(rng, _surnames(rng, n_orgs), n_orgs,
                                                                 rng.random(n_orgs) < 0.6),
            "safety_phone_enc": o_phone_enc, "safety_phone_masked": [v[:3] + "****" + v[-4:] for v in o_phone],
            "key_place_kinds": key_places,
            "building_id": [int(b_ids[b]) if b >= 0 else None for b in o_building],
            "grid_code": o_code.tolist(), "district_code": [c[:6] for c in o_code],
            "created_at": now, "updated_at": now}, n_orgs)

        po_ids = _reserve_ids(cursor, PartyOrganization, len(party_rows))
        copy_rows(cursor, PartyOrganization, {
            "id": po_ids, "name": [r[0] for r in party_rows], "kind": [r[1] for r in party_rows],
            "parent_id": [int(po_ids[r[2]]) if r[2] is not None else None for r in party_rows],
            "organization_id": None, "served_grid_codes": [list(r[3]) for r in party_rows],
            "grid_code": [r[4] for r in party_rows], "district_code": [r[4][:6] for r in party_rows],
            "created_at": now, "updated_at": now}, len(party_rows))
        through = PartyOrganization.members.through
        copy_rows(cursor, through, {
            "partyorganization_id": [int(po_ids[o]) for o, _p in member_pairs],
            "person_id": [int(p_ids[p]) for _o, p in member_pairs]}, len(member_pairs))
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign-key checks run now
        for model in TRACKED:
            cursor.execute(f"ALTER TABLE {model._meta.db_table} ENABLE TRIGGER USER")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        timings["written_s"] = time.perf_counter() - t0
        for model in (Courtyard, Building, House, Household, Person, PersonTag, Organization, PartyOrganization):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    timings["total_s"] = time.perf_counter() - started
    counts = {"courtyards": n_courtyards, "buildings": n_buildings, "houses": n_houses, "households": n_households,
              "persons": n_persons, "person_tags": n_tags, "organizations": n_orgs,
              "party_organizations": len(party_rows), "party_members": len(member_pairs)}
    log.info("demo population loaded: %s in %.1f s", counts, timings["total_s"])
    return {"skipped": False, "counts": counts, "timings": {k: round(v, 2) for k, v in timings.items()}}
