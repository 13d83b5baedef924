"""Registry import: each bad-input class gives a per-row (or per-file) error and writes nothing; dry run, commit,
clean rows only, idempotency, a killed import, scope."""

import csv
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from wangge.core.errors import DomainError
from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_superuser, make_user
from wangge.geo.models import Area
from wangge.registry import services
from wangge.registry.import_service import ImportRejected, do_import_registry
from wangge.registry.importers import COLUMNS
from wangge.registry.models import Building, House, Household, Organization, Person

pytestmark = pytest.mark.django_db

VALID_IDS = ["360426199101010071", "120103198806018241", "11010519491231002X"]
HEADERS = ["姓名", "身份证号", "联系电话", "人口类型", "户号", "与户主关系", "楼栋编码", "单元", "房间号", "是否党员"]


def grid_point(community):
    grid = Area.objects.current().filter(level="grid", code__startswith=community).order_by("code").first()
    return grid.code, grid.geom.point_on_surface


@pytest.fixture
def place(district):
    admin = make_superuser()
    _code, point = grid_point(COMMUNITY_A)
    building = services.do_create_building(actor=admin, location=point, name="1号楼")
    house = services.do_create_house(building, actor=admin, unit="1", room="101")
    return building, house, f"{building.grid_code}{building.number}"


@pytest.fixture
def staff(district):
    return make_user("community_staff", COMMUNITY_A)


def csv_file(rows, headers=HEADERS, encoding="utf-8-sig", name="persons.csv"):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(encoding))


def xlsx_file(rows, headers=HEADERS, name="persons.xlsx"):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return SimpleUploadedFile(name, out.getvalue())


def person_row(code, id_number=VALID_IDS[0], name="张三", phone="13800138000", room="101", **extra):
    row = {"姓名": name, "身份证号": id_number, "联系电话": phone, "人口类型": "户籍人口", "户号": "",
           "与户主关系": "", "楼栋编码": code, "单元": "1" if room else "", "房间号": room, "是否党员": "否"}
    row.update(extra)
    return [row[h] for h in HEADERS]


def problems_of(report):
    return [(p["row"], p["column"], p["reason"]) for p in report["problems"]]


# The happy path -----------------------------------------------------------------------------------------------------

def test_dry_run_writes_nothing_then_commit_writes(place, staff):
    building, house, code = place
    rows = [person_row(code), person_row(code, VALID_IDS[1], "李四", room="")]
    report = do_import_registry("persons", csv_file(rows), actor=staff)
    assert report["problems"] == [] and report["create"] == 2 and not report["committed"]
    assert Person.objects.count() == 0

    report = do_import_registry("persons", csv_file(rows), actor=staff, commit=True)
    assert report["committed"] and report["create"] == 2
    zhang = services.find_person_by_id_number(VALID_IDS[0])
    assert zhang.house == house and zhang.grid_code == building.grid_code and zhang.district_code == "370103"
    assert zhang.id_number_masked == "360426********0071" and zhang.phone_masked == "138****8000"
    assert zhang.gender == "male" and str(zhang.birth_date) == "1991-01-01"
    from wangge.core import pii
    assert pii.decrypt(zhang.id_number_enc, purpose="person.id_number") == VALID_IDS[0]
    assert pii.decrypt(zhang.phone_enc, purpose="person.phone") == "13800138000"
    li = services.find_person_by_id_number(VALID_IDS[1])
    assert li.house is None and li.grid_code == building.grid_code


def test_reimport_changes_nothing_and_updates_changed_rows(place, staff):
    _building, _house, code = place
    rows = [person_row(code), person_row(code, VALID_IDS[1], "李四")]
    import pghistory

    with pghistory.context(command="test"):
        do_import_registry("persons", xlsx_file(rows), actor=staff, commit=True)
    from django.apps import apps

    assert all(e.pgh_context_id for e in apps.get_model("registry", "PersonEvent").objects.all())
    before = list(Person.objects.order_by("pk").values())
    again = do_import_registry("persons", xlsx_file(rows), actor=staff, commit=True)
    assert (again["create"], again["update"], again["unchanged"]) == (0, 0, 2)
    assert list(Person.objects.order_by("pk").values()) == before  # not even updated_at or the ciphertext moved

    rows[1] = person_row(code, VALID_IDS[1], "李四", phone="13900139000")
    changed = do_import_registry("persons", xlsx_file(rows), actor=staff, commit=True)
    assert (changed["create"], changed["update"], changed["unchanged"]) == (0, 1, 1)
    li = services.find_person_by_id_number(VALID_IDS[1])
    assert li.phone_masked == "139****9000"
    # The change log holds one event per insert and per actual update, nothing for the unchanged rows.
    from django.apps import apps

    events = apps.get_model("registry", "PersonEvent").objects
    assert sorted(events.values_list("pgh_label", flat=True)) == ["insert", "insert", "update"]
    update = events.get(pgh_label="update")
    assert update.pgh_obj_id == li.pk and update.phone_masked == "139****9000"


def test_gbk_csv_and_15_digit_ids(place, staff):
    _building, _house, code = place
    old = "360426910101007"  # 15 digits → 360426199101010071
    report = do_import_registry("persons", csv_file([person_row(code, old, "王五")], encoding="gbk"), actor=staff,
                                commit=True)
    assert report["encoding"] == "gb18030" and report["create"] == 1
    assert services.find_person_by_id_number(VALID_IDS[0]).name == "王五"


# Bad input: per row, nothing written ------------------------------------------------------------------------------

@pytest.mark.parametrize("bad_id, reason", [
    ("360426199101010072", "check character"),
    ("360426199102300070", "birth date"),
    ("36042619910101007", "18 characters"),
    ("11010519491231002x", "capital X"),
])
def test_invalid_id_numbers(place, staff, bad_id, reason):
    _building, _house, code = place
    rows = [person_row(code), person_row(code, bad_id, "坏号")]
    with pytest.raises(ImportRejected) as caught:
        do_import_registry("persons", csv_file(rows), actor=staff, commit=True)
    (problem,) = caught.value.report["problems"]
    assert (problem["row"], problem["column"]) == (3, "身份证号") and reason in problem["reason"]
    assert bad_id not in problem["value"] and "*" in problem["value"]  # masked in the report
    assert bad_id not in caught.value.message
    assert Person.objects.count() == 0


def test_malformed_phone_missing_name_and_duplicates(place, staff):
    _building, _house, code = place
    rows = [person_row(code), person_row(code, VALID_IDS[1], phone="1380013800"), person_row(code, VALID_IDS[2],
            name=""), person_row(code, VALID_IDS[0], "张三二")]
    report = do_import_registry("persons", csv_file(rows), actor=staff)
    assert [(r, c) for r, c, _reason in problems_of(report)] == [(3, "联系电话"), (4, "姓名"), (5, "身份证号")]
    assert "row 2" in problems_of(report)[2][2]
    assert Person.objects.count() == 0


def test_unknown_building_room_and_household(place, staff):
    _building, _house, code = place
    unknown_building = code[:15] + "99999"
    rows = [person_row(unknown_building), person_row(code, VALID_IDS[1], room="999"),
            person_row(code, VALID_IDS[2], 户号="H-NOPE")]
    report = do_import_registry("persons", csv_file(rows), actor=staff)
    assert [(r, c) for r, c, _reason in problems_of(report)] == [(2, "楼栋编码"), (3, "房间号"), (4, "户号")]
    assert Person.objects.count() == 0


def test_location_outside_the_district_and_crs(place, staff):
    headers = ["姓名", "身份证号", "经度", "纬度", "坐标系"]
    _code, point = grid_point(COMMUNITY_A)
    rows = [["甲", VALID_IDS[0], "121.47", "31.23", "wgs84"],  # Shanghai
            ["乙", VALID_IDS[1], "abc", "36.6", ""],
            ["丙", VALID_IDS[2], str(point.x), str(point.y), "mars"]]
    report = do_import_registry("persons", csv_file(rows, headers), actor=staff)
    assert [(r, c) for r, c, _reason in problems_of(report)] == [(2, "经度"), (3, "经度"), (4, "坐标系")]
    assert "outside every grid" in problems_of(report)[0][2]


def test_coordinates_in_gcj02_place_the_person(place, staff):
    from wangge.geo.crs import wgs84_to_gcj02

    grid, point = grid_point(COMMUNITY_A)
    lon, lat = wgs84_to_gcj02(point.x, point.y)
    headers = ["姓名", "身份证号", "经度", "纬度", "坐标系"]
    report = do_import_registry("persons", csv_file([["甲", VALID_IDS[0], f"{float(lon):.8f}", f"{float(lat):.8f}",
                                                      "gcj02"]], headers), actor=staff, commit=True)
    assert report["create"] == 1
    assert services.find_person_by_id_number(VALID_IDS[0]).grid_code == grid


def test_commit_clean_rows_only(place, staff):
    _building, _house, code = place
    rows = [person_row(code), person_row(code, "360426199101010072", "坏号"), person_row(code, VALID_IDS[1], "李四")]
    report = do_import_registry("persons", csv_file(rows), actor=staff, commit_clean_rows=True)
    assert report["committed"] and report["create"] == 2 and report["rows_with_problems"] == 1
    assert Person.objects.count() == 2


def test_formula_strings_are_data(place, staff):
    _building, _house, code = place
    rows = [person_row(code, name="=HYPERLINK(\"http://x\")", 工作单位="@SUM(A1)")]
    headers = [*HEADERS, "工作单位"]
    rows[0].append("+cmd|' /C calc'!A0")
    do_import_registry("persons", xlsx_file(rows, headers), actor=staff, commit=True)
    person = Person.objects.get()
    assert person.name == "=HYPERLINK(\"http://x\")" and person.work_unit == "+cmd|' /C calc'!A0"


def test_cross_scope_rows_refused(place, district):
    _building, _house, code = place
    elsewhere = make_user("community_staff", COMMUNITY_B)
    with pytest.raises(ImportRejected) as caught:
        do_import_registry("persons", csv_file([person_row(code)]), actor=elsewhere, commit=True)
    assert "outside your area" in caught.value.report["problems"][0]["reason"]
    volunteer = make_user("volunteer", COMMUNITY_A)
    with pytest.raises(DomainError) as denied:
        do_import_registry("persons", csv_file([person_row(code)]), actor=volunteer)
    assert denied.value.code == "forbidden"
    # An existing person of another area cannot be moved in by re-using their ID number.
    do_import_registry("persons", csv_file([person_row(code)]), actor=make_superuser(), commit=True)
    _b_code, b_point = grid_point(COMMUNITY_B)
    b_staff = make_user("community_staff", COMMUNITY_B)
    building_b = services.do_create_building(actor=b_staff, location=b_point)
    report = do_import_registry("persons", csv_file([person_row(f"{building_b.grid_code}{building_b.number}",
                                                                room="")]), actor=b_staff)
    assert "registered outside your area" in report["problems"][0]["reason"]
    assert Person.objects.get().grid_code.startswith(COMMUNITY_A)


# Bad files ---------------------------------------------------------------------------------------------------------

def test_wrong_encoding_and_headers(district, staff):
    latin = SimpleUploadedFile("p.csv", "姓名,身份证号\n".encode("utf-16"))
    with pytest.raises(DomainError, match="UTF-16"):
        do_import_registry("persons", latin, actor=staff)
    broken = SimpleUploadedFile("p.csv", b"\xff\xfe\xfd,\x80\x80\n")
    with pytest.raises(DomainError) as caught:
        do_import_registry("persons", broken, actor=staff)
    assert caught.value.code == "bad_encoding"
    # UTF-8 for 64 KB, then a GBK row: a clear error naming the row.
    body = "姓名,身份证号,楼栋编码\n" + "".join(f"张三,{VALID_IDS[0]},1\n" for _ in range(5000))
    mixed = SimpleUploadedFile("p.csv", body.encode() + "李四,1,1\n".encode("gbk"))
    with pytest.raises(DomainError, match="Row 5002") as caught:
        do_import_registry("persons", mixed, actor=staff)
    assert caught.value.code == "bad_encoding"
    with pytest.raises(DomainError, match="Unknown columns") as caught:
        do_import_registry("persons", SimpleUploadedFile("p.csv", "名字,身份证号\n甲,1\n".encode()), actor=staff)
    with pytest.raises(DomainError, match="Required columns"):
        do_import_registry("persons", SimpleUploadedFile("p.csv", "姓名\n甲\n".encode()), actor=staff)


def test_corrupt_oversized_and_zip_bomb_xlsx(district, staff, settings):
    with pytest.raises(DomainError) as caught:
        do_import_registry("persons", SimpleUploadedFile("p.xlsx", b"PK\x03\x04 not really a zip"), actor=staff)
    assert caught.value.code == "corrupt_file"
    with pytest.raises(DomainError) as caught:
        do_import_registry("persons", SimpleUploadedFile("p.xlsx", b"hello, I am text"), actor=staff,
                           name="p.xlsx")
    assert caught.value.code == "corrupt_file"
    # A zip that is not a workbook
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(DomainError, match="not an Excel workbook"):
        do_import_registry("persons", SimpleUploadedFile("p.xlsx", plain.getvalue()), actor=staff)
    # A zip bomb: small on disk, huge inflated.
    settings.WANGGE_IMPORT_MAX_BYTES = 1_000_000
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 30_000_000)
    assert bomb.tell() < 1_000_000
    with pytest.raises(DomainError, match="zip bomb") as caught:
        do_import_registry("persons", SimpleUploadedFile("p.xlsx", bomb.getvalue()), actor=staff)
    assert caught.value.code == "too_large"
    settings.WANGGE_IMPORT_MAX_BYTES = 100
    with pytest.raises(DomainError, match="too large"):
        do_import_registry("persons", csv_file([["甲"] * len(HEADERS)] * 10), actor=staff)
    assert Person.objects.count() == 0


# Killed halfway ----------------------------------------------------------------------------------------------------

KILLER = """
import os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")
django.setup()
from django.db import connection
from wangge.accounts.models import User
from wangge.registry.import_service import do_import_registry

def die(done, total, phase):
    if phase == "writing":
        os._exit(9)  # killed while the rows are being written

do_import_registry("persons", sys.argv[1], actor=User.objects.get(username=sys.argv[2]), commit=True, progress=die)
"""


@pytest.mark.transactional
@pytest.mark.django_db(transaction=True)
def test_killed_import_subprocess_leaves_nothing(tmp_path):
    """A real process, killed (os._exit) inside the write phase, with the rows of the file already sent: the
    transaction never commits, so the database holds what it held before."""
    from django.db import connection

    from wangge.core.testing import load_test_district

    load_test_district()
    admin = make_superuser()
    _code, point = grid_point(COMMUNITY_A)
    building = services.do_create_building(actor=admin, location=point, number="00777")
    path = tmp_path / "persons.csv"
    path.write_bytes(csv_file([person_row(f"{building.grid_code}00777", VALID_IDS[i], room="") for i in range(3)])
                     .read())
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    url = _database_url(connection.settings_dict)
    env = {**os.environ, "DATABASE_URL": url, "WANGGE_DATABASE_URL": url}
    try:
        result = subprocess.run([sys.executable, str(script), str(path), admin.username], env=env,  # noqa: S603
                                cwd=Path(__file__).resolve().parents[3], capture_output=True, timeout=120)
        assert result.returncode == 9, result.stderr[-2000:]
        assert Person.objects.count() == 0
        # and the same file without the kill does write: the kill was what stopped it
        do_import_registry("persons", str(path), actor=admin, commit=True)
        assert Person.objects.count() == 3
    finally:
        Person.objects.all().delete()
        Building.objects.filter(pk=building.pk).delete()


def _database_url(settings_dict):
    user, password = settings_dict["USER"], settings_dict["PASSWORD"]
    credentials = f"{user}:{password}@" if password else f"{user}@"
    return f"postgis://{credentials}{settings_dict['HOST']}:{settings_dict['PORT']}/{settings_dict['NAME']}"


# Other kinds -------------------------------------------------------------------------------------------------------

def test_households_with_members(place, staff):
    _building, house, code = place
    headers = ["户号", "姓名", "身份证号", "与户主关系", "楼栋编码", "单元", "房间号"]
    rows = [["H001", "张三", VALID_IDS[0], "户主", code, "1", "101"],
            ["H001", "李四", VALID_IDS[1], "配偶", code, "1", "101"]]
    report = do_import_registry("households", csv_file(rows, headers), actor=staff, commit=True)
    assert report["create"] == 2
    household = Household.objects.get(number="H001")
    assert household.house == house and household.head.name == "张三" and household.members.count() == 2
    again = do_import_registry("households", csv_file(rows, headers), actor=staff, commit=True)
    assert again["unchanged"] == 2 and Household.objects.count() == 1


def test_buildings_houses_and_organizations(district, staff):
    grid, point = grid_point(COMMUNITY_A)
    buildings = [[f"{grid}00042", "42号楼", "纬一路 42 号", "住宅", "6", "2", str(point.x), str(point.y), ""],
                 ["", "无号楼", "", "", "x", "", str(point.x), str(point.y), ""],
                 [f"{grid}00043", "外地楼", "", "", "", "", "121.47", "31.23", ""]]
    headers = [c.header for c in COLUMNS["buildings"]]
    report = do_import_registry("buildings", csv_file(buildings, headers), actor=staff)
    assert [(r, c) for r, c, _reason in problems_of(report)] == [(3, "层数"), (4, "经度")]
    report = do_import_registry("buildings", csv_file(buildings[:1], headers), actor=staff, commit=True)
    assert report["create"] == 1 and Building.objects.get().number == "00042"
    assert do_import_registry("buildings", csv_file(buildings[:1], headers), actor=staff,
                              commit=True)["unchanged"] == 1

    houses = [[f"{grid}00042", "1", "1", "101", "住宅", "86.5", "张三", "否"],
              [f"{grid}00099", "1", "1", "102", "", "", "", ""]]
    report = do_import_registry("houses", csv_file(houses, [c.header for c in COLUMNS["houses"]]), actor=staff,
                                commit_clean_rows=True)
    assert report["create"] == 1 and problems_of(report)[0][:2] == (3, "楼栋编码")
    assert House.objects.get().area_m2 == 86.5

    organizations = [["某公司", "企业", "91110000101623741K", "", "", str(point.x), str(point.y), "", "3", "",
                      "0531-86001234", "网吧", ""],
                     ["坏码", "企业", "91110000101623741A", "", "", str(point.x), str(point.y), "", "", "", "", "", ""]]
    headers = [c.header for c in COLUMNS["organizations"]]
    report = do_import_registry("organizations", csv_file(organizations, headers), actor=staff)
    assert problems_of(report)[0][:2] == (3, "统一社会信用代码")
    report = do_import_registry("organizations", csv_file(organizations[:1], headers), actor=staff, commit=True)
    organization = Organization.objects.get()
    assert organization.key_place_kinds == ["internet_cafe"] and organization.safety_phone_masked == "053****1234"
    assert do_import_registry("organizations", csv_file(organizations[:1], headers), actor=staff,
                              commit=True)["unchanged"] == 1


# Streamed commits (persons are placed, copied and upserted in batches while the next batch is read) ---------------

def test_streamed_batches_all_or_nothing_clean_rows_and_counts(place, staff, monkeypatch):
    """Batches of one row: a problem found by the writer thread in a later batch (an unknown building) still
    rejects the whole file, with earlier batches already upserted rolled back; commit_clean_rows writes the other
    batches; counts and change-log events add up over the batches."""
    from django.apps import apps

    from wangge.registry import import_service

    monkeypatch.setattr(import_service, "STREAM_BATCH", 1)
    _building, _house, code = place
    rows = [person_row(code), person_row(code, VALID_IDS[1], "李四"),
            person_row(code[:15] + "99999", VALID_IDS[2], "王五")]
    with pytest.raises(ImportRejected) as caught:
        do_import_registry("persons", csv_file(rows), actor=staff, commit=True)
    assert [(r, c) for r, c, _reason in problems_of(caught.value.report)] == [(4, "楼栋编码")]
    assert Person.objects.count() == 0
    events = apps.get_model("registry", "PersonEvent").objects
    assert events.count() == 0

    report = do_import_registry("persons", csv_file(rows), actor=staff, commit_clean_rows=True)
    assert (report["create"], report["rows_with_problems"]) == (2, 1)
    assert Person.objects.count() == 2 and events.filter(pgh_label="insert").count() == 2

    rows[2] = person_row(code, VALID_IDS[2], "王五")
    rows[1] = person_row(code, VALID_IDS[1], "李四", phone="13900139000")
    again = do_import_registry("persons", csv_file(rows), actor=staff, commit=True)
    assert (again["create"], again["update"], again["unchanged"]) == (1, 1, 1)
    assert sorted(events.values_list("pgh_label", flat=True)) == ["insert", "insert", "insert", "update"]
