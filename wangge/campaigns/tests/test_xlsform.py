"""XLSForms in, XForms out: a workbook built here with openpyxl becomes a form version (labels in both languages,
constraints, skip logic, the member group, the yes/no list); broken workbooks are refused with the sheet, the row and
the reason, and nothing is saved; the XForm of a version parses and carries the itext labels, the binds and the
repeat."""

import io

import openpyxl
import pytest
from defusedxml import ElementTree
from django.urls import reverse

from wangge.campaigns import forms, xlsform
from wangge.campaigns.household_form import CODE as HOUSEHOLD_CODE
from wangge.campaigns.household_form import DEFINITION
from wangge.campaigns.models import Form, FormVersion
from wangge.core.errors import DomainError
from wangge.core.testing import COMMUNITY_A, make_user

XF = "{http://www.w3.org/2002/xforms}"
H = "{http://www.w3.org/1999/xhtml}"
ID_NUMBER = "11010519491231002X"

SURVEY = [
    ["type", "name", "label::Chinese (zh)", "label::English (en)", "required", "constraint",
     "constraint_message::English (en)", "relevant", "role", "sensitive", "stat"],
    ["begin repeat", "members", "家庭成员", "Household members", "", "", "", "", "", "", ""],
    ["text", "name", "姓名", "Name", "yes", "string-length(.) <= 50", "", "", "name", "", ""],
    ["text", "id_number", "身份证号", "ID number", "", "", "", "", "id_number", "", ""],
    ["integer", "age", "年龄", "Age", "yes", ". >= 0 and . <= 120", "Between 0 and 120", "", "", "", ""],
    ["select_one yes_no", "fever", "是否发热", "Fever", "yes", "", "", "", "", "yes", "abnormal"],
    ["select_multiple provinces", "provinces", "到过的省份", "Provinces visited", "", "", "", "${fever} = 'yes'",
     "", "yes", ""],
    ["end repeat", "", "", "", "", "", "", "", "", "", ""],
    ["begin group", "place", "住址", "Address", "", "", "", "", "", "", ""],
    ["text", "postcode", "邮编", "Postcode", "", "regex(., '^[0-9]{6}$')", "", "", "", "", ""],
    ["note", "thanks", "谢谢", "Thank you", "", "", "", "", "", "", ""],
    ["end group", "", "", "", "", "", "", "", "", "", ""],
    ["image", "door", "门牌照片", "Door plate", "", "", "", "", "", "", ""],
]
CHOICES = [
    ["list_name", "name", "label::Chinese (zh)", "label::English (en)"],
    ["yes_no", "yes", "是", "Yes"],
    ["yes_no", "no", "否", "No"],
    ["provinces", "p37", "山东", "Shandong"],
    ["provinces", "p42", "湖北", "Hubei"],
]
SETTINGS = [["form_title", "form_id", "version"], ["入户摸排表", "door-survey", "2026110101"]]


def workbook(survey=SURVEY, choices=CHOICES, settings=SETTINGS):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "survey"
    for row in survey:
        sheet.append(row)
    for title, rows in (("choices", choices), ("settings", settings)):
        if rows:
            extra = book.create_sheet(title)
            for row in rows:
                extra.append(row)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def changed(row_number, column, value, survey=SURVEY):
    """SURVEY with one cell changed (row_number as the spreadsheet counts, header = 1)."""
    rows = [list(row) for row in survey]
    rows[row_number - 1][rows[0].index(column)] = value
    return rows


def test_a_workbook_becomes_a_definition():
    read = xlsform.read_xlsform(workbook())
    assert (read.form_id, read.title) == ("door-survey", "入户摸排表")
    members, postcode, door = read.definition["fields"]
    assert members["type"] == "repeat" and members["label"] == {"zh": "家庭成员", "en": "Household members"}
    name, id_number, age, fever, provinces = members["children"]
    assert name == {"name": "name", "type": "text", "label": {"zh": "姓名", "en": "Name"}, "required": True,
                    "constraint": {"max_length": 50}, "role": "name"}
    assert id_number["role"] == "id_number"
    assert age["constraint"] == {"min": 0, "max": 120, "message": {"en": "Between 0 and 120"}}
    assert fever["type"] == "yes_no" and "choices" not in fever and fever["sensitive"] and fever["stat"] == "abnormal"
    assert provinces["type"] == "select_multiple" and provinces["relevant"] == "${fever} = 'yes'"
    assert [choice["value"] for choice in provinces["choices"]] == ["p37", "p42"]
    assert provinces["choices"][1]["label"] == {"zh": "湖北", "en": "Hubei"}
    # the layout group is flattened; the note carries no answer
    assert postcode["constraint"] == {"pattern": "^[0-9]{6}$"} and door["type"] == "photo"
    forms.check_definition(read.definition)
    # answers validate against it as against any definition
    cleaned = forms.validate_answers(read.definition, {"members": [
        {"name": "张三", "id_number": ID_NUMBER, "age": "40", "fever": "yes", "provinces": "p42"}],
        "postcode": "250001"})
    assert cleaned["members"][0]["age"] == 40 and cleaned["members"][0]["provinces"] == ["p42"]
    with pytest.raises(forms.AnswerErrors) as err:
        forms.validate_answers(read.definition, {"members": [{"name": "张三", "age": "130", "fever": "no"}],
                                                 "postcode": "25000"})
    assert set(err.value.fields) == {"members[0].age", "postcode"}


@pytest.mark.parametrize("constraint, kind, expected", [
    (". >= 0 and . <= 120", "integer", {"min": 0, "max": 120}),
    ("(. > 0) and (. < 10)", "integer", {"min": 1, "max": 9}),
    ("0 <= .", "decimal", {"min": 0}),
    (". <= 37.5", "decimal", {"max": 37.5}),
    ("string-length(.) >= 2 and string-length(.) < 21", "text", {"min_length": 2, "max_length": 20}),
    ("regex(., '[A-Z]')", "text", {"pattern": "(?s).*(?:[A-Z]).*"}),  # ODK finds it anywhere in the answer
])
def test_constraints_that_translate(constraint, kind, expected):
    assert xlsform.translate_constraint(constraint, kind) == expected


@pytest.mark.parametrize("constraint, kind", [
    (". > 36.5", "decimal"), (". >= 0 or . = -1", "integer"), (". <= today()", "date"),
    (". > ${age}", "integer"), ("regex(., '[')", "text"), (". >= 10 and . <= 1", "integer"),
])
def test_constraints_that_do_not(constraint, kind):
    with pytest.raises(ValueError):
        xlsform.translate_constraint(constraint, kind)


@pytest.mark.parametrize("survey, choices, sheet, row, words", [
    (changed(5, "type", "txet"), CHOICES, "survey", 5, "not an XLSForm question type"),
    (changed(5, "type", "time"), CHOICES, "survey", 5, "cannot be used"),
    (changed(5, "constraint", ". >= 0 or . = -1"), CHOICES, "survey", 5, "cannot be translated"),
    (changed(7, "relevant", "${nope} = 'yes'"), CHOICES, "survey", 7, "nope"),
    (changed(7, "relevant", "${fever} = 'yes' and today() > 3"), CHOICES, "survey", 7, "skip logic"),
    (changed(4, "name", "name"), CHOICES, "survey", 4, "unique"),
    (changed(3, "name", "wg_name"), CHOICES, "survey", 3, "reserved"),
    (changed(3, "required", "${age} > 3"), CHOICES, "survey", 3, "conditional required"),
    (changed(6, "type", "select_one colours"), CHOICES, "survey", 6, "colours"),
    (SURVEY, [*CHOICES, ["provinces", "p 50", "重庆", "Chongqing"]], "choices", 6, "p 50"),
])
def test_broken_workbooks_name_sheet_row_and_reason(survey, choices, sheet, row, words):
    with pytest.raises(xlsform.XLSFormError) as err:
        xlsform.read_xlsform(workbook(survey, choices))
    assert err.value.sheet == sheet
    if row is not None:
        assert err.value.row == row
        assert f"row {row}" in err.value.message
    assert words in err.value.reason
    assert err.value.status_code == 400 and err.value.field == "xlsform"


def test_a_nested_repeat_is_refused_at_its_row():
    survey = [*SURVEY[:3], ["begin repeat", "pets", "宠物", "Pets", *[""] * 7],
              ["text", "pet", "名字", "Pet", *[""] * 7], ["end repeat", *[""] * 10], *SURVEY[3:]]
    with pytest.raises(xlsform.XLSFormError) as err:
        xlsform.read_xlsform(workbook(survey))
    assert (err.value.sheet, err.value.row) == ("survey", 4) and "nested" in err.value.reason


@pytest.mark.parametrize("data, words", [
    (b"", "Upload an XLSForm"), (b"type,name,label\ntext,a,A\n", "not an .xlsx"),
    (b"PK\x03\x04 broken", "not an .xlsx"),
])
def test_files_that_are_not_workbooks(data, words):
    with pytest.raises(xlsform.XLSFormError) as err:
        xlsform.read_xlsform(data)
    assert words in err.value.message


def _xform(xml):
    root = ElementTree.fromstring(xml)
    translations = {node.get("lang"): {text.get("id"): text.find(f"{XF}value").text
                                       for text in node.findall(f"{XF}text")}
                    for node in root.iter(f"{XF}translation")}
    binds = {bind.get("nodeset"): bind.attrib for bind in root.iter(f"{XF}bind")}
    return root, translations, binds


def test_the_household_form_exports_as_an_xform(db):
    version = FormVersion.objects.get(form__code=HOUSEHOLD_CODE, number=1)
    assert not version.xform  # written as data: generated
    root, translations, binds = _xform(xlsform.version_xform(version))
    assert root.find(f"{H}head/{H}title").text == version.form.title
    instance = root.find(f"{H}head/{XF}model/{XF}instance")[0]
    assert (instance.tag, instance.get("id"), instance.get("version")) == (f"{XF}data", HOUSEHOLD_CODE, "1")
    zh, en = translations[xlsform.LANG_ZH], translations[xlsform.LANG_EN]
    assert zh["/data/members/fever:label"] == "是否发热或咳嗽" and en["/data/members/fever:label"] == "Fever or cough"
    assert zh["wg_isolation-1"] == "居家隔离" and en["wg_yes_no-0"] == "Yes"
    fever = binds["/data/members/fever"]
    assert fever["required"] == "true()"
    assert binds["/data/members/return_date"]["relevant"].replace(" ", "") == "../returned='yes'"
    assert "regex(., '^([0-9]{17}[0-9X]|[0-9]{15})$')" in binds["/data/members/id_number"]["constraint"]
    assert binds["/data/meta/instanceID"]["{http://openrosa.org/javarosa}preload"] == "uid"
    assert root.find(f".//{XF}repeat").get("nodeset") == "/data/members"
    # ODK has no required repeat: a question no answer satisfies stands in while the group is empty
    assert binds["/data/wg_members_needed"]["constraint"] == "false()"
    assert forms.check_definition(DEFINITION)


def test_upload_keeps_the_workbook_and_its_xform(db):
    manager = make_user("subdistrict_staff", COMMUNITY_A[:9])
    data = workbook()
    version = xlsform.do_upload_xlsform(actor=manager, data=data)
    assert (version.form.code, version.form.title, version.number) == ("door-survey", "入户摸排表", 1)
    assert bytes(version.xlsform) == data
    root, translations, binds = _xform(version.xform)
    instance = root.find(f"{H}head/{XF}model/{XF}instance")[0]
    assert (instance.get("id"), instance.get("version")) == ("door-survey", "1")
    assert translations["English (en)"]["/data/members/age:jr:constraintMsg"] == "Between 0 and 120"
    assert binds["/data/place/postcode"]["constraint"] == "regex(., '^[0-9]{6}$')"
    assert xlsform.version_xform(version) == version.xform
    again = xlsform.do_upload_xlsform(actor=manager, data=workbook(), code="door-survey", title="第二版")
    assert again.number == 2 and again.form == version.form and 'version="2"' in again.xform


def test_upload_refusals_write_nothing(db):
    with pytest.raises(DomainError) as err:
        xlsform.do_upload_xlsform(actor=make_user("grid_worker", COMMUNITY_A), data=workbook())
    assert err.value.status_code == 403
    manager = make_user("subdistrict_staff", COMMUNITY_A[:9])
    with pytest.raises(DomainError) as err:
        xlsform.do_upload_xlsform(actor=manager, data=workbook(changed(5, "type", "txet")))
    assert err.value.details == {"sheet": "survey", "row": 5, "reason": err.value.details["reason"]}
    with pytest.raises(DomainError) as err:
        xlsform.do_upload_xlsform(actor=manager, data=workbook(settings=None))
    assert err.value.field == "code"
    with pytest.raises(DomainError) as err:
        xlsform.do_upload_xlsform(actor=manager, data=workbook(), code="no spaces")
    assert err.value.field == "code"
    assert not Form.objects.filter(code="door-survey").exists()


# ---- the API -------------------------------------------------------------------------------------------------------

def test_upload_and_download_through_the_api(db, client):
    from wangge.core.testing import assert_matches_schema

    manager = make_user("subdistrict_staff", COMMUNITY_A[:9])
    client.force_login(manager)
    upload = io.BytesIO(workbook())
    upload.name = "door.xlsx"
    response = client.post(reverse("campaign-form-upload"), {"file": upload, "title_en": "Door survey"})
    assert response.status_code == 201, response.content
    assert_matches_schema(response, "/api/v1/campaigns/forms/upload/", "post")
    body = response.json()
    assert body["number"] == 1 and body["has_xlsform"] and body["definition"]["fields"][0]["name"] == "members"
    assert Form.objects.get(code="door-survey").title_en == "Door survey"
    xform = client.get(reverse("campaign-form-version-xform", args=[body["id"]]))
    assert xform.status_code == 200 and xform["Content-Type"].startswith("application/xml")
    assert b"<h:title>" in xform.content
    book = client.get(reverse("campaign-form-version-xlsform", args=[body["id"]]))
    assert book.status_code == 200 and book.content[:2] == b"PK"
    household = FormVersion.objects.get(form__code=HOUSEHOLD_CODE, number=1)
    assert client.get(reverse("campaign-form-version-xlsform", args=[household.pk])).status_code == 404
    assert client.get(reverse("campaign-form-version-xform", args=[household.pk])).status_code == 200
    assert client.get(reverse("campaign-form-version-xform", args=[10 ** 9])).status_code == 404


def test_a_broken_upload_answers_400_with_sheet_row_and_reason(db, client):
    client.force_login(make_user("subdistrict_staff", COMMUNITY_A[:9]))
    upload = io.BytesIO(workbook(changed(5, "constraint", ". >= 0 or . = -1")))
    upload.name = "broken.xlsx"
    response = client.post(reverse("campaign-form-upload"), {"file": upload})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["details"]["sheet"] == "survey" and error["details"]["row"] == 5
    assert "cannot be translated" in error["details"]["reason"] and "row 5" in error["message"]
    assert error["fields"] == {"xlsform": [error["message"]]}
    assert not Form.objects.filter(code="door-survey").exists()
    response = client.post(reverse("campaign-form-upload"), {})
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]


def test_who_may_upload_and_read(db, client):
    client.force_login(make_user("grid_worker", COMMUNITY_A))
    upload = io.BytesIO(workbook())
    upload.name = "door.xlsx"
    assert client.post(reverse("campaign-form-upload"), {"file": upload}).status_code == 403
    household = FormVersion.objects.get(form__code=HOUSEHOLD_CODE, number=1)
    assert client.get(reverse("campaign-form-version-xform", args=[household.pk])).status_code == 200
    client.force_login(make_user(None, COMMUNITY_A))  # no role at all
    assert client.get(reverse("campaign-form-version-xform", args=[household.pk])).status_code == 404
    client.logout()
    assert client.get(reverse("campaign-form-version-xform", args=[household.pk])).status_code in (401, 403)


def test_a_layout_groups_skip_logic_moves_onto_its_questions():
    survey = [list(row) for row in SURVEY]
    survey.insert(8, ["select_one yes_no", "has_address", "有地址", "Has an address", "yes", *[""] * 6])
    relevant = survey[0].index("relevant")
    survey[9][relevant] = "count(${members}) > 0"  # begin group place: count() is outside the safe subset
    with pytest.raises(xlsform.XLSFormError) as err:
        xlsform.read_xlsform(workbook(survey))
    assert (err.value.sheet, err.value.row) == ("survey", 11) and "skip logic" in err.value.reason  # postcode
    survey[9][relevant] = "${has_address} = 'yes'"
    survey[10][relevant] = "string-length(${has_address}) > 0"
    definition = xlsform.read_xlsform(workbook(survey)).definition
    postcode = definition["fields"][2]
    assert postcode["name"] == "postcode"
    assert postcode["relevant"] == "(${has_address} = 'yes') and (string-length(${has_address}) > 0)"
    cleaned = forms.validate_answers(definition, {"members": [{"name": "张三", "age": 3, "fever": "no"}],
                                                  "has_address": "no", "postcode": "250001"})
    assert "postcode" not in cleaned
