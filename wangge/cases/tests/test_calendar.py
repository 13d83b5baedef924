"""The work calendar and working-time arithmetic (DOMAIN.md §4), on the 2025 calendar shipped with the code:
春节 1月28日–2月4日 with make-up working days on Sunday 1月26日 and Saturday 2月8日."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from wangge.cases import calendar
from wangge.cases.calendar import add_working_time, elapsed_fraction, is_working_day, working_time_between
from wangge.cases.models import CalendarDay
from wangge.cases.services import do_replace_year
from wangge.core.errors import DomainError
from wangge.core.testing import assert_matches_schema, make_superuser, make_user

pytestmark = pytest.mark.django_db

API = "/api/v1/cases/calendar"
SH = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SH)


@pytest.fixture(autouse=True)
def fresh_cache():
    """An edit rolled back with its test must not stay in this process's cache."""
    calendar.clear_cache()
    yield
    calendar.clear_cache()


@pytest.fixture
def admin():
    return make_user("admin", "370103")


def _days_2025():
    return list(CalendarDay.objects.filter(year=2025).values_list("date", "kind", "name"))


# ---- Days ------------------------------------------------------------------------------------------------------

def test_the_2025_notice_is_seeded():
    days = dict(CalendarDay.objects.filter(year=2025).values_list("date", "kind"))
    assert sum(kind == "holiday" for kind in days.values()) == 28
    assert sorted(day for day, kind in days.items() if kind == "makeup_workday") == [
        date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28), date(2025, 10, 11)]


def test_the_2026_notice_is_seeded():
    days = dict(CalendarDay.objects.filter(year=2026).values_list("date", "kind"))
    assert sum(kind == "holiday" for kind in days.values()) == 33
    assert sorted(day for day, kind in days.items() if kind == "makeup_workday") == [
        date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20),
        date(2026, 10, 10)]
    # 春节 2026: Saturday 02-14 is worked, 02-15 to 02-23 are off; 5 working days from Friday 02-13 end on 02-27
    assert add_working_time(datetime(2026, 2, 13, 10, tzinfo=ZoneInfo("Asia/Shanghai")), 5, calendar.DAYS) == (
        datetime(2026, 2, 27, 17, 30, tzinfo=ZoneInfo("Asia/Shanghai")))


def test_holidays_make_up_days_and_weekends():
    assert not is_working_day(date(2025, 1, 28))  # 春节, a Tuesday
    assert not is_working_day(date(2025, 10, 8))  # 国庆节, a Wednesday
    assert is_working_day(date(2025, 1, 26))  # 调休上班, a Sunday
    assert is_working_day(date(2025, 2, 8))  # 调休上班, a Saturday
    assert not is_working_day(date(2025, 3, 8))  # an ordinary Saturday
    assert is_working_day(date(2025, 3, 10))  # an ordinary Monday
    assert not is_working_day(at(2025, 1, 1, 10))  # a datetime: its local date


# ---- Working hours ---------------------------------------------------------------------------------------------

def test_lunch_break_is_not_working_time():
    assert add_working_time(at(2025, 3, 10, 11), 2) == at(2025, 3, 10, 14, 30)
    assert add_working_time(at(2025, 3, 10, 12, 30), 1) == at(2025, 3, 10, 14, 30)  # started during lunch


def test_four_working_hours_from_friday_afternoon_end_on_monday():
    assert add_working_time(at(2025, 3, 14, 16), 4) == at(2025, 3, 17, 11)
    assert working_time_between(at(2025, 3, 14, 16), at(2025, 3, 17, 11)) == 4


def test_a_holiday_is_skipped_and_a_make_up_saturday_counts():
    # Monday 1月27日 16:00: 1.5 h that day, nothing through 2月4日, 2.5 h on Wednesday 2月5日.
    assert add_working_time(at(2025, 1, 27, 16), 4) == at(2025, 2, 5, 11)
    # Friday 2月7日 16:00: the make-up Saturday 2月8日 is a working day.
    assert add_working_time(at(2025, 2, 7, 16), 4) == at(2025, 2, 8, 11)
    # The ordinary Saturday a week later is not.
    assert add_working_time(at(2025, 2, 14, 16), 4) == at(2025, 2, 17, 11)


def test_exact_close_start_outside_hours_and_the_year_boundary():
    assert add_working_time(at(2025, 3, 10, 8, 30), 7.5) == at(2025, 3, 10, 17, 30)  # not next morning
    assert add_working_time(at(2025, 3, 15, 9), 1) == at(2025, 3, 17, 9, 30)  # from a Saturday
    assert add_working_time(at(2025, 3, 10, 19), 1) == at(2025, 3, 11, 9, 30)  # from the evening
    # 2024-12-31 16:00: 1.5 h, then 元旦 2025-01-01 is off.
    assert add_working_time(at(2024, 12, 31, 16), 4) == at(2025, 1, 2, 11)
    utc = datetime(2025, 3, 14, 8, 0, tzinfo=ZoneInfo("UTC"))  # 16:00 in Shanghai
    assert add_working_time(utc, 4) == at(2025, 3, 17, 11)


# ---- Working days ----------------------------------------------------------------------------------------------

def test_n_working_days_across_the_spring_festival():
    # After Friday 1月24日: Sun 26 (make-up), Mon 27, [28 Jan – 4 Feb off], Wed 5, Thu 6, Fri 7.
    assert add_working_time(at(2025, 1, 24, 10), 5, "days") == at(2025, 2, 7, 17, 30)
    assert add_working_time(at(2025, 3, 14, 10), 1, "days") == at(2025, 3, 17, 17, 30)
    assert working_time_between(at(2025, 3, 10, 8, 30), at(2025, 3, 11, 17, 30), "days") == 2


def test_bad_amounts_are_refused():
    with pytest.raises(ValueError, match="whole number"):
        add_working_time(at(2025, 3, 10, 9), 1.5, "days")
    with pytest.raises(ValueError, match="aware"):
        add_working_time(datetime(2025, 3, 10, 9), 1)
    with pytest.raises(ValueError, match="unit"):
        add_working_time(at(2025, 3, 10, 9), 1, "weeks")


# ---- Elapsed fraction, pauses and the warning ------------------------------------------------------------------

def test_elapsed_fraction_leaves_out_pauses():
    start = at(2025, 3, 10, 8, 30)
    due = add_working_time(start, 10)
    assert due == at(2025, 3, 11, 11)
    now = at(2025, 3, 11, 8, 30)  # 7.5 working hours on
    assert elapsed_fraction(start, due, now) == 0.75
    assert elapsed_fraction(start, due, now, [(at(2025, 3, 10, 13, 30), at(2025, 3, 10, 15, 30))]) == 0.55
    overlapping = [(at(2025, 3, 10, 13, 30), at(2025, 3, 10, 15, 30)), (at(2025, 3, 10, 14, 30), at(2025, 3, 10, 16))]
    assert elapsed_fraction(start, due, now, overlapping) == 0.5
    assert elapsed_fraction(start, due, now, [(at(2025, 3, 10, 17), None)]) == 0.7  # still paused
    assert elapsed_fraction(start, due, start) == 0
    assert elapsed_fraction(start, due, at(2025, 3, 11, 13, 30)) == 1.1  # overdue
    # A pause over a holiday takes nothing off: no working time passed in it.
    assert elapsed_fraction(at(2025, 1, 27, 8, 30), at(2025, 2, 5, 17, 30), at(2025, 2, 5, 8, 30),
                            [(at(2025, 1, 28), at(2025, 2, 5))]) == 0.5


def test_warning_threshold_and_cards():
    assert calendar.clock_level(0.69) == calendar.ON_TIME
    assert calendar.clock_level(0.7) == calendar.WARNING
    assert calendar.clock_level(1.0) == calendar.WARNING
    assert calendar.clock_level(1.01) == calendar.OVERDUE
    assert calendar.clock_level(2.1, red_at=2.0) == calendar.RED
    assert calendar.clock_level(0.5, warning_at=0.5) == calendar.WARNING
    start = at(2025, 3, 10, 8, 30)
    due = add_working_time(start, 10)
    assert calendar.warning_moment(start, due) == at(2025, 3, 10, 17)  # 7 of 10 working hours
    assert elapsed_fraction(start, due, calendar.warning_moment(start, due)) == pytest.approx(0.7)


def test_configured_working_hours(settings):
    settings.WANGGE_WORKING_HOURS = ["09:00-12:00", "14:00-18:00"]
    assert calendar.working_day_length() == timedelta(hours=7)
    assert add_working_time(at(2025, 3, 10, 11), 2) == at(2025, 3, 10, 15)
    for bad in (["9-12"], ["12:00-09:00"], ["09:00-12:00", "11:00-13:00"], []):
        with pytest.raises(ValueError):
            calendar.parse_working_hours(bad)


def test_one_query_a_year_not_a_query_a_day(django_assert_num_queries):
    with django_assert_num_queries(1):
        add_working_time(at(2025, 1, 2, 9), 500)  # about 67 working days, all in 2025
        working_time_between(at(2025, 1, 2, 9), at(2025, 12, 30, 9))
    with django_assert_num_queries(1):
        add_working_time(at(2025, 12, 30, 9), 20)  # into 2026: one more query


# ---- Edits -----------------------------------------------------------------------------------------------------

MALFORMED = [
    ([{"date": "2025-03-03", "kind": "makeup_workday", "name": "x"}], "days[0].kind", "Saturday or Sunday"),
    ([{"date": "2026-01-01", "kind": "holiday"}], "days[0].date", "not in 2025"),
    ([{"date": "2025-13-01", "kind": "holiday"}], "days[0].date", "not a date"),
    ([{"date": "", "kind": "holiday"}], "days[0].date", "not a date"),
    ([{"date": "2025-05-01", "kind": "holiday"}, {"date": "2025-05-01", "kind": "holiday"}], "days[1].date",
     "listed twice"),
    ([{"date": "2025-05-01", "kind": "vacation"}], "days[0].kind", "not a kind"),
    ([{"date": "2025-05-01", "kind": "holiday", "name": "x" * 51}], "days[0].name", "longer than 50"),
    (["2025-05-01"], "days[0]", "object"),
    ({"date": "2025-05-01"}, "days", "list"),
]


@pytest.mark.parametrize(("days", "field", "reason"), MALFORMED)
def test_malformed_calendars_are_refused_and_nothing_is_written(admin, days, field, reason):
    before = _days_2025()
    good = [{"date": "2025-01-01", "kind": "holiday", "name": "元旦"}]
    with pytest.raises(DomainError) as refused:
        do_replace_year(2025, [*good, *days] if isinstance(days, list) else days, actor=admin)
    expected = field.replace("days[1]", "days[2]").replace("days[0]", "days[1]") if isinstance(days, list) else field
    assert refused.value.field == expected
    assert reason in refused.value.message
    assert _days_2025() == before


def test_replacing_a_year_takes_effect_at_once(admin):
    assert is_working_day(date(2025, 3, 3))
    days = do_replace_year(2025, [
        {"date": "2025-03-03", "kind": "holiday", "name": "test"},
        {"date": "2025-03-08", "kind": "holiday", "name": "a holiday on a Saturday is allowed"},
        {"date": "2025-03-09", "kind": "makeup_workday", "name": "补班"},
    ], actor=admin)
    assert [day.date for day in days] == [date(2025, 3, 3), date(2025, 3, 8), date(2025, 3, 9)]
    assert not is_working_day(date(2025, 3, 3))
    assert is_working_day(date(2025, 3, 9))
    assert is_working_day(date(2025, 1, 28))  # the old 春节 rows are gone
    assert CalendarDay.pgh_event_model.objects.filter(pgh_label="insert", date=date(2025, 3, 9)).exists()


def test_only_calendar_administrators_edit():
    with pytest.raises(DomainError) as refused:
        do_replace_year(2025, [], actor=make_user("command", "370103"))
    assert refused.value.status_code == 403
    assert CalendarDay.objects.filter(year=2025).exists()


def test_load_calendar_command(tmp_path, admin):
    path = tmp_path / "2027.csv"
    path.write_text("date,kind,name\n2027-01-01,holiday,元旦\n2027-01-02,holiday,元旦\n", encoding="utf-8")
    call_command("load_calendar", str(path), "--user", admin.username)
    assert list(CalendarDay.objects.filter(year=2027).values_list("date", flat=True)) == [
        date(2027, 1, 1), date(2027, 1, 2)]
    path.write_text("date,kind,name\n2027-01-04,makeup_workday,bad\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"days\[0\]\.kind"):
        call_command("load_calendar", str(path), "--user", admin.username)
    assert CalendarDay.objects.filter(year=2027).count() == 2


# ---- API -------------------------------------------------------------------------------------------------------

def test_anyone_signed_in_reads_a_year(client):
    client.force_login(make_user("grid_worker"))
    response = client.get(f"{API}/2025/")
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/cases/calendar/{year}/")
    body = response.json()
    assert body["loaded"] is True and body["working_hours"] == ["08:30-12:00", "13:30-17:30"]
    assert {"date": "2025-02-08", "kind": "makeup_workday", "name": "春节 调休上班"} in body["days"]
    assert client.get(f"{API}/2031/").json()["loaded"] is False
    assert client.get(f"{API}/1900/").status_code == 400
    years = client.get(f"{API}/")
    assert_matches_schema(years, "/api/v1/cases/calendar/")
    assert {"year": 2025, "holidays": 28, "makeup_workdays": 5} in years.json()


def test_non_administrators_cannot_replace_a_year(client):
    body = {"days": []}
    assert client.put(f"{API}/2025/", body, content_type="application/json").status_code in (401, 403)
    for role in ("command", "community_staff", "grid_worker"):
        client.force_login(make_user(role))
        response = client.put(f"{API}/2025/", body, content_type="application/json")
        assert response.status_code == 403, role
        assert_matches_schema(response, "/api/v1/cases/calendar/{year}/", "put")
    assert CalendarDay.objects.filter(year=2025).count() == 33


def test_an_administrator_replaces_a_year_from_json_or_csv(client, admin):
    client.force_login(admin)
    response = client.put(f"{API}/2030/", {"days": [{"date": "2030-01-01", "kind": "holiday", "name": "元旦"}]},
                          content_type="application/json")
    assert response.status_code == 200, response.content
    assert_matches_schema(response, "/api/v1/cases/calendar/{year}/", "put")
    assert response.json()["days"] == [{"date": "2030-01-01", "kind": "holiday", "name": "元旦"}]

    csv_file = SimpleUploadedFile("2030.csv", "date,kind,name\n2030-02-02,holiday,春节\n2030-01-01,holiday,元旦\n"
                                  .encode("gbk"), content_type="text/csv")
    request = client.generic("PUT", f"{API}/2030/", **_multipart({"file": csv_file}))
    assert request.status_code == 200, request.content
    assert [day["date"] for day in request.json()["days"]] == ["2030-01-01", "2030-02-02"]


def _multipart(data):
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    return {"data": encode_multipart(BOUNDARY, data), "content_type": MULTIPART_CONTENT}


def test_a_malformed_calendar_answers_400_with_the_field(client):
    client.force_login(make_superuser())
    response = client.put(f"{API}/2025/", {"days": [{"date": "2025-03-04", "kind": "makeup_workday"}]},
                          content_type="application/json")
    assert response.status_code == 400
    assert_matches_schema(response, "/api/v1/cases/calendar/{year}/", "put")
    assert "days[0].kind" in response.json()["error"]["fields"]
    assert client.put(f"{API}/2025/", {"nope": 1}, content_type="application/json").status_code == 400
    bad_file = SimpleUploadedFile("x.csv", b"when,what\n2025-01-01,holiday\n", content_type="text/csv")
    response = client.generic("PUT", f"{API}/2025/", **_multipart({"file": bad_file}))
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]
    assert CalendarDay.objects.filter(year=2025).count() == 33


def test_due_endpoint(client):
    client.force_login(make_user("grid_worker"))
    response = client.get(f"{API}/due/", {"start": "2025-01-24T10:00:00+08:00", "amount": "5", "unit": "days"})
    assert response.status_code == 200, response.content
    assert_matches_schema(response, "/api/v1/cases/calendar/due/")
    body = response.json()
    assert body["due"] == "2025-02-07T17:30:00+08:00"
    assert body["missing_years"] == []
    response = client.get(f"{API}/due/", {"start": "2025-03-14T16:00", "amount": "4"})  # local time, hours
    assert response.json()["due"] == "2025-03-17T11:00:00+08:00"
    assert response.json()["warning_at"] == "2025-03-17T09:48:00+08:00"  # 2.8 h: 1.5 on Friday, 1.3 on Monday
    far = client.get(f"{API}/due/", {"start": "2031-03-14T16:00", "amount": "4"}).json()
    assert far["missing_years"] == [2031]
    for bad in ({"start": "x", "amount": "4"}, {"start": "2025-03-14T16:00", "amount": "-1"},
                {"start": "2025-03-14T16:00", "amount": "1.5", "unit": "days"},
                {"start": "2025-03-14T16:00", "amount": "1", "unit": "weeks"}, {}):
        response = client.get(f"{API}/due/", bad)
        assert response.status_code == 400, bad
        assert_matches_schema(response, "/api/v1/cases/calendar/due/")
