import pytest
from django.contrib.gis.geos import Point
from django.http import Http404

from wangge.core.errors import DomainError
from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_user
from wangge.geo.models import Area
from wangge.registry import services
from wangge.registry.models import Person, PersonTag, RevealAudit, TagType

pytestmark = pytest.mark.django_db

VALID_ID = "360426199101010071"  # DOMAIN.md §8


def _grid(district, community=COMMUNITY_A, n=0):
    return Area.objects.filter(generation=district, parent__code=community).order_by("code")[n]


@pytest.fixture
def staff(db):
    return make_user("community_staff", COMMUNITY_A)


@pytest.fixture
def building(district, staff):
    grid = _grid(district)
    return services.do_create_building(actor=staff, location=grid.label_point, name="1号楼", floors=6)


def test_a_building_is_placed_in_the_grid_of_its_location_and_numbered(district, staff, building):
    assert building.grid_code == _grid(district).code and building.district_code == "370103"
    assert building.number == "00001"
    second = services.do_create_building(actor=staff, location=_grid(district).label_point)
    assert second.number == "00002"


def test_a_location_outside_the_district_is_refused_naming_the_field(district, staff):
    with pytest.raises(DomainError) as error:
        services.do_create_building(actor=staff, location=Point(121.47, 31.23, srid=4326))
    assert error.value.field == "location"


def test_nobody_creates_a_record_in_another_community(district, staff):
    with pytest.raises(Http404):
        services.do_create_building(actor=staff, location=_grid(district, COMMUNITY_B).label_point)


def test_a_person_takes_the_grid_of_their_house_and_one_id_number_is_one_person(district, staff, building):
    house = services.do_create_house(building, actor=staff, unit="1", room="101")
    person = services.do_create_person(actor=staff, name="张三", id_number=VALID_ID, phone="138 0013 8000",
                                       house=house)
    assert person.grid_code == building.grid_code
    assert person.id_number_masked == "360426********0071" and person.phone_masked == "138****8000"
    assert person.gender == "male" and person.birth_date.isoformat() == "1991-01-01"
    assert VALID_ID not in person.id_number_enc
    with pytest.raises(DomainError) as error:
        services.do_create_person(actor=staff, name="张三", id_number=VALID_ID, house=house)
    assert error.value.field == "id_number" and VALID_ID not in error.value.message
    assert services.find_person_by_id_number(VALID_ID) == person


def test_a_15_digit_id_number_is_upgraded(district, staff, building):
    person = services.do_create_person(actor=staff, name="李四", id_number="360426910101007",
                                       grid_code=building.grid_code)
    assert person.id_number_masked.startswith("360426") and person.birth_date.year == 1991


def test_moving_a_building_to_another_grid_moves_its_people(district, building):
    manager = make_user("subdistrict_staff", "370103002")
    house = services.do_create_house(building, actor=manager, room="201")
    person = services.do_create_person(actor=manager, name="王五", house=house)
    target = _grid(district, COMMUNITY_B)
    services.do_update_building(building, actor=manager, location=target.label_point)
    person.refresh_from_db()
    house.refresh_from_db()
    assert person.grid_code == house.grid_code == target.code


def test_tag_data_follows_the_tag_types_schema_and_sensitive_tags_need_the_permission(district, building):
    worker = make_user("grid_worker", building.grid_code)
    person = services.do_create_person(actor=worker, name="赵六", grid_code=building.grid_code)
    tag_type = TagType.objects.create(slug="correction", name="社区矫正人员", category="special", sensitive=True,
                                      fields=[{"name": "ends", "type": "date", "required": True}])
    with pytest.raises(Http404):  # a grid worker holds no VIEW_SENSITIVE
        services.do_tag_person(person, tag_type, actor=worker, data={"ends": "2027-01-01"})
    chief = make_user("community_staff", COMMUNITY_A)
    with pytest.raises(DomainError) as error:
        services.do_tag_person(person, tag_type, actor=chief, data={"ends": "next year"})
    assert error.value.field == "data.ends"
    with pytest.raises(DomainError):
        services.do_tag_person(person, tag_type, actor=chief, data={})
    services.do_tag_person(person, tag_type, actor=chief, data={"ends": "2027-01-01"})
    assert PersonTag.objects.get(person=person).data == {"ends": "2027-01-01"}
    assert tag_type not in services.visible_tag_types(worker, person.grid_code)
    assert tag_type in services.visible_tag_types(chief, person.grid_code)


def test_revealing_needs_a_reason_and_the_permission_and_is_audited(district, staff, building):
    person = services.do_create_person(actor=staff, name="孙七", id_number=VALID_ID, grid_code=building.grid_code)
    with pytest.raises(DomainError):
        services.do_reveal(person, "id_number", actor=staff, reason=" ")
    worker = make_user("grid_worker", building.grid_code)  # no REVEAL_PII
    with pytest.raises(Http404):
        services.do_reveal(person, "id_number", actor=worker, reason="核实身份")
    assert services.do_reveal(person, "id_number", actor=staff, reason="核实身份", request_id="r1") == VALID_ID
    audit = RevealAudit.objects.get()
    assert (audit.user, audit.person, audit.field, audit.reason, audit.request_id) == (
        staff, person, "id_number", "核实身份", "r1")


def test_a_deceased_person_needs_the_date(district, staff, building):
    with pytest.raises(DomainError) as error:
        services.do_create_person(actor=staff, name="周八", grid_code=building.grid_code, status="deceased")
    assert error.value.field == "status_date"
    assert not Person.objects.filter(name="周八").exists()


@pytest.mark.parametrize("fields", [
    "not a list", [{"type": "text"}], [{"name": "a"}, {"name": "a"}], [{"name": "a", "type": "colour"}],
    [{"name": "a", "type": "choice"}],
])
def test_a_tag_types_field_schema_is_checked(fields):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        TagType(slug="x", name="x", category="care", fields=fields).full_clean()
    assert "fields" in error.value.message_dict


def test_an_elderly_residents_real_id_number_is_accepted(district, staff, building):
    # Born 1950, registered in 市中区 (370103, a code from 1983): valid, though the county is younger than him.
    from stdnum.cn import ric

    body = "37010319500101001"
    person = services.do_create_person(actor=staff, name="老张", id_number=body + ric.calc_check_digit(body + "?"),
                                       grid_code=building.grid_code)
    assert person.birth_date.year == 1950
