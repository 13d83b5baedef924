"""Masked by default in the API and the pages; a full number only through an audited reveal with a reason."""

import pytest

from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_user
from wangge.geo.models import Area
from wangge.registry import services
from wangge.registry.models import RevealAudit

pytestmark = pytest.mark.django_db

API = "/api/v1/registry"
ID_NUMBER, PHONE = "11010519491231002X", "13800138000"


@pytest.fixture
def staff(db):
    return make_user("community_staff", COMMUNITY_A)


@pytest.fixture
def grid(district):
    return Area.objects.filter(generation=district, parent__code=COMMUNITY_A).order_by("code").first()


@pytest.fixture
def person(staff, grid):
    return services.do_create_person(actor=staff, name="张三", id_number=ID_NUMBER, phone=PHONE, grid_code=grid.code)


@pytest.fixture
def organization(staff, grid):
    return services.do_create_organization(actor=staff, name="超市", kind="shop", location=grid.label_point,
                                           safety_contact="李四", safety_phone="0531-88886666")


def test_the_api_shows_masked_numbers_only(client, staff, person):
    client.force_login(staff)
    for url in (f"{API}/persons/", f"{API}/persons/{person.pk}/", f"{API}/households/"):
        body = client.get(url).content.decode()
        assert ID_NUMBER not in body and PHONE not in body
    detail = client.get(f"{API}/persons/{person.pk}/").json()
    assert detail["id_number"] == "110105********002X" and detail["phone"] == "138****8000"


def test_the_pages_show_masked_numbers_only(client, staff, person):
    client.force_login(staff)
    listing = client.get("/registry/persons/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "110105********002X" in page and "138****8000" in page
    assert ID_NUMBER not in page and PHONE not in page
    detail = client.get(f"/registry/persons/{person.pk}/").content.decode()
    assert "110105********002X" in detail and ID_NUMBER not in detail and PHONE not in detail


def test_a_reveal_through_the_api_returns_the_value_and_writes_the_audit(client, staff, person):
    client.force_login(staff)
    response = client.post(f"{API}/persons/{person.pk}/reveal/", {"field": "id_number", "reason": "核实身份"},
                           content_type="application/json", HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 200 and response.json() == {"field": "id_number", "value": ID_NUMBER}
    assert response["Cache-Control"] == "no-store"
    audit = RevealAudit.objects.get()
    assert (audit.user, audit.person, audit.field, audit.reason, audit.request_id) == \
        (staff, person, "id_number", "核实身份", "req-42")
    phone = client.post(f"{API}/persons/{person.pk}/reveal/", {"field": "phone", "reason": "回访"},
                        content_type="application/json")
    assert phone.json()["value"] == PHONE and RevealAudit.objects.count() == 2


def test_an_organizations_safety_phone_is_masked_and_revealed_with_audit(client, staff, organization):
    client.force_login(staff)
    assert client.get(f"{API}/organizations/{organization.pk}/").json()["safety_phone"] != "0531-88886666"
    response = client.post(f"{API}/organizations/{organization.pk}/reveal/",
                           {"field": "safety_phone", "reason": "安全检查"}, content_type="application/json")
    assert response.json()["value"] == "0531-88886666"
    assert RevealAudit.objects.get().organization == organization


def test_a_reveal_needs_a_reason(client, staff, person):
    client.force_login(staff)
    for body in ({"field": "id_number"}, {"field": "id_number", "reason": "   "}):
        response = client.post(f"{API}/persons/{person.pk}/reveal/", body, content_type="application/json")
        assert response.status_code == 400 and "reason" in response.json()["error"]["fields"]
        assert ID_NUMBER not in response.content.decode()
    assert not RevealAudit.objects.exists()


def test_a_reveal_needs_the_permission(client, person, grid):
    worker = make_user("grid_worker", grid.code)  # sees persons, may not reveal
    client.force_login(worker)
    assert client.get(f"{API}/persons/{person.pk}/").status_code == 200
    response = client.post(f"{API}/persons/{person.pk}/reveal/", {"field": "id_number", "reason": "x"},
                           content_type="application/json")
    assert response.status_code == 403 and ID_NUMBER not in response.content.decode()
    page = client.post(f"/registry/persons/{person.pk}/reveal/", {"field": "id_number", "reason": "x"})
    assert page.status_code == 403 and ID_NUMBER not in page.content.decode()
    assert "Reveal a full number" not in client.get(f"/registry/persons/{person.pk}/").content.decode()
    assert not RevealAudit.objects.exists()


def test_the_wrong_field_cannot_be_revealed(client, staff, person):
    client.force_login(staff)
    response = client.post(f"{API}/persons/{person.pk}/reveal/", {"field": "safety_phone", "reason": "x"},
                           content_type="application/json")
    assert response.status_code == 400 and not RevealAudit.objects.exists()


def test_the_page_reveals_once_with_a_reason_and_audits(client, staff, person):
    client.force_login(staff)
    refused = client.post(f"/registry/persons/{person.pk}/reveal/", {"field": "phone", "reason": ""})
    assert refused.status_code == 400 and PHONE not in refused.content.decode()
    shown = client.post(f"/registry/persons/{person.pk}/reveal/", {"field": "phone", "reason": "回访"},
                        HTTP_X_REQUEST_ID="page-7")
    assert shown.status_code == 200 and PHONE in shown.content.decode()
    assert "no-cache" in shown["Cache-Control"] or "no-store" in shown["Cache-Control"]
    audit = RevealAudit.objects.get()
    assert (audit.user, audit.person, audit.field, audit.reason, audit.request_id) == \
        (staff, person, "phone", "回访", "page-7")
    # Shown once: the page read again is masked.
    assert PHONE not in client.get(f"/registry/persons/{person.pk}/").content.decode()


def test_the_pages_are_scoped(client, person):
    outsider = make_user("community_staff", COMMUNITY_B)
    client.force_login(outsider)
    assert "张三" not in client.get("/registry/persons/").content.decode()
    assert client.get(f"/registry/persons/{person.pk}/").status_code == 404
    assert client.post(f"/registry/persons/{person.pk}/reveal/", {"field": "id_number", "reason": "x"}
                       ).status_code == 404
    assert not RevealAudit.objects.exists()
    leader = make_user("leader", COMMUNITY_A)
    client.force_login(leader)
    assert client.get("/registry/persons/").status_code == 404
    assert client.get(f"/registry/persons/{person.pk}/").status_code == 404


def test_the_list_page_filters_and_searches_by_number_in_a_post(client, staff, person, grid):
    services.do_create_person(actor=staff, name="李四", grid_code=grid.code, residence_type="flowing")
    client.force_login(staff)
    flowing = client.get("/registry/persons/?residence_type=flowing", HTTP_HX_REQUEST="true")
    assert flowing.status_code == 200 and "李四" in flowing.content.decode() and "张三" not in flowing.content.decode()
    assert "<html" not in flowing.content.decode()  # htmx gets the rows only
    found = client.post("/registry/persons/", {"id_number": ID_NUMBER})
    assert "张三" in found.content.decode() and "李四" not in found.content.decode()
    assert ID_NUMBER not in found.content.decode()
    # A number in the URL is ignored, not searched: it would sit in access logs.
    assert "李四" in client.get(f"/registry/persons/?id_number={ID_NUMBER}").content.decode()
    bad = client.post("/registry/persons/", {"id_number": "123"})
    assert bad.status_code == 200 and "18 characters" in bad.content.decode()


def test_the_list_page_has_keyset_pages(client, staff, grid):
    for n in range(52):
        services.do_create_person(actor=staff, name=f"居民{n:02d}", grid_code=grid.code)
    client.force_login(staff)
    first = client.get("/registry/persons/", HTTP_HX_REQUEST="true").content.decode()
    assert "居民49" in first and "居民50" not in first and "Next 50" in first
    after = first.split("?after=")[1].split('"')[0]
    second = client.get(f"/registry/persons/?after={after}", HTTP_HX_REQUEST="true").content.decode()
    assert "居民50" in second and "居民51" in second and "居民00" not in second and "Next 50" not in second
