"""Pushed lists to verify (核查), as the people on both ends meet them: a list comes in (a file from the staff, JSON
rows from a system's API key), bad rows are named by their row number, every row lands in its grid — by ID number,
else by address, else at the list's area for the staff — the grids claim or decline with a reason, a claimed row is
verified by a door visit of the campaign, overdue and unmatched rows are reported up the chain, and the results go
back in the incoming shape under the same row ids. Nothing is half-written, no ID number leaks into a message, and
every endpoint refuses other scopes."""

import csv
import io
import logging
from datetime import date, timedelta

import openpyxl
import pytest
from django.http import Http404
from django.utils import timezone

from wangge.accounts.services import do_create_api_key
from wangge.campaigns import jobs, lists, services
from wangge.campaigns.models import (
    AnswerReveal,
    ClaimState,
    CoverageCount,
    MatchMethod,
    PushedList,
    PushedRow,
    RowResult,
    Visit,
)
from wangge.cases.models import Notification
from wangge.core.errors import DomainError
from wangge.core.testing import (
    COMMUNITY_A,
    COMMUNITY_B,
    OTHER_SUBDISTRICT_COMMUNITY,
    assert_cross_scope_denied,
    assert_matches_schema,
    make_superuser,
    make_user,
)
from wangge.geo.models import Area
from wangge.registry import services as registry
from wangge.workforce.models import PostKind
from wangge.workforce.services import do_appoint

pytestmark = pytest.mark.django_db
API = "/api/v1/campaigns/"
LISTS, ROWS = f"{API}lists/", f"{API}list-rows/"
KNOWN_ID = "11010519491231002X"  # a registry person in the second grid
NEW_ID = "360426199101010071"  # valid, nobody's
FAR_ID = "120103198806018241"  # a registry person in another community
BAD_ID = "360426199101010072"  # wrong check digit
HEADER = ["编号", "姓名", "身份证号", "联系电话", "地址"]


def grids(community, count):
    return list(Area.objects.filter(generation__state="active", level="grid", code__startswith=community)
                .order_by("code").values_list("code", flat=True)[:count])


def inside(grid):
    return Area.objects.get(generation__state="active", code=grid).geom.point_on_surface


@pytest.fixture
def world(district):
    staff = make_user("subdistrict_staff", COMMUNITY_A[:9])
    community = make_user("community_staff", COMMUNITY_A)
    far_staff = make_user("community_staff", COMMUNITY_B)
    grid, other_grid = grids(COMMUNITY_A, 2)
    far_grid = grids(COMMUNITY_B, 1)[0]
    one = registry.do_create_building(actor=community, location=inside(grid), address="济南市市中区纬一路1号")
    house = registry.do_create_house(one, actor=community, unit="2", room="301")
    at_house = registry.do_create_household(actor=community, number="H-301", house=house)
    # the same street address in two grids: an address cannot place a row there
    for code in (grid, other_grid):
        registry.do_create_building(actor=community, location=inside(code), address="济南市市中区经四路5号")
    known_home = registry.do_create_household(actor=community, number="H-known", grid_code=other_grid)
    known = registry.do_create_person(actor=community, name="张三", id_number=KNOWN_ID, household=known_home,
                                      grid_code=other_grid)
    registry.do_create_person(actor=far_staff, name="赵六", id_number=FAR_ID, grid_code=far_grid)
    campaign = services.do_create_campaign(
        actor=staff, name="涉疫人员核查", purpose="核查公安推送的风险人员", legal_basis="《传染病防治法》第三十一条",
        area_code=COMMUNITY_A[:9], target_codes=[COMMUNITY_A], starts_on=date.today(),
        ends_on=date.today() + timedelta(days=14))
    campaign = services.do_start_campaign(campaign, actor=staff)
    return {"staff": staff, "community": community, "grid": grid, "other_grid": other_grid, "far_grid": far_grid,
            "at_house": at_house, "known_home": known_home, "known": known, "campaign": campaign,
            "worker": make_user("grid_worker", grid), "other_worker": make_user("grid_worker", other_grid),
            "far_worker": make_user("grid_worker", far_grid), "far_staff": far_staff}


ROWS_IN = [
    {"row_id": "GA-1", "name": "张三", "id_number": KNOWN_ID, "phone": "13800138000", "address": "纬一路1号"},
    {"row_id": "GA-2", "name": "李四", "id_number": NEW_ID, "phone": "",
     "address": "山东省济南市市中区纬一路１号２单元301室"},
    {"row_id": "GA-3", "name": "王五", "id_number": "", "phone": "", "address": "经四路5号"},
    {"row_id": "GA-4", "name": "赵六", "id_number": FAR_ID, "phone": "", "address": ""},
]


def deadline(hours=48):
    return (timezone.now() + timedelta(hours=hours)).isoformat()


def push(world, rows=None, *, actor=None, commit=True, **values):
    options = {"name": "公安推送核查名单", "source": "公安", "area_code": COMMUNITY_A, "deadline": deadline(),
               "campaign": world["campaign"].pk, "commit": commit}
    options.update(values)
    return lists.do_import_list(actor=actor or world["staff"], rows=ROWS_IN if rows is None else rows, **options)


def row(row_id):
    return PushedRow.objects.get(row_id=row_id)


def csv_file(rows, header=HEADER, encoding="utf-8"):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    data = io.BytesIO(buffer.getvalue().encode(encoding))
    data.name = "list.csv"
    return data


# ---- importing and matching ----------------------------------------------------------------------------------------

def test_rows_are_matched_by_id_number_then_address_else_left_at_the_area(world):
    report = push(world)
    assert (report["committed"], report["rows"], report["matched_by_id_number"], report["matched_by_address"],
            report["unmatched"]) == (True, 4, 1, 1, 2)
    by_id = row("GA-1")  # the ID number wins over the address of the first grid
    assert (by_id.match, by_id.grid_code, by_id.person, by_id.household) == (
        MatchMethod.ID_NUMBER, world["other_grid"], world["known"], world["known_home"])
    by_address = row("GA-2")  # full-width digits, province and city written out: the same building, its house
    assert (by_address.match, by_address.grid_code, by_address.household, by_address.person) == (
        MatchMethod.ADDRESS, world["grid"], world["at_house"], None)
    for row_id in ("GA-3", "GA-4"):  # an address in two grids; a person registered outside the list's area
        waiting = row(row_id)
        assert (waiting.match, waiting.grid_code, waiting.claim) == (MatchMethod.NONE, COMMUNITY_A,
                                                                     ClaimState.UNCLAIMED)
    # sealed like the registry: the same blind index, masked for lists, never in plain text
    assert by_id.id_number_index == world["known"].id_number_index
    assert by_id.id_number_masked == "110105********002X" and by_id.phone_masked == "138****8000"
    assert KNOWN_ID not in by_id.id_number_enc
    pushed = PushedList.objects.get()
    assert (pushed.rows_total, pushed.rows_matched) == (4, 2)
    assert [key for key, _header in pushed.columns] == ["row_id", "name", "id_number", "phone", "address"]


def test_address_normal_form():
    normaliser = lists.AddressNormaliser(["市中区", "大观园街道", "纬一路社区"])
    same = ["济南市市中区纬一路1号", "山东省济南市市中区 纬一路 1 号", "纬一路１号", "大观园街道纬一路社区纬一路1号"]
    assert {normaliser.normalise(text) for text in same} == {"纬一路1号"}
    keys = normaliser.keys("纬一路1号院3号楼二单元301室")  # the longest building address first
    assert [key for key, _rest in keys] == ["纬一路1号院3号楼", "纬一路1号院3号", "纬一路1号院", "纬一路1号"]
    assert keys[0][1] == "2单元301室"
    assert lists.unit_and_room("2单元301室") == ("2", "301")
    assert lists.unit_and_room("2-301") == ("2", "301")
    assert lists.unit_and_room("301") == ("", "301")
    assert lists.unit_and_room("院3号楼") is None


def test_bad_rows_are_reported_with_their_row_number_and_the_clean_rows_kept(world):
    rows = [["GA-1", "张三", KNOWN_ID, "", ""], ["GA-2", "李四", BAD_ID, "", ""], ["GA-3", "", NEW_ID, "12345", ""],
            ["GA-1", "王五", "", "", "纬一路1号"], ["GA-5", "钱七", "", "", ""]]
    report = lists.do_import_list(actor=world["staff"], name="名单", source="大数据局", area_code=COMMUNITY_A,
                                  deadline=deadline(), file=csv_file(rows), file_name="list.csv",
                                  commit_clean_rows=True)
    problems = {(p["row"], p["column"]): p for p in report["problems"]}
    assert set(problems) == {(3, "身份证号"), (4, "姓名"), (4, "联系电话"), (5, "编号"), (6, "身份证号")}
    assert "check character" in problems[3, "身份证号"]["reason"]
    assert problems[3, "身份证号"]["value"] == "360***********0072"  # masked, like the registry's reports
    assert "row 2" in problems[5, "编号"]["reason"]
    assert (report["clean_rows"], report["rows_with_problems"], report["committed"]) == (1, 4, True)
    assert list(PushedRow.objects.values_list("row_id", flat=True)) == ["GA-1"]


def test_a_refused_or_failed_import_writes_nothing(world, monkeypatch):
    rows = [*ROWS_IN, {"row_id": "GA-9", "name": "孙八", "id_number": BAD_ID, "address": ""}]
    with pytest.raises(lists.ListRejected) as err:  # commit: all or nothing
        push(world, rows)
    assert err.value.report["problems"][0]["row"] == 5
    dry = push(world, rows, commit=False)  # a dry run checks and matches, and writes nothing
    assert (dry["committed"], dry["list"], dry["matched_by_id_number"], dry["unmatched"]) == (False, None, 1, 2)
    assert not PushedList.objects.exists() and not PushedRow.objects.exists()

    def broken(*args, **kwargs):
        raise RuntimeError("the grids' inbox is down")

    monkeypatch.setattr(lists, "_tell_grids", broken)  # fails after the rows were written
    with pytest.raises(RuntimeError):
        push(world)
    assert not PushedList.objects.exists() and not PushedRow.objects.exists()


@pytest.mark.parametrize("values, field", [
    ({"area_code": OTHER_SUBDISTRICT_COMMUNITY}, None), ({"area_code": "1234"}, "area_code"),
    ({"deadline": "2000-01-01T08:00"}, "deadline"), ({"deadline": "tomorrow"}, "deadline"), ({"name": " "}, "name"),
    ({"rows": []}, "rows"), ({"rows": [{"row_id": "1", "name": "x", "colour": "red"}]}, "rows"),
    ({"rows": [{"row_id": "1", "name": "x"}]}, "rows"),
])
def test_bad_list_input_names_the_field(world, values, field):
    rows = values.pop("rows", None)
    if field is None:
        with pytest.raises(Http404):  # an area outside the importer's scope
            push(world, rows, **values)
        return
    with pytest.raises(DomainError) as err:
        push(world, rows, **values)
    assert err.value.field == field and err.value.status_code == 400


def test_no_id_number_in_logs_or_error_messages(world, client, caplog):
    caplog.set_level(logging.DEBUG)
    rows = [{"row_id": "1", "name": "孙八", "id_number": BAD_ID}, {"row_id": "2", "name": "周九", "id_number": NEW_ID},
            {"row_id": "3", "name": "吴十", "id_number": NEW_ID}]
    client.force_login(world["staff"])
    response = client.post(LISTS, {"name": "名单", "source": "公安", "area_code": COMMUNITY_A, "deadline": deadline(),
                                   "rows": rows, "commit": True}, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_rows"
    reasons = {p["row"]: p["reason"] for p in response.json()["error"]["details"]["problems"]}
    assert set(reasons) == {1, 3} and "row 2" in reasons[3]
    for number in (BAD_ID, NEW_ID):
        assert number not in response.content.decode() and number not in caplog.text
    assert not PushedRow.objects.exists()


# ---- claims --------------------------------------------------------------------------------------------------------

def test_grids_claim_their_rows_or_decline_with_a_reason(world):
    push(world)
    known, at_house = row("GA-1"), row("GA-2")
    with pytest.raises(Http404):  # another grid's row
        lists.do_claim_row(known, actor=world["worker"])
    with pytest.raises(DomainError) as err:  # a volunteer visits but does not claim
        lists.do_claim_row(known, actor=make_user("volunteer", world["other_grid"]))
    assert err.value.status_code == 403
    claimed = lists.do_claim_row(known, actor=world["other_worker"])
    assert (claimed.claim, claimed.claimed_by) == (ClaimState.CLAIMED, world["other_worker"])
    with pytest.raises(DomainError) as err:
        lists.do_claim_row(known, actor=world["other_worker"])
    assert err.value.code == "invalid_transition"
    with pytest.raises(DomainError) as err:
        lists.do_decline_row(at_house, actor=world["worker"], reason="bored")
    assert err.value.field == "reason" and row("GA-2").claim == ClaimState.UNCLAIMED
    declined = lists.do_decline_row(at_house, actor=world["worker"], reason="deceased", note="2025年已去世")
    assert (declined.claim, declined.decline_reason, declined.result_note) == (ClaimState.DECLINED, "deceased",
                                                                               "2025年已去世")
    assert declined.answered_at is not None
    with pytest.raises(DomainError):  # answered already
        lists.do_decline_row(at_house, actor=world["worker"], reason="duplicate")


def test_not_in_this_grid_sends_the_row_back_to_the_staff_who_place_it(world):
    push(world)
    known = row("GA-1")
    back = lists.do_decline_row(known, actor=world["other_worker"], reason="not_here", note="已搬至纬一路1号")
    assert (back.grid_code, back.claim, back.decline_reason) == (COMMUNITY_A, ClaimState.UNCLAIMED, "not_here")
    assert not lists.visible_rows(world["other_worker"]).filter(pk=known.pk).exists()
    assert world["staff"].notifications.filter(title__contains="sent back").exists()
    with pytest.raises(DomainError) as err:  # a row at the area is placed before anyone claims it
        lists.do_claim_row(known, actor=world["community"])
    assert err.value.field == "grid_code"
    with pytest.raises(DomainError) as err:
        lists.do_place_row(known, actor=world["staff"], grid_code=world["far_grid"])
    assert err.value.field == "grid_code"
    with pytest.raises(DomainError) as err:  # community staff claim, but do not manage lists
        lists.do_place_row(known, actor=world["community"], grid_code=world["grid"])
    assert err.value.status_code == 403
    placed = lists.do_place_row(known, actor=world["staff"], grid_code=world["grid"])
    assert (placed.grid_code, placed.decline_reason) == (world["grid"], "")
    assert world["worker"].notifications.filter(title__contains="placed").exists()
    assert lists.do_claim_row(placed, actor=world["worker"]).claim == ClaimState.CLAIMED


# ---- verification at the door --------------------------------------------------------------------------------------

def member(**values):
    answers = {"name": "李四", "id_number": NEW_ID, "returned": "no", "fever": "no", "contact": "no",
               "isolation": "none"}
    answers.update(values)
    return answers


def test_a_claimed_row_is_verified_by_a_visit_of_the_campaign(world):
    push(world)
    at_house = row("GA-2")
    with pytest.raises(DomainError) as err:  # claim first
        lists.do_verify_row(at_house, actor=world["worker"], result="verified", answers={"members": [member()]})
    assert err.value.field == "claim"
    lists.do_claim_row(at_house, actor=world["worker"])
    with pytest.raises(DomainError) as err:
        lists.do_verify_row(at_house, actor=world["worker"], result="pending")
    assert err.value.field == "result"
    with pytest.raises(DomainError):  # a visit that found the household takes the form's answers
        lists.do_verify_row(at_house, actor=world["worker"], result="verified")
    assert not Visit.objects.exists() and row("GA-2").result == RowResult.PENDING
    verified, visit = lists.do_verify_row(at_house, actor=world["worker"], result="verified", note="本人在家",
                                          answers={"members": [member()]})
    assert (verified.result, verified.result_note, verified.answered_at) == ("verified", "本人在家", visit.visited_at)
    assert (visit.pushed_row, visit.household, visit.status, visit.worker) == (
        verified, world["at_house"], "visited", world["worker"])
    counts = CoverageCount.objects.get(campaign=world["campaign"], round=1, grid_code=world["grid"])
    assert counts.visited == 1  # the campaign's ledger moved like for any visit
    # a later call knows more: moved away (the household's standing moves too)
    moved, again = lists.do_verify_row(at_house, actor=world["worker"], result="moved")
    assert moved.result == "moved" and again.status == "moved_out" and again.pushed_row_id == at_house.pk


def test_without_a_campaign_the_result_stands_on_the_row(world):
    push(world, campaign=None)
    known = lists.do_claim_row(row("GA-1"), actor=world["other_worker"])
    with pytest.raises(DomainError) as err:
        lists.do_verify_row(known, actor=world["other_worker"], result="verified", answers={"members": [member()]})
    assert err.value.field == "answers"
    answered, visit = lists.do_verify_row(known, actor=world["other_worker"], result="not_found", note="查无此人")
    assert visit is None and answered.result == "not_found" and not Visit.objects.exists()


# ---- reporting up the chain ----------------------------------------------------------------------------------------

def test_overdue_and_unmatched_rows_are_reported_up_the_chain(world):
    chief = make_user("grid_chief", world["other_grid"])
    do_appoint(actor=world["community"], kind=PostKind.GRID_CHIEF, grid_code=world["other_grid"], holder_user=chief,
               holder_name="网格长")
    report = push(world, deadline=deadline(hours=2))
    pushed = PushedList.objects.get(pk=report["list"])
    # on import: the grids hear of their rows, the staff of the rows nobody could place
    assert world["other_worker"].notifications.filter(title__contains="1 row to claim").exists()
    assert world["staff"].notifications.filter(title__contains="2 rows were not matched").exists()
    Notification.objects.all().delete()
    lists.do_claim_row(row("GA-2"), actor=world["worker"])
    lists.do_verify_row(row("GA-2"), actor=world["worker"], result="verified", answers={"members": [member()]})
    before = jobs.report_pushed_lists(timestamp=0)  # the daily job: not due yet, only the unplaced rows
    assert (before["overdue_rows"], before["unplaced_rows"]) == (0, 2)
    assert not world["other_worker"].notifications.exists()
    assert world["staff"].notifications.filter(title__contains="2 rows wait to be placed").exists()
    later = lists.report_overdue_and_unmatched(now=pushed.deadline + timedelta(minutes=1))
    assert (later["overdue_rows"], later["unplaced_rows"]) == (1, 2)  # GA-1 in the other grid; GA-2 is answered
    for user in (world["other_worker"], chief, world["community"]):
        assert user.notifications.filter(title__startswith="Overdue", title__contains="1 row unanswered in y").exists()
    assert not world["worker"].notifications.filter(title__startswith="Overdue").exists()
    assert world["staff"].notifications.filter(title__contains="1 row unanswered (grids: 1)").exists()
    assert lists.summary(pushed, now=pushed.deadline + timedelta(minutes=1))["overdue"] == 1
    for notification in Notification.objects.all():  # names lists and grids, never a person
        assert "张三" not in notification.title and KNOWN_ID not in notification.title


# ---- results -------------------------------------------------------------------------------------------------------

def test_the_results_go_back_in_the_incoming_shape(world, client):
    header = ["序号", "姓名", "公民身份号码", "手机号码", "现住址"]  # another system's own headers
    rows = [["A-001", "张三", KNOWN_ID, "13800138000", ""], ["A-002", "李四", NEW_ID, "", "纬一路1号2单元301"],
            ["A-003", "王五", "", "", "=HYPERLINK(\"x\")"]]
    report = lists.do_import_list(actor=world["staff"], name="名单", source="公安", area_code=COMMUNITY_A,
                                  deadline=deadline(), file=csv_file(rows, header, "gb18030"), file_name="l.csv",
                                  commit=True)
    lists.do_decline_row(row("A-002"), actor=world["worker"], reason="duplicate", note="与A-001重复")
    client.force_login(world["staff"])
    response = client.get(f"{LISTS}{report['list']}/results.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert table[0] == [*header, "认领状态", "不可认领原因", "核查结果", "核查说明", "反馈时间"]
    assert [line[0] for line in table[1:]] == ["A-001", "A-002", "A-003"]  # the same row ids, in order
    assert table[1][2] == "110105********002X" and table[1][3] == "138****8000"  # masked by default
    assert table[2][5:9] == ["不可认领", "数据重复", "待核查", "与A-001重复"] and table[2][9]
    assert table[3][4] == "'=HYPERLINK(\"x\")"  # a formula stays text
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(f"{LISTS}{report['list']}/results.xlsx").content))
    sheet = [[cell or "" for cell in line] for line in workbook.active.iter_rows(values_only=True)]
    assert sheet[0][:5] == header and [line[0] for line in sheet[1:]] == ["A-001", "A-002", "A-003"]
    # the full numbers: a reason, a role that reads answers, one audit row per row
    with pytest.raises(DomainError):
        lists.result_rows(PushedList.objects.get(), actor=world["worker"], reveal_reason="回传公安")
    revealed = client.get(f"{LISTS}{report['list']}/results.json", {"reason": "回传公安"})
    assert revealed.json()["rows"][0]["公民身份号码"] == KNOWN_ID
    assert AnswerReveal.objects.filter(user=world["staff"], reason="回传公安").count() == 3
    assert_matches_schema(revealed, "/api/v1/campaigns/lists/{id}/results.{fmt}")


def test_a_system_pushes_json_rows_with_its_key_and_takes_the_results_back(world, client):
    system = make_user("system", COMMUNITY_A, username="gongan-push")
    _key, raw = do_create_api_key(system, "公安推送", actor=make_superuser())
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {raw}"}
    body = {"name": "公安推送名单", "source": "公安", "reference": "GA-2026-11", "area_code": COMMUNITY_A,
            "deadline": deadline(), "rows": ROWS_IN}
    dry = client.post(LISTS, body, content_type="application/json", **auth)
    assert dry.status_code == 200 and dry.json()["committed"] is False
    assert_matches_schema(dry, "/api/v1/campaigns/lists/", "post")
    done = client.post(LISTS, {**body, "commit": True}, content_type="application/json", **auth)
    assert done.status_code == 201 and done.json()["matched_by_id_number"] == 1
    assert_matches_schema(done, "/api/v1/campaigns/lists/", "post", )
    pushed = PushedList.objects.get()
    assert pushed.imported_by == system
    outside = client.post(LISTS, {**body, "area_code": COMMUNITY_B}, content_type="application/json", **auth)
    assert outside.status_code == 404
    results = client.get(f"{LISTS}{pushed.pk}/results.json", **auth)
    assert results.status_code == 200
    assert results.json()["columns"] == ["row_id", "name", "id_number", "phone", "address", "claim", "reason",
                                         "result", "note", "answered_at"]
    assert [item["row_id"] for item in results.json()["rows"]] == ["GA-1", "GA-2", "GA-3", "GA-4"]
    assert results.json()["rows"][0]["claim"] == "unclaimed"
    assert client.get(f"{LISTS}{pushed.pk}/", **auth).status_code == 200  # its own list
    assert client.get(ROWS, **auth).json()["results"] == []  # but no grid's rows
    other = make_user("system", COMMUNITY_A, username="dashuju")
    _key, other_raw = do_create_api_key(other, "大数据", actor=make_superuser())
    assert client.get(f"{LISTS}{pushed.pk}/results.json",
                      HTTP_AUTHORIZATION=f"Api-Key {other_raw}").status_code == 404


# ---- the API, its schema and its scopes ----------------------------------------------------------------------------

def test_the_api_round_trip_for_a_grid(world, client):
    upload = csv_file([["GA-1", "张三", KNOWN_ID, "", ""], ["GA-2", "李四", NEW_ID, "", "纬一路1号2单元301"]])
    client.force_login(world["staff"])
    response = client.post(LISTS, {"name": "名单", "source": "公安", "area_code": COMMUNITY_A, "deadline": deadline(),
                                   "campaign": world["campaign"].pk, "commit": "true", "file": upload})
    assert response.status_code == 201, response.content
    list_id = response.json()["list"]
    detail = client.get(f"{LISTS}{list_id}/")
    assert detail.json()["summary"]["by_id_number"] == 1
    assert_matches_schema(detail, "/api/v1/campaigns/lists/{id}/")
    assert_matches_schema(client.get(LISTS), "/api/v1/campaigns/lists/")
    client.force_login(world["worker"])
    mine = client.get(ROWS, {"list": list_id})
    assert [item["row_id"] for item in mine.json()["results"]] == ["GA-2"]
    assert mine.json()["results"][0]["id_number"] == "360426********0071"
    assert_matches_schema(mine, "/api/v1/campaigns/list-rows/")
    row_id = mine.json()["results"][0]["id"]
    assert client.get(f"{LISTS}{list_id}/").status_code == 404  # a grid sees its rows, not the area's list
    claimed = client.post(f"{ROWS}{row_id}/claim/")
    assert claimed.status_code == 200 and claimed.json()["claim"] == "claimed"
    assert_matches_schema(claimed, "/api/v1/campaigns/list-rows/{id}/claim/", "post")
    bad = client.post(f"{ROWS}{row_id}/verify/", {"result": "verified", "answers": {"members": [member(
        fever="maybe")]}}, content_type="application/json")
    assert bad.status_code == 400 and "members[0].fever" in bad.json()["error"]["fields"]
    verified = client.post(f"{ROWS}{row_id}/verify/", {"result": "verified", "answers": {"members": [member()]}},
                           content_type="application/json")
    assert verified.status_code == 200 and verified.json()["visit"] is not None
    assert_matches_schema(verified, "/api/v1/campaigns/list-rows/{id}/verify/", "post")
    assert client.post(f"{ROWS}{row_id}/reveal/", {"reason": "x"}, content_type="application/json").status_code == 403
    client.force_login(world["community"])
    revealed = client.post(f"{ROWS}{row_id}/reveal/", {"reason": "入户核实"}, content_type="application/json")
    assert revealed.json() == {"row": row_id, "id_number": NEW_ID, "phone": ""}
    assert_matches_schema(revealed, "/api/v1/campaigns/list-rows/{id}/reveal/", "post")
    assert AnswerReveal.objects.get(pushed_row_id=row_id).reason == "入户核实"
    template = client.get(f"{LISTS}template.csv")
    assert template.content.decode("utf-8-sig").splitlines()[0] == ",".join(HEADER)


def test_every_endpoint_refuses_other_scopes(world, client):
    report = push(world)
    list_id, known, waiting = report["list"], row("GA-1"), row("GA-3")
    far, far_staff = world["far_worker"], world["far_staff"]
    for url in (f"{LISTS}{list_id}/", f"{ROWS}{known.pk}/", f"{LISTS}{list_id}/results.csv",
                f"{LISTS}{list_id}/results.json"):
        assert_cross_scope_denied(client, far, url)
        assert_cross_scope_denied(client, far_staff, url)
    for action, data in (("claim", None), ("decline", {"reason": "duplicate"}),
                         ("verify", {"result": "not_found"}), ("reveal", {"reason": "x"})):
        assert_cross_scope_denied(client, far, f"{ROWS}{known.pk}/{action}/", method="post", data=data)
    assert_cross_scope_denied(client, make_user("subdistrict_staff", OTHER_SUBDISTRICT_COMMUNITY[:9]),
                              f"{ROWS}{waiting.pk}/place/", method="post", data={"grid_code": world["grid"]})
    client.force_login(far)
    assert client.get(ROWS).json()["results"] == [] and client.get(LISTS).json()["results"] == []
    leader = make_user("leader", COMMUNITY_A[:9])  # aggregates only: no rows, no lists
    client.force_login(leader)
    assert client.get(ROWS).json()["results"] == [] and client.get(LISTS).json()["results"] == []
    assert client.post(f"{ROWS}{known.pk}/claim/").status_code == 403
    assert client.post(LISTS, {"name": "x", "source": "x", "area_code": COMMUNITY_A, "deadline": deadline(),
                               "rows": ROWS_IN}, content_type="application/json").status_code == 403
    assert PushedList.objects.count() == 1


def test_a_json_body_too_large_is_told_to_come_as_a_file(world, client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    client.force_login(world["staff"])
    response = client.post(LISTS, {"name": "名单", "source": "公安", "area_code": COMMUNITY_A, "deadline": deadline(),
                                   "rows": ROWS_IN * 10}, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["fields"] == {"rows": [
        "The request is too large for JSON rows; upload the list as a CSV or .xlsx file."]}
