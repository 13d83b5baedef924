"""The OpenRosa server as ODK Collect meets it: the header on every answer, the challenge and both sign-ins (Digest
computed here from the challenge, Basic over HTTPS), the lockout, the form list of the worker's running campaigns,
the XForm with the household picker, the manifest with the worker's own households, submissions answered 201 with an
OpenRosaResponse and 202 when resubmitted, and every refusal (malformed XML or multipart, answers that break the
form, a household outside the worker's grids, a closed campaign, an outdated form) answered with its status and
nothing written."""

import base64
import hashlib
import re
import secrets
import shutil
from datetime import date, timedelta

import pytest
from defusedxml import ElementTree
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone

from wangge.campaigns import services
from wangge.campaigns.models import CoverageCount, Visit
from wangge.core.testing import (
    COMMUNITY_A,
    COMMUNITY_B,
    DOOR_PHOTO,
    ROOM_PHOTOS,
    make_user,
    png_upload,
    running_photo_campaign,
)
from wangge.geo.models import Area
from wangge.integrations.openrosa import auth
from wangge.registry import services as registry

pytestmark = pytest.mark.django_db
PASSWORD = "Grid-worker-2026"
KNOWN_ID = "11010519491231002X"
RESPONSE = "{http://openrosa.org/http/response}"
FORMS = "{http://openrosa.org/xforms/xformsList}"
MANIFEST = "{http://openrosa.org/xforms/xformsManifest}"
XF = "{http://www.w3.org/2002/xforms}"


def grids(community, count):
    return list(Area.objects.filter(generation__state="active", level="grid", code__startswith=community)
                .order_by("code").values_list("code", flat=True)[:count])


@pytest.fixture(autouse=True)
def quick_hashing(settings):
    """Every request here checks a password: a cheap hasher keeps the tests quick (what is tested is the protocol,
    not PBKDF2)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(district):
    staff = make_user("subdistrict_staff", COMMUNITY_A[:9])
    community = make_user("community_staff", COMMUNITY_A)
    grid, other_grid = grids(COMMUNITY_A, 2)
    households = [registry.do_create_household(actor=community, number=f"H-{i}", grid_code=grid) for i in range(3)]
    elsewhere = registry.do_create_household(actor=community, number="H-other", grid_code=other_grid)
    registry.do_create_person(actor=community, name="张三", id_number=KNOWN_ID, household=households[0],
                              grid_code=grid)
    campaign = services.do_create_campaign(
        actor=staff, name="冬季入户摸排", purpose="掌握辖区返乡人员健康情况", legal_basis="《传染病防治法》第三十一条",
        area_code=COMMUNITY_A[:9], target_codes=[COMMUNITY_A], starts_on=date.today(),
        ends_on=date.today() + timedelta(days=14))
    return {"staff": staff, "grid": grid, "households": households, "elsewhere": elsewhere, "campaign": campaign,
            "worker": make_user("grid_worker", grid, username="worker-a", password=PASSWORD),
            "far_worker": make_user("grid_worker", grids(COMMUNITY_B, 1)[0], username="worker-b",
                                    password=PASSWORD)}


@pytest.fixture
def running(world):
    world["campaign"] = services.do_start_campaign(world["campaign"], actor=world["staff"])
    return world


def basic(username="worker-a", password=PASSWORD):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode(),
            "secure": True}


def message(response):
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{RESPONSE}OpenRosaResponse"
    return root.find(f"{RESPONSE}message").text


def instance(campaign, household, *, status="visited", members=(), instance_id=None, version="1", form_id=None):
    rows = "".join("<members>" + "".join(f"<{key}>{value}</{key}>" for key, value in row.items()) + "</members>"
                   for row in members)
    return (f"<?xml version='1.0' ?><data id=\"{form_id or f'wangge-campaign-{campaign.pk}'}\" version=\"{version}\" "
            f"xmlns:orx=\"http://openrosa.org/xforms\"><wg_purpose/><wg_household>{household.pk}</wg_household>"
            f"<wg_status>{status}</wg_status><wg_revisit_at/><wg_location>36.66 117.01 30 5</wg_location>"
            f"<wg_end>{timezone.now().isoformat()}</wg_end><wg_answers>{rows}<wg_members_needed/><note/>"
            f"</wg_answers><meta><instanceID>{instance_id or 'uuid:' + secrets.token_hex(8)}</instanceID>"
            f"<instanceName>H</instanceName></meta></data>").encode()


def member(**values):
    row = {"name": "张三", "id_number": KNOWN_ID, "returned": "no", "fever": "no", "contact": "no",
           "isolation": "none"}
    row.update(values)
    return row


def submit(client, xml, **credentials):
    credentials = credentials or basic()
    return client.post("/openrosa/submission",
                       {"xml_submission_file": SimpleUploadedFile("submission.xml", xml, content_type="text/xml")},
                       **credentials)


# ---- protocol ------------------------------------------------------------------------------------------------------

def test_every_answer_carries_the_openrosa_header(client, running):
    for response in (client.get("/openrosa/formList"), client.get("/openrosa/formList", **basic()),
                     client.get("/openrosa/nowhere", **basic()), client.head("/openrosa/submission", **basic()),
                     client.get("/openrosa/submission", **basic()),
                     client.get(f"/openrosa/forms/{running['campaign'].pk}/form.xml", **basic()),
                     client.get("/openrosa/forms/999999/manifest", **basic())):
        assert response["X-OpenRosa-Version"] == "1.0", response.status_code
    assert client.get("/openrosa/nowhere", **basic()).status_code == 404
    assert client.get("/openrosa/submission", **basic()).status_code == 405


def test_head_preflight_answers_204(client, running):
    response = client.head("/openrosa/submission", **basic())
    assert response.status_code == 204 and int(response["X-OpenRosa-Accept-Content-Length"]) >= 1024 * 1024
    challenged = client.head("/openrosa/submission")
    assert challenged.status_code == 401 and challenged.content == b"" and "WWW-Authenticate" in challenged


def test_no_credentials_get_a_challenge(client, world):
    response = client.get("/openrosa/formList")
    assert response.status_code == 401
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Digest realm="wangge", qop="auth", algorithm=MD5, nonce="')
    assert "Basic" not in challenge  # plain HTTP: Basic would send the password in clear
    assert 'Basic realm="wangge"' in client.get("/openrosa/formList", secure=True)["WWW-Authenticate"]
    assert message(response)


# ---- Digest --------------------------------------------------------------------------------------------------------

def _md5(text):
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def digest(challenge, method, uri, username="worker-a", password=PASSWORD, *, nc="00000001", cnonce=None):
    """What a client answers a challenge with (RFC 7616, MD5, qop=auth), computed from scratch."""
    params = auth.parse_digest(challenge.split(" ", 1)[1])
    cnonce = cnonce or secrets.token_hex(8)
    ha1 = _md5(f"{username}:{params['realm']}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    response = _md5(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    return {"HTTP_AUTHORIZATION": (
        f'Digest username="{username}", realm="{params["realm"]}", nonce="{params["nonce"]}", uri="{uri}", '
        f'qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}", algorithm=MD5, '
        f'opaque="{params.get("opaque", "")}"')}


def test_digest_round_trip(client, running):
    challenge = client.get("/openrosa/formList")["WWW-Authenticate"]
    response = client.get("/openrosa/formList", **digest(challenge, "GET", "/openrosa/formList"))
    assert response.status_code == 200
    assert ElementTree.fromstring(response.content).find(f"{FORMS}xform/{FORMS}formID").text == (
        f"wangge-campaign-{running['campaign'].pk}")
    # the same nonce with the next count, as Collect goes on; the same count again is a replay
    assert client.head("/openrosa/submission", **digest(challenge, "HEAD", "/openrosa/submission",
                                                        nc="00000002", cnonce="c1")).status_code == 204
    replay = client.head("/openrosa/submission", **digest(challenge, "HEAD", "/openrosa/submission",
                                                          nc="00000002", cnonce="c1"))
    assert replay.status_code == 401 and "stale=true" in replay["WWW-Authenticate"]


def test_digest_refusals(client, running):
    challenge = client.get("/openrosa/formList")["WWW-Authenticate"]
    wrong = client.get("/openrosa/formList", **digest(challenge, "GET", "/openrosa/formList", password="nope"))
    unknown = client.get("/openrosa/formList", **digest(challenge, "GET", "/openrosa/formList", username="nobody"))
    assert wrong.status_code == unknown.status_code == 401 and message(wrong) == message(unknown)
    other_uri = client.get("/openrosa/formList", **digest(challenge, "GET", "/openrosa/submission"))
    assert other_uri.status_code == 401
    with override_settings(WANGGE_OPENROSA_REALM="elsewhere"):  # a forged or foreign challenge
        assert client.get("/openrosa/formList", **digest(challenge, "GET", "/openrosa/formList")).status_code == 401
    old = 'Digest realm="wangge", nonce="' + auth.make_nonce(_request(), now=0) + '"'
    stale = client.get("/openrosa/formList", **digest(old, "GET", "/openrosa/formList"))
    assert stale.status_code == 401 and "stale=true" in stale["WWW-Authenticate"]


def test_an_account_without_a_digest_secret_is_answered_as_an_unknown_name(client, running):
    """Nobody learns which usernames exist: an account with no Digest secret yet (a password set before Digest
    support, or by a raw update) gets exactly the answer of a name with no account, and the try counts towards the
    lockout."""
    from wangge.accounts.models import LoginThrottle
    from wangge.integrations.models import DigestSecret

    worker = running["worker"]
    DigestSecret.objects.filter(user=worker).delete()

    def answer(username):
        challenge = client.get("/openrosa/formList")["WWW-Authenticate"]
        response = client.get("/openrosa/formList", **digest(challenge, "GET", "/openrosa/formList",
                                                             username=username))
        # each answer has its own request id and a challenge with a fresh nonce (a timestamp): the rest is the same
        headers = {key: re.sub(r'nonce="[^"]*"', 'nonce="…"', value) for key, value in response.headers.items()
                   if key != "X-Request-ID"}
        return response.status_code, response.content, headers

    known, unknown = answer("worker-a"), answer("nobody")
    assert known == unknown and known[0] == 401
    worker.refresh_from_db()
    assert worker.failed_logins == 1
    assert LoginThrottle.objects.get(key=LoginThrottle.key_for("nobody")).failed_logins == 1


def _request():
    from django.test import RequestFactory

    return RequestFactory().get("/openrosa/formList")


def test_the_digest_secret_follows_the_password(client, running):
    worker = running["worker"]
    worker.set_password("New-password-2027")
    worker.save()
    challenge = client.get("/openrosa/formList")["WWW-Authenticate"]
    assert client.get("/openrosa/formList", **digest(challenge, "GET", "/openrosa/formList")).status_code == 401
    assert client.get("/openrosa/formList", **digest(challenge, "GET", "/openrosa/formList",
                                                     password="New-password-2027")).status_code == 200
    worker.set_unusable_password()
    worker.save()
    assert client.get("/openrosa/formList", **digest(challenge, "GET", "/openrosa/formList",
                                                     password="New-password-2027")).status_code == 401
    # a password set behind set_password()'s back leaves no usable secret: Basic over HTTPS sets it up again
    from django.contrib.auth.hashers import make_password

    type(worker).objects.filter(pk=worker.pk).update(password=make_password("Third-password-2028"))
    assert client.get("/openrosa/formList", **digest(challenge, "GET", "/openrosa/formList",
                                                     password="Third-password-2028")).status_code == 401
    assert client.get("/openrosa/formList", **basic(password="Third-password-2028")).status_code == 200
    assert client.get("/openrosa/formList", **digest(challenge, "GET", "/openrosa/formList",
                                                     password="Third-password-2028")).status_code == 200


# ---- Basic and the lockout -----------------------------------------------------------------------------------------

def test_basic_needs_https(client, running):
    response = client.get("/openrosa/formList", HTTP_AUTHORIZATION=basic()["HTTP_AUTHORIZATION"])
    assert response.status_code == 401 and "HTTPS" in message(response)
    with override_settings(WANGGE_OPENROSA_BASIC_OVER_HTTP=True):
        assert client.get("/openrosa/formList", HTTP_AUTHORIZATION=basic()["HTTP_AUTHORIZATION"]).status_code == 200


def test_wrong_passwords_lock_the_account(client, running, settings):
    for _attempt in range(settings.WANGGE_LOGIN_MAX_FAILURES - 1):
        response = client.get("/openrosa/formList", **basic(password="wrong"))
        assert response.status_code == 401 and "WWW-Authenticate" in response
    locked = client.get("/openrosa/formList", **basic(password="wrong"))
    assert locked.status_code == 403 and "blocked" in message(locked)
    assert client.get("/openrosa/formList", **basic()).status_code == 403  # even with the right password
    challenge = client.get("/openrosa/formList")["WWW-Authenticate"]
    assert client.get("/openrosa/formList", **digest(challenge, "GET", "/openrosa/formList")).status_code == 403
    # an unknown name locks after as many tries, with the same answers
    answers = [client.get("/openrosa/formList", **basic(username="ghost", password="x")).status_code
               for _attempt in range(settings.WANGGE_LOGIN_MAX_FAILURES)]
    assert answers == [401] * (settings.WANGGE_LOGIN_MAX_FAILURES - 1) + [403]


def test_malformed_credentials(client, world):
    for header in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Digest username=x",
                   "Bearer abc"):
        response = client.get("/openrosa/formList", HTTP_AUTHORIZATION=header, secure=True)
        assert response.status_code == 401 and "WWW-Authenticate" in response


# ---- forms, manifest, media ----------------------------------------------------------------------------------------

def _form_list(client, **credentials):
    root = ElementTree.fromstring(client.get("/openrosa/formList", **(credentials or basic())).content)
    return {entry.find(f"{FORMS}formID").text: {child.tag.split("}")[1]: child.text for child in entry}
            for entry in root.findall(f"{FORMS}xform")}


def test_the_form_list_holds_the_workers_running_campaigns(client, world):
    assert _form_list(client) == {}  # a draft is not offered
    campaign = services.do_start_campaign(world["campaign"], actor=world["staff"])
    entries = _form_list(client)
    entry = entries[f"wangge-campaign-{campaign.pk}"]
    assert entry["name"] == "冬季入户摸排" and entry["version"] == str(campaign.form_version.number)
    assert entry["downloadUrl"] == f"https://testserver/openrosa/forms/{campaign.pk}/form.xml"
    assert entry["manifestUrl"] == f"https://testserver/openrosa/forms/{campaign.pk}/manifest"
    xform = client.get(f"/openrosa/forms/{campaign.pk}/form.xml", **basic())
    assert xform.status_code == 200 and xform["Content-Type"].startswith("text/xml")
    assert entry["hash"] == "md5:" + hashlib.md5(xform.content, usedforsecurity=False).hexdigest()
    assert _form_list(client, **basic(username="worker-b")) == {}  # a worker of a grid outside its targets
    assert client.get("/openrosa/formList?formID=other", **basic()).content.count(b"<xform>") == 0
    services.do_close_campaign(campaign, actor=world["staff"])
    assert _form_list(client) == {}


def test_the_form_list_reads_as_many_statements_for_many_campaigns_as_for_one(client, running):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements():
        _form_list(client)  # each campaign's XForm is built once per process: not what is counted here
        with CaptureQueriesContext(connection) as queries:
            entries = _form_list(client)
        return len(entries), len(queries)

    forms, one = statements()
    assert forms == 1
    for number in range(3):
        campaign = services.do_start_campaign(services.do_create_campaign(
            actor=running["staff"], name=f"摸排 {number}", purpose="测试", legal_basis="测试",
            area_code=COMMUNITY_A[:9], target_codes=[COMMUNITY_A], starts_on=date.today(), ends_on=date.today()),
            actor=running["staff"])
        if number == 0:  # one the worker is assigned to by grid, the others through their scope
            services.do_assign_worker(campaign, actor=running["staff"], grid_code=running["grid"],
                                      user=running["worker"])
    forms, many = statements()
    assert forms == 4 and many == one


def test_the_xform_has_the_household_picker_and_the_purpose(client, running):
    campaign = running["campaign"]
    root = ElementTree.fromstring(client.get(f"/openrosa/forms/{campaign.pk}/form.xml", **basic()).content)
    data = root.find(f".//{XF}instance/{XF}data")
    assert (data.get("id"), data.get("version")) == (f"wangge-campaign-{campaign.pk}", "1")
    assert [child.tag.split("}")[1] for child in data][:7] == [
        "wg_purpose", "wg_household", "wg_status", "wg_revisit_at", "wg_location", "wg_end", "wg_answers"]
    assert data.find(f"{XF}wg_status").text == "visited"
    households = [node for node in root.iter(f"{XF}instance") if node.get("id") == "households"]
    assert households[0].get("src") == "jr://file-csv/households.csv"
    texts = {text.get("id"): text.find(f"{XF}value").text for translation in root.iter(f"{XF}translation")
             if translation.get("lang") == "中文 (zh)" for text in translation.findall(f"{XF}text")}
    assert "掌握辖区返乡人员健康情况" in texts["/data/wg_purpose:label"]
    assert texts["/data/wg_answers/members/fever:label"] == "是否发热或咳嗽"


def test_the_manifest_lists_only_the_workers_households(client, running):
    campaign = running["campaign"]
    root = ElementTree.fromstring(client.get(f"/openrosa/forms/{campaign.pk}/manifest", **basic()).content)
    media = root.find(f"{MANIFEST}mediaFile")
    assert media.find(f"{MANIFEST}filename").text == "households.csv"
    url = media.find(f"{MANIFEST}downloadUrl").text
    csv_file = client.get(url.replace("https://testserver", ""), **basic())
    assert csv_file.status_code == 200
    assert media.find(f"{MANIFEST}hash").text == "md5:" + hashlib.md5(csv_file.content,
                                                                      usedforsecurity=False).hexdigest()
    lines = csv_file.content.decode().splitlines()
    assert lines[0] == "name,label,number,address,grid,status"
    ids = {int(line.split(",")[0]) for line in lines[1:]}
    assert ids == {household.pk for household in running["households"]}  # not the other grid's H-other
    assert "张三" not in csv_file.content.decode() and KNOWN_ID not in csv_file.content.decode()


@pytest.mark.parametrize("path", ["form.xml", "manifest", "households.csv"])
def test_another_workers_campaign_is_not_found(client, running, path):
    campaign = running["campaign"]
    response = client.get(f"/openrosa/forms/{campaign.pk}/{path}", **basic(username="worker-b"))
    assert response.status_code == 404 and response["X-OpenRosa-Version"] == "1.0"


# ---- submissions ---------------------------------------------------------------------------------------------------

def test_a_submission_is_a_visit_and_resubmitting_it_changes_nothing(client, running):
    campaign, household = running["campaign"], running["households"][0]
    xml = instance(campaign, household, members=[member(), member(name="李四", id_number="", fever="yes")],
                   instance_id="uuid:4b1c-0001")
    response = submit(client, xml)
    assert response.status_code == 201, response.content
    assert response["X-OpenRosa-Version"] == "1.0" and "H-0" in message(response)
    visit = Visit.objects.get()
    assert (visit.source, visit.instance_id, visit.status, visit.members, visit.worker) == (
        "openrosa", "uuid:4b1c-0001", "visited", 2, running["worker"])
    assert visit.location is not None
    answers = services.do_reveal_answers(visit, actor=make_user("community_staff", COMMUNITY_A), reason="核实")
    assert answers["members"][1] == {"name": "李四", "returned": "no", "fever": "yes", "contact": "no",
                                     "isolation": "none"}
    again = submit(client, xml)
    assert again.status_code == 202 and message(again)
    assert Visit.objects.count() == 1
    assert CoverageCount.objects.get(campaign=campaign, round=1, grid_code=running["grid"]).visited == 1
    # someone else's copy of that instance learns nothing
    assert submit(client, xml, **basic(username="worker-b")).status_code == 404


def test_a_submission_raises_the_campaigns_flags(client, running):
    from wangge.cases.models import Category

    category = Category.objects.get(kind="event", code="0901")
    services.do_add_flag_rule(running["campaign"], actor=running["staff"], code="fever", label="发热",
                              field="fever", operator="eq", value="yes", category=category.pk, urgency="urgent")
    xml = instance(running["campaign"], running["households"][0],
                   members=[member(), member(name="李四", id_number="", fever="yes")])
    xml = xml.replace(b"<wg_location>36.66 117.01 30 5</wg_location>", b"<wg_location/>")  # no fix: the grid's point
    response = submit(client, xml)
    assert response.status_code == 201, response.content
    visit = Visit.objects.get()
    assert visit.flags == ["fever"] and visit.location is None
    hit = visit.flag_hits.select_related("event").get()
    assert (hit.member_index, hit.event.category, hit.event.urgency) == (1, category, "urgent")


def test_a_call_without_answers(client, running):
    campaign, household = running["campaign"], running["households"][1]
    xml = instance(campaign, household, status="absent", members=[{"name": "", "fever": ""}])
    assert submit(client, xml).status_code == 201
    assert Visit.objects.get().status == "absent"


@pytest.mark.parametrize("body, words", [
    (b"not xml at all", "well-formed"),
    (b"<data id='wangge-campaign-1'><unclosed></data>", "well-formed"),
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
     b"<data>&lol2;</data>", "DTD"),
])
def test_malformed_xml_is_refused(client, running, body, words):
    response = submit(client, body)
    assert response.status_code == 400 and words in message(response)
    assert not Visit.objects.exists()


def test_malformed_multipart_is_refused(client, running):
    no_part = client.post("/openrosa/submission", {"other": "x"}, **basic())
    assert no_part.status_code == 400 and "xml_submission_file" in message(no_part)
    not_multipart = client.post("/openrosa/submission", b"<data/>", content_type="text/xml", **basic())
    assert not_multipart.status_code == 400
    broken = client.post("/openrosa/submission", b"--nope\r\nContent-Disposition: form-data\r\n\r\nx",
                         content_type="multipart/form-data; boundary=", **basic())
    assert broken.status_code == 400 and broken["X-OpenRosa-Version"] == "1.0"
    assert not Visit.objects.exists()


def test_answers_that_break_the_form_are_named(client, running):
    campaign, household = running["campaign"], running["households"][0]
    response = submit(client, instance(campaign, household, members=[member(fever="maybe", returned="yes")]))
    assert response.status_code == 400
    text = message(response)
    assert "members[0].fever" in text and "members[0].return_date" in text
    assert KNOWN_ID not in text
    assert not Visit.objects.exists()
    assert submit(client, instance(campaign, household, members=[])).status_code == 400  # the group is required


def test_a_household_outside_the_workers_grids(client, running):
    response = submit(client, instance(running["campaign"], running["elsewhere"], members=[member()]))
    assert response.status_code == 404 and message(response)
    stranger = submit(client, instance(running["campaign"], running["households"][0], members=[member()]),
                      **basic(username="worker-b"))
    assert stranger.status_code == 404
    assert not Visit.objects.exists()


def test_a_closed_campaign_takes_no_new_visits_but_acknowledges_old_ones(client, running):
    campaign, household = running["campaign"], running["households"][0]
    first = instance(campaign, household, members=[member()], instance_id="uuid:before-closing")
    assert submit(client, first).status_code == 201
    services.do_close_campaign(campaign, actor=running["staff"])
    assert submit(client, first).status_code == 202  # the phone may stop retrying
    late = submit(client, instance(campaign, household, members=[member()]))
    assert late.status_code == 403 and "closed" in message(late)
    assert Visit.objects.count() == 1


def test_a_closed_campaign_is_refused_by_the_visit_services_rule(client, running):
    """The campaign's state is the visit service's rule: OpenRosa answers with its message, as an OpenRosaResponse."""
    from wangge.core.errors import DomainError

    campaign = services.do_close_campaign(running["campaign"], actor=running["staff"])
    with pytest.raises(DomainError) as refused:
        services.do_record_visit(campaign, actor=running["worker"], household=running["households"][1],
                                 status="absent")
    for status, members in (("visited", [member()]), ("absent", [])):
        late = submit(client, instance(campaign, running["households"][0], status=status, members=members))
        assert late.status_code == 403 and late["X-OpenRosa-Version"] == "1.0"
        assert message(late) == refused.value.message
    assert not Visit.objects.exists()


def test_outdated_and_unknown_forms(client, running):
    campaign, household = running["campaign"], running["households"][0]
    outdated = submit(client, instance(campaign, household, members=[member()], version="7"))
    assert outdated.status_code == 400 and "outdated" in message(outdated)
    assert submit(client, instance(campaign, household, form_id="somebody-elses-form")).status_code == 404
    assert submit(client, instance(campaign, household, form_id="wangge-campaign-999999")).status_code == 404
    no_id = instance(campaign, household, members=[member()]).replace(b"<instanceID>", b"<x>").replace(
        b"</instanceID>", b"</x>")
    assert submit(client, no_id).status_code == 400
    assert not Visit.objects.exists()


def test_a_submission_without_credentials_is_challenged(client, running):
    xml = instance(running["campaign"], running["households"][0], members=[member()])
    response = client.post("/openrosa/submission",
                           {"xml_submission_file": SimpleUploadedFile("s.xml", xml, content_type="text/xml")})
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Digest ")
    assert not Visit.objects.exists()


# ---- valid for ODK -------------------------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("java") is None, reason="ODK Validate (JavaRosa, bundled with pyxform) needs Java")
def test_campaign_xforms_pass_odk_validate(client, running, tmp_path):
    """JavaRosa — the engine inside ODK Collect — parses the campaign forms: the seeded household form, and an
    uploaded workbook (layout group, note, its own language columns) with the call's fields added."""
    from pyxform.validators import odk_validate

    from wangge.campaigns.tests.test_xlsform import workbook
    from wangge.campaigns.xlsform import do_upload_xlsform

    uploaded = do_upload_xlsform(actor=running["staff"], data=workbook())
    other = services.do_create_campaign(
        actor=running["staff"], name="门牌核查", purpose="核对门牌", legal_basis="《地名管理条例》",
        area_code=COMMUNITY_A[:9], target_codes=[COMMUNITY_A], starts_on=date.today(), ends_on=date.today(),
        form_version=uploaded.pk)
    services.do_start_campaign(other, actor=running["staff"])
    (tmp_path / "households.csv").write_bytes(
        client.get(f"/openrosa/forms/{running['campaign'].pk}/households.csv", **basic()).content)
    for campaign in (running["campaign"], other):
        path = tmp_path / f"campaign-{campaign.pk}.xml"
        path.write_bytes(client.get(f"/openrosa/forms/{campaign.pk}/form.xml", **basic()).content)
        odk_validate.check_xform(str(path))  # raises ODKValidateError with JavaRosa's message otherwise


def test_a_password_hash_upgrade_keeps_digest_working(client, running, settings):
    """Django re-hashes a password on a successful check when its hasher changes: same password, new hash."""
    worker = running["worker"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.ScryptPasswordHasher",
                                 *settings.PASSWORD_HASHERS]
    old_hash = worker.password
    assert worker.check_password(PASSWORD)
    worker.refresh_from_db()
    assert worker.password != old_hash and worker.password.startswith("scrypt$")
    challenge = client.get("/openrosa/formList")["WWW-Authenticate"]
    assert client.get("/openrosa/formList", **digest(challenge, "GET", "/openrosa/formList")).status_code == 200


def test_photo_answers_are_stored_from_their_attached_parts(client, running, settings, tmp_path):
    """ODK Collect answers a photo question with the file's name and sends the file as a part of its own: the photo
    is checked and stored in the campaign's folder (the answer then names where), one not attached or not an image
    refuses the submission, and a refused submission keeps none of its photos."""
    from wangge.integrations.openrosa import xforms

    settings.MEDIA_ROOT = tmp_path
    campaign = running_photo_campaign(running["staff"], [{**DOOR_PHOTO, "required": True}, ROOM_PHOTOS])
    png = png_upload

    def send(household, parts):
        xml = (f"<?xml version='1.0' ?><data id=\"wangge-campaign-{campaign.pk}\" "
               f"version=\"{xforms.form_version_string(campaign)}\"><wg_household>{household.pk}</wg_household>"
               f"<wg_status>visited</wg_status><wg_answers><door>1700000001.png</door>"
               f"<rooms><view>1700000002.png</view></rooms><rooms><view/></rooms></wg_answers>"
               f"<meta><instanceID>uuid:{secrets.token_hex(8)}</instanceID></meta></data>").encode()
        return client.post("/openrosa/submission", {
            "xml_submission_file": SimpleUploadedFile("submission.xml", xml, content_type="text/xml"), **parts},
            **basic())

    first, second = running["households"][:2]
    response = send(first, {"1700000001.png": png("1700000001.png"), "1700000002.png": png("1700000002.png")})
    assert response.status_code == 201, message(response)
    answers = services.do_reveal_answers(Visit.objects.get(campaign=campaign), actor=running["staff"], reason="核对")
    door, view = answers["door"], answers["rooms"][0]["view"]
    for name in (door, view):
        assert name.startswith(f"campaigns/{campaign.pk}/") and (tmp_path / name).is_file()
    stored = set(tmp_path.rglob("*"))

    missing = send(second, {"1700000001.png": png("1700000001.png")})
    assert missing.status_code == 400 and "rooms[0].view" in message(missing)
    not_an_image = send(second, {"1700000001.png": png("1700000001.png"),
                                 "1700000002.png": SimpleUploadedFile("1700000002.png", b"GIF89a not really")})
    assert not_an_image.status_code == 400 and "rooms[0].view" in message(not_an_image)
    services.do_close_campaign(campaign, actor=running["staff"])
    closed = send(second, {"1700000001.png": png("1700000001.png"), "1700000002.png": png("1700000002.png")})
    assert closed.status_code == 403 and "closed" in message(closed)
    assert Visit.objects.filter(campaign=campaign).count() == 1 and set(tmp_path.rglob("*")) == stored


def test_a_basic_sign_in_clears_the_failure_count(client, running, settings):
    for _round in range(2):
        for _attempt in range(settings.WANGGE_LOGIN_MAX_FAILURES - 1):
            assert client.get("/openrosa/formList", **basic(password="wrong")).status_code == 401
        assert client.get("/openrosa/formList", **basic()).status_code == 200


def test_a_hash_upgrade_during_a_basic_sign_in_keeps_digest_working(client, running, settings):
    worker = running["worker"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.ScryptPasswordHasher", *settings.PASSWORD_HASHERS]
    assert client.get("/openrosa/formList", **basic()).status_code == 200
    worker.refresh_from_db()
    assert worker.password.startswith("scrypt$")
    challenge = client.get("/openrosa/formList")["WWW-Authenticate"]
    assert client.get("/openrosa/formList", **digest(challenge, "GET", "/openrosa/formList")).status_code == 200
