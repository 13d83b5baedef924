"""Writes with rules for the registry: every create/update places the record in its grid (from its location, or
its building's, or its house's) and re-checks, inside the transaction, that the resulting grid lies in the actor's
scope — nobody can create or move a record out of their area. Personal numbers are validated and sealed here.
"""

import datetime
import json
import math

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry, Point
from django.db import connection, transaction
from django.utils.translation import gettext as _

from wangge.accounts.roles import CHANGE_PERSON, CHANGE_PLACE, REVEAL_PII, VIEW_PERSON, VIEW_SENSITIVE
from wangge.core import pii
from wangge.core.errors import DomainError
from wangge.core.scope import code_in_scope, ensure_code_in_scope, scope_codes
from wangge.geo import codes as area_codes
from wangge.geo.geometry import as_multipolygon
from wangge.geo.locator import grid_code_at

from . import identity
from .models import (
    Building,
    Courtyard,
    House,
    Household,
    Organization,
    Person,
    PersonStatus,
    PersonTag,
    RevealAudit,
    TagType,
)

PERSON_FIELDS = ("name", "birth_date", "gender", "ethnicity", "hukou_place", "residence_type", "household_status",
                 "relation_to_head", "work_unit", "party_member", "status", "status_date", "inflow_date",
                 "inflow_reason", "origin", "residence_permit")
BUILDING_FIELDS = ("name", "address", "use", "floors", "units")
HOUSE_FIELDS = ("unit", "floor", "room", "use", "area_m2", "owner_name", "rented")
COURTYARD_FIELDS = ("name", "address", "property_manager")
ORGANIZATION_FIELDS = ("name", "kind", "legal_representative", "address", "employees", "safety_contact",
                       "key_place_kinds")


def _place(record, grid_code, *, actor, action, field):
    """Puts `record` in `grid_code` after checking it is a grid inside the actor's scope (404 otherwise)."""
    if not grid_code:
        raise DomainError(_("This location lies outside every grid of the district."), field=field)
    ensure_code_in_scope(actor, action, grid_code)
    record.grid_code = grid_code
    record.district_code = grid_code[:6]


def _plain_geojson_point(value):
    """{"type": "Point", "coordinates": [x, y]} with two finite numbers and nothing else (no crs member)."""
    coordinates = value.get("coordinates")
    return (value.get("type") == "Point" and set(value) == {"type", "coordinates"} and isinstance(coordinates, list)
            and len(coordinates) == 2
            and all(isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in coordinates))


def _point(value, field="location"):
    try:
        if isinstance(value, Point):
            point = value
        elif isinstance(value, dict) and _plain_geojson_point(value):
            point = Point(*value["coordinates"], srid=4326)  # the usual body: no trip through GDAL's JSON reader
        elif isinstance(value, dict):
            point = GEOSGeometry(json.dumps(value))  # other GeoJSON from a request body
        else:
            point = GEOSGeometry(str(value))
    except (GEOSException, GDALException, ValueError, TypeError) as exc:
        raise DomainError(_("Not a readable point."), field=field) from exc
    if point.geom_type != "Point" or point.empty:
        raise DomainError(_("A location must be a point."), field=field)
    if point.srid not in (None, 4326, 4490):
        raise DomainError(_("Coordinates must be WGS84 longitude/latitude."), field=field)
    point.srid = 4326
    if not (-180 <= point.x <= 180 and -90 <= point.y <= 90):
        raise DomainError(_("Coordinates are out of range."), field=field)
    return point


def _set_fields(record, values, allowed):
    for key, value in values.items():
        if key not in allowed:
            raise DomainError(_("Unknown field %(field)s.") % {"field": key}, field=key)
        setattr(record, key, value)


def _full_clean(record, exclude=()):
    from django.core.exceptions import ValidationError

    try:
        record.full_clean(exclude=["grid_code", "district_code", *exclude], validate_unique=False,
                          validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(messages[0], field=field) from exc


# Places --------------------------------------------------------------------------------------------------------

@transaction.atomic
def do_create_courtyard(*, actor, name, geom, **values):
    courtyard = Courtyard(name=name)
    courtyard.geom, _repaired = as_multipolygon(geom)
    _set_fields(courtyard, values, COURTYARD_FIELDS)
    _place(courtyard, grid_code_at(courtyard.geom.point_on_surface), actor=actor, action=CHANGE_PLACE, field="geom")
    _full_clean(courtyard)
    courtyard.save()
    return courtyard


def _next_building_number(grid_code):
    with connection.cursor() as cursor:
        # Serialises numbering within one grid so two concurrent creations cannot take the same number.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"building-number:{grid_code}"])
        cursor.execute("SELECT max(number) FROM registry_building WHERE grid_code = %s", [grid_code])
        highest = cursor.fetchone()[0]
    number = int(highest) + 1 if highest else 1
    if number > 99999:
        raise DomainError(_("Grid %(grid)s has no building number left.") % {"grid": grid_code}, field="number")
    return f"{number:05d}"


@transaction.atomic
def do_create_building(*, actor, location, number=None, courtyard=None, **values):
    building = Building(location=_point(location), courtyard=courtyard)
    _set_fields(building, values, BUILDING_FIELDS)
    _place(building, grid_code_at(building.location), actor=actor, action=CHANGE_PLACE, field="location")
    if number is None:
        building.number = _next_building_number(building.grid_code)
    elif not (isinstance(number, str) and len(number) == 5 and number.isdigit() and number != "00000"):
        raise DomainError(_("A building number has 5 digits, 00001–99999."), field="number")
    else:
        building.number = number
        if Building.objects.filter(grid_code=building.grid_code, number=number).exists():
            raise DomainError(_("Building number %(n)s is already used in this grid.") % {"n": number},
                              field="number")
    _full_clean(building, exclude=["number"])
    building.save()
    return building


def _cascade_grid(building):
    """Houses, households and persons follow their building's grid."""
    House.objects.filter(building=building).update(grid_code=building.grid_code,
                                                   district_code=building.district_code)
    Household.objects.filter(house__building=building).update(grid_code=building.grid_code,
                                                              district_code=building.district_code)
    Person.objects.filter(house__building=building).update(grid_code=building.grid_code,
                                                           district_code=building.district_code)


@transaction.atomic
def do_update_building(building, *, actor, location=None, **values):
    building = Building.objects.select_for_update().get(pk=building.pk)
    ensure_code_in_scope(actor, CHANGE_PLACE, building.grid_code)
    _set_fields(building, values, BUILDING_FIELDS)
    moved = False
    if location is not None:
        building.location = _point(location)
        new_grid = grid_code_at(building.location)
        if new_grid != building.grid_code:
            _place(building, new_grid, actor=actor, action=CHANGE_PLACE, field="location")
            building.number = _next_building_number(new_grid)
            moved = True
    _full_clean(building)
    building.save()
    if moved:
        _cascade_grid(building)
    return building


@transaction.atomic
def do_create_house(building, *, actor, room, **values):
    house = House(building=building, room=room)
    _set_fields(house, values, HOUSE_FIELDS)
    _place(house, building.grid_code, actor=actor, action=CHANGE_PLACE, field="building")
    _full_clean(house, exclude=["building"])
    if House.objects.filter(building=building, unit=house.unit, room=house.room).exists():
        raise DomainError(_("This building already has room %(unit)s-%(room)s.")
                          % {"unit": house.unit, "room": house.room}, field="room")
    house.save()
    return house


# Households and persons -------------------------------------------------------------------------------------------

@transaction.atomic
def do_create_household(*, actor, number, house=None, grid_code=None):
    household = Household(number=(number or "").strip(), house=house)
    if not household.number:
        raise DomainError(_("A household number is required."), field="number")
    if Household.objects.filter(number=household.number).exists():
        raise DomainError(_("Household number %(n)s already exists.") % {"n": household.number}, field="number")
    _place(household, house.grid_code if house else _existing_grid(grid_code), actor=actor, action=CHANGE_PERSON,
           field="house")
    household.save()
    return household


def _existing_grid(grid_code):
    from wangge.geo.models import Area

    if grid_code and area_codes.level_of(grid_code) == area_codes.GRID and \
            Area.objects.current().filter(code=grid_code).exists():
        return grid_code
    raise DomainError(_("Give a house, or the code of a current grid."), field="grid_code")


def seal_id_number(person, value):
    clean = identity.clean_id_number(value)
    sealed = pii.Sealed(clean, purpose=pii.ID_NUMBER, mask=pii.mask_id_number)
    person.id_number_enc, person.id_number_index, person.id_number_masked = sealed.encrypted, sealed.index, \
        sealed.masked
    person.birth_date = identity.birth_date_of(clean)
    person.gender = identity.gender_of(clean)


def seal_phone(person, value):
    clean = identity.clean_phone(value)
    sealed = pii.Sealed(clean, purpose=pii.PHONE, mask=pii.mask_phone)
    person.phone_enc, person.phone_index, person.phone_masked = sealed.encrypted, sealed.index, sealed.masked


def find_person_by_id_number(value):
    """The person with this ID number (exact match through the blind index), or None."""
    clean = identity.clean_id_number(value)
    return Person.objects.filter(id_number_index=pii.blind_index(clean, purpose=pii.ID_NUMBER)).first()


def _person_grid(person, grid_code):
    if person.house_id:
        return person.house.grid_code
    if person.household_id and person.household.grid_code:
        return person.household.grid_code
    return _existing_grid(grid_code)


def _check_status(person):
    if person.status != PersonStatus.NORMAL and not person.status_date:
        raise DomainError(_("A moved-out or deceased person needs the date."), field="status_date")
    if person.status_date and person.status_date > datetime.date.today():
        raise DomainError(_("The date cannot be in the future."), field="status_date")


@transaction.atomic
def do_create_person(*, actor, name, id_number=None, phone=None, house=None, household=None, grid_code=None,
                     **values):
    person = Person(name=(name or "").strip(), house=house, household=household)
    if not person.name:
        raise DomainError(_("A name is required."), field="name")
    _set_fields(person, values, PERSON_FIELDS)
    if id_number:  # gender and birth date then come from the number, whatever else was given
        seal_id_number(person, id_number)
        if Person.objects.filter(id_number_index=person.id_number_index).exists():
            raise DomainError(_("A person with this ID number is already registered (一人一档)."),
                              field="id_number", code="duplicate")
    if phone:
        seal_phone(person, phone)
    _check_status(person)
    _place(person, _person_grid(person, grid_code), actor=actor, action=CHANGE_PERSON, field="house")
    _full_clean(person, exclude=["house", "household"])
    person.save()
    return person


@transaction.atomic
def do_update_person(person, *, actor, id_number=None, phone=None, grid_code=None, **values):
    person = Person.objects.select_for_update().get(pk=person.pk)
    ensure_code_in_scope(actor, CHANGE_PERSON, person.grid_code)
    for relation in ("house", "household"):
        if relation in values:
            setattr(person, relation, values.pop(relation))
    _set_fields(person, values, PERSON_FIELDS)
    if id_number:
        seal_id_number(person, id_number)
        if Person.objects.filter(id_number_index=person.id_number_index).exclude(pk=person.pk).exists():
            raise DomainError(_("A person with this ID number is already registered (一人一档)."),
                              field="id_number", code="duplicate")
    if phone:
        seal_phone(person, phone)
    _check_status(person)
    _place(person, _person_grid(person, grid_code or person.grid_code), actor=actor, action=CHANGE_PERSON,
           field="house")
    _full_clean(person, exclude=["house", "household"])
    person.save()
    return person


@transaction.atomic
def do_reveal(record, field, *, actor, reason, request_id=""):
    """The full value of a masked personal field, for a user allowed to see it; each reveal writes an audit row."""
    if not (reason or "").strip():
        raise DomainError(_("Say why you need the full value."), field="reason")
    ensure_code_in_scope(actor, REVEAL_PII, record.grid_code)
    purposes = {(Person, "id_number"): pii.ID_NUMBER, (Person, "phone"): pii.PHONE,
                (Organization, "safety_phone"): "organization.safety_phone"}
    purpose = purposes.get((type(record), field))
    if purpose is None:
        raise DomainError(_("This field cannot be revealed."), field="field")
    token = getattr(record, f"{field}_enc")
    if not token:
        raise DomainError(_("There is no value to reveal."), field="field", code="not_found")
    RevealAudit.objects.create(user=actor, field=field, reason=reason.strip()[:200], request_id=request_id,
                               person=record if isinstance(record, Person) else None,
                               organization=record if isinstance(record, Organization) else None)
    return pii.decrypt(token, purpose=purpose)


# Tags -------------------------------------------------------------------------------------------------------------

_TAG_TYPES = {"text": str, "number": (int, float), "bool": bool}


def clean_tag_data(tag_type, data):
    """Validates tag values against the tag type's field schema; returns the cleaned dict."""
    if not isinstance(data, dict):
        raise DomainError(_("Tag data must be an object."), field="data")
    known = {f["name"]: f for f in tag_type.fields}
    for key in data:
        if key not in known:
            raise DomainError(_("%(tag)s has no field %(field)s.") % {"tag": tag_type.name, "field": key},
                              field=f"data.{key}")
    cleaned = {}
    for name, spec in known.items():
        value = data.get(name)
        if value in (None, ""):
            if spec.get("required"):
                raise DomainError(_("%(field)s is required.") % {"field": spec.get("label", name)},
                                  field=f"data.{name}")
            continue
        kind = spec.get("type", "text")
        if kind == "date":
            try:
                value = datetime.date.fromisoformat(str(value)).isoformat()
            except ValueError as exc:
                raise DomainError(_("Use a date in the form YYYY-MM-DD."), field=f"data.{name}") from exc
        elif kind == "choice":
            if value not in spec.get("choices", []):
                raise DomainError(_("Choose one of: %(choices)s.") % {"choices": ", ".join(spec.get("choices", []))},
                                  field=f"data.{name}")
        elif kind in _TAG_TYPES:
            if not isinstance(value, _TAG_TYPES[kind]) or (kind == "number" and isinstance(value, bool)):
                raise DomainError(_("Must be a %(kind)s.") % {"kind": kind}, field=f"data.{name}")
        cleaned[name] = value
    return cleaned


@transaction.atomic
def do_tag_person(person, tag_type, *, actor, data=None, valid_from=None, valid_to=None):
    ensure_code_in_scope(actor, CHANGE_PERSON, person.grid_code)
    if tag_type.sensitive:
        ensure_code_in_scope(actor, VIEW_SENSITIVE, person.grid_code)
    tag, _created = PersonTag.objects.update_or_create(
        person=person, tag_type=tag_type,
        defaults={"data": clean_tag_data(tag_type, data or {}), "valid_from": valid_from, "valid_to": valid_to,
                  "grid_code": person.grid_code, "district_code": person.district_code})
    return tag


def visible_tag_types(user, grid_code):
    """Tag types the user may see on a person of `grid_code`: sensitive ones only with VIEW_SENSITIVE there."""
    types = TagType.objects.all()
    if not code_in_scope(grid_code, scope_codes(user, VIEW_SENSITIVE)):
        types = types.filter(sensitive=False)
    if not code_in_scope(grid_code, scope_codes(user, VIEW_PERSON)):
        return types.none()
    return types


# Organizations ----------------------------------------------------------------------------------------------------

def _set_identity(organization, *, uscc, safety_phone):
    """The credit code (validated, unique) and the safety contact's phone (validated, sealed, masked)."""
    if uscc:
        organization.uscc = identity.clean_uscc(uscc)
        if Organization.objects.filter(uscc=organization.uscc).exclude(pk=organization.pk).exists():
            raise DomainError(_("An organization with this credit code is already registered."), field="uscc",
                              code="duplicate")
    if safety_phone:
        clean = identity.clean_phone(safety_phone, field="safety_phone")
        organization.safety_phone_enc = pii.encrypt(clean, purpose="organization.safety_phone")
        organization.safety_phone_masked = pii.mask_phone(clean)


@transaction.atomic
def do_create_organization(*, actor, name, kind, location, uscc=None, safety_phone=None, **values):
    organization = Organization(name=(name or "").strip(), kind=kind, location=_point(location))
    if not organization.name:
        raise DomainError(_("A name is required."), field="name")
    _set_fields(organization, values, ORGANIZATION_FIELDS)
    _set_identity(organization, uscc=uscc, safety_phone=safety_phone)
    _place(organization, grid_code_at(organization.location), actor=actor, action=CHANGE_PLACE, field="location")
    _full_clean(organization)
    organization.save()
    return organization


# Generation activation ------------------------------------------------------------------------------------------

def reassign_after_activation(old_generation, new_generation, actor):
    """Activation hook: places every located record in the new generation's grids and reports the moves
    {model: {"moved": n, "pairs": {"old→new": n}}}. Houses, households and persons follow their building."""
    report = {}
    with connection.cursor() as cursor:
        for model, geometry in ((Building, "r.location"), (Organization, "r.location"),
                                (Courtyard, "ST_PointOnSurface(r.geom)")):
            table = model._meta.db_table
            cursor.execute(
                f"""
                WITH placed AS (
                    SELECT r.id, r.grid_code AS old_code,
                           coalesce((SELECT a.code FROM geo_area a WHERE a.generation_id = %s AND a.level = 'grid'
                                     AND ST_Covers(a.geom, {geometry}) ORDER BY a.code LIMIT 1), '') AS new_code
                    FROM {table} r
                ), moved AS (
                    UPDATE {table} t SET grid_code = p.new_code, district_code = left(p.new_code, 6)
                    FROM placed p WHERE t.id = p.id AND p.new_code IS DISTINCT FROM p.old_code
                    RETURNING p.old_code, p.new_code
                )
                SELECT old_code, new_code, count(*) FROM moved GROUP BY 1, 2 ORDER BY 1, 2
                """, [new_generation.pk])
            pairs = {f"{old or '-'}→{new or '-'}": n for old, new, n in cursor.fetchall()}
            report[model._meta.model_name] = {"moved": sum(pairs.values()), "pairs": pairs}
        for table, join in (("registry_house", "registry_building b WHERE t.building_id = b.id"),
                            ("registry_household", "registry_house b WHERE t.house_id = b.id"),
                            ("registry_person", "registry_house b WHERE t.house_id = b.id")):
            cursor.execute(
                f"UPDATE {table} t SET grid_code = b.grid_code, district_code = b.district_code FROM {join} "
                "AND t.grid_code IS DISTINCT FROM b.grid_code")
            report[table.removeprefix("registry_")] = {"moved": cursor.rowcount}
        cursor.execute(
            "UPDATE registry_persontag t SET grid_code = p.grid_code, district_code = p.district_code "
            "FROM registry_person p WHERE t.person_id = p.id AND t.grid_code IS DISTINCT FROM p.grid_code")
    return report


# One person, one record (一人一档) ----------------------------------------------------------------------------------

def duplicate_candidates(user, area_code="", limit=200):
    """Groups of persons that are probably one person: no ID number to tell them apart (at least one of the pair
    has none), and the same name, birth date and household. Only persons the user may change are considered."""
    from django.db.models import Count, Q

    persons = (Person.objects.restrict(user, CHANGE_PERSON).exclude(status=PersonStatus.MERGED)
               .filter(grid_code__startswith=area_code or ""))
    groups = (persons.values("name", "birth_date", "household_id")
              .annotate(n=Count("id"), without_id=Count("id", filter=Q(id_number_index="")))
              .filter(n__gt=1, without_id__gt=0, birth_date__isnull=False)
              .order_by("name", "birth_date")[:limit])
    result = []
    for group in groups:
        members = list(persons.filter(name=group["name"], birth_date=group["birth_date"],
                                      household_id=group["household_id"]).order_by("pk"))
        result.append(members)
    return result


@transaction.atomic
def do_merge_persons(keep, duplicate, *, actor):
    """Merges `duplicate` into `keep`: empty fields of `keep` are filled from it, its tags, party memberships and
    household headships move over, and it stays as a row marked merged (so the history of both is kept)."""
    keep, duplicate = (Person.objects.select_for_update().get(pk=keep.pk),
                       Person.objects.select_for_update().get(pk=duplicate.pk))
    for person in (keep, duplicate):
        ensure_code_in_scope(actor, CHANGE_PERSON, person.grid_code)
    if keep.pk == duplicate.pk:
        raise DomainError(_("A record cannot be merged into itself."), field="duplicate")
    if PersonStatus.MERGED in (keep.status, duplicate.status):
        raise DomainError(_("This record was already merged."), field="duplicate")
    if keep.id_number_index and duplicate.id_number_index and keep.id_number_index != duplicate.id_number_index:
        raise DomainError(_("Both records have different ID numbers: they are two people."), field="duplicate")
    for field in ("id_number_enc", "id_number_index", "id_number_masked", "phone_enc", "phone_index", "phone_masked",
                  "gender", "birth_date", *PERSON_FIELDS, "house_id", "household_id"):
        if getattr(keep, field) in ("", None) and getattr(duplicate, field) not in ("", None):
            setattr(keep, field, getattr(duplicate, field))
    if duplicate.id_number_index:
        # The unique blind index moves with the number: clear it on the duplicate first.
        Person.objects.filter(pk=duplicate.pk).update(id_number_enc="", id_number_index="", id_number_masked="")
    keep.save()
    for tag in PersonTag.objects.filter(person=duplicate):
        if PersonTag.objects.filter(person=keep, tag_type=tag.tag_type).exists():
            tag.delete()
        else:
            PersonTag.objects.filter(pk=tag.pk).update(person=keep, grid_code=keep.grid_code,
                                                       district_code=keep.district_code)
    Household.objects.filter(head=duplicate).update(head=keep)
    for party_organization in duplicate.party_organizations.all():
        party_organization.members.add(keep)
        party_organization.members.remove(duplicate)
    Person.objects.filter(pk=duplicate.pk).update(status=PersonStatus.MERGED, merged_into=keep,
                                                  status_date=datetime.date.today())
    keep.refresh_from_db()
    return keep


# Updates of places, houses, households and organizations ----------------------------------------------------------

def _locked(model, record, actor, action):
    record = model.objects.select_for_update().get(pk=record.pk)
    ensure_code_in_scope(actor, action, record.grid_code)
    return record


@transaction.atomic
def do_update_courtyard(courtyard, *, actor, geom=None, **values):
    courtyard = _locked(Courtyard, courtyard, actor, CHANGE_PLACE)
    _set_fields(courtyard, values, COURTYARD_FIELDS)
    if geom is not None:
        courtyard.geom, _repaired = as_multipolygon(geom)
        _place(courtyard, grid_code_at(courtyard.geom.point_on_surface), actor=actor, action=CHANGE_PLACE,
               field="geom")
    _full_clean(courtyard)
    courtyard.save()
    return courtyard


@transaction.atomic
def do_update_house(house, *, actor, **values):
    house = _locked(House, house, actor, CHANGE_PLACE)
    _set_fields(house, values, HOUSE_FIELDS)
    _full_clean(house, exclude=["building"])
    if House.objects.filter(building_id=house.building_id, unit=house.unit, room=house.room).exclude(
            pk=house.pk).exists():
        raise DomainError(_("This building already has room %(unit)s-%(room)s.")
                          % {"unit": house.unit, "room": house.room}, field="room")
    house.save()
    return house


@transaction.atomic
def do_update_household(household, *, actor, number=None, house=None, head=None, grid_code=None, **values):
    """Renumbers, moves (to a house, or to a grid when it has none) or names the head of a household; its members
    who live in its house move with it."""
    household = _locked(Household, household, actor, CHANGE_PERSON)
    if values:
        raise DomainError(_("Unknown field %(field)s.") % {"field": next(iter(values))}, field=next(iter(values)))
    if number is not None:
        number = number.strip()
        if not number:
            raise DomainError(_("A household number is required."), field="number")
        if Household.objects.filter(number=number).exclude(pk=household.pk).exists():
            raise DomainError(_("Household number %(n)s already exists.") % {"n": number}, field="number")
        household.number = number
    if head is not None:
        if head.household_id != household.pk:
            raise DomainError(_("The head must be a member of the household."), field="head")
        household.head = head
    moved_from = household.house_id
    if house is not None or grid_code:
        household.house = house
        _place(household, house.grid_code if house else _existing_grid(grid_code), actor=actor,
               action=CHANGE_PERSON, field="house")
    household.save()
    if household.house_id != moved_from:
        Person.objects.filter(household=household, house_id=moved_from).update(
            house=household.house, grid_code=household.grid_code, district_code=household.district_code)
    return household


@transaction.atomic
def do_update_organization(organization, *, actor, location=None, uscc=None, safety_phone=None, **values):
    organization = _locked(Organization, organization, actor, CHANGE_PLACE)
    _set_fields(organization, values, ORGANIZATION_FIELDS)
    _set_identity(organization, uscc=uscc, safety_phone=safety_phone)
    if location is not None:
        organization.location = _point(location)
        _place(organization, grid_code_at(organization.location), actor=actor, action=CHANGE_PLACE,
               field="location")
    _full_clean(organization)
    organization.save()
    return organization
