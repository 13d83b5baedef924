"""Registry serializers. Reads show masked numbers only (the *_masked columns: lists never decrypt); writes take
plain input that the services validate, seal and place."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField

from wangge.core.scope import code_in_scope

from ..models import (
    KEY_PLACE_KINDS,
    Building,
    Courtyard,
    House,
    Household,
    HouseholdStatus,
    Organization,
    OrganizationKind,
    PartyOrganization,
    Person,
    PersonStatus,
    PersonTag,
    ResidenceType,
    TagType,
)

LOCATED = ["id", "grid_code", "district_code", "created_at", "updated_at"]


# Places -----------------------------------------------------------------------------------------------------------

class CourtyardSerializer(serializers.ModelSerializer):
    geom = GeometryField(read_only=True)

    class Meta:
        model = Courtyard
        fields = [*LOCATED, "name", "address", "property_manager", "geom"]
        read_only_fields = fields


class CourtyardWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    property_manager = serializers.CharField(max_length=100, required=False, allow_blank=True)
    geom = serializers.JSONField(help_text=_("GeoJSON Polygon or MultiPolygon, WGS84."))


class BuildingSerializer(serializers.ModelSerializer):
    location = GeometryField(read_only=True)
    footprint = GeometryField(read_only=True, allow_null=True)

    class Meta:
        model = Building
        fields = [*LOCATED, "number", "name", "address", "use", "floors", "units", "courtyard", "location",
                  "footprint"]
        read_only_fields = fields


class BuildingWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    use = serializers.CharField(max_length=30, required=False, allow_blank=True)
    floors = serializers.IntegerField(min_value=0, max_value=300, required=False, allow_null=True)
    units = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True)
    location = serializers.JSONField(required=False, help_text=_("GeoJSON Point, WGS84; decides the grid."))


class BuildingCreateSerializer(BuildingWriteSerializer):
    location = serializers.JSONField(help_text=_("GeoJSON Point, WGS84; decides the grid."))
    number = serializers.CharField(max_length=5, required=False,
                                   help_text=_("5 digits; default: the next free number in the grid."))
    courtyard = serializers.IntegerField(required=False, allow_null=True)


class HouseSerializer(serializers.ModelSerializer):
    class Meta:
        model = House
        fields = [*LOCATED, "building", "unit", "floor", "room", "use", "area_m2", "owner_name", "rented"]
        read_only_fields = fields


class HouseWriteSerializer(serializers.Serializer):
    building = serializers.IntegerField()
    unit = serializers.CharField(max_length=10, required=False, allow_blank=True)
    floor = serializers.IntegerField(min_value=-10, max_value=300, required=False, allow_null=True)
    room = serializers.CharField(max_length=20)
    use = serializers.CharField(max_length=30, required=False, allow_blank=True)
    area_m2 = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0, required=False, allow_null=True)
    owner_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    rented = serializers.BooleanField(required=False)


# Persons ----------------------------------------------------------------------------------------------------------

class TagTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = TagType
        fields = ["id", "slug", "name", "category", "sensitive", "fields"]


class PersonTagBriefSerializer(serializers.Serializer):
    slug = serializers.CharField(source="tag_type.slug")
    name = serializers.CharField(source="tag_type.name")
    category = serializers.CharField(source="tag_type.category")


def visible_tags(person, sensitive_codes):
    """The person's tags this user may see (the list was prefetched; sensitive ones need VIEW_SENSITIVE)."""
    return [tag for tag in person.tags.all()
            if not tag.tag_type.sensitive or code_in_scope(person.grid_code, sensitive_codes)]


class PersonSerializer(serializers.ModelSerializer):
    """A person as lists show them: masked numbers, derived gender and birth date, the tags the user may see."""

    id_number = serializers.CharField(source="id_number_masked", read_only=True,
                                      help_text=_("Masked; POST …/reveal/ for the full value (audited)."))
    phone = serializers.CharField(source="phone_masked", read_only=True, help_text=_("Masked."))
    gender = serializers.CharField(read_only=True, help_text=_("male, female, or empty without an ID number."))
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = [*LOCATED, "name", "id_number", "gender", "birth_date", "phone", "residence_type",
                  "household_status", "status", "status_date", "party_member", "house", "household",
                  "relation_to_head", "tags"]
        read_only_fields = fields

    @extend_schema_field(PersonTagBriefSerializer(many=True))
    def get_tags(self, person):
        return PersonTagBriefSerializer(visible_tags(person, self.context.get("sensitive_codes", ())),
                                        many=True).data


class PersonDetailSerializer(PersonSerializer):
    class Meta(PersonSerializer.Meta):
        fields = [*PersonSerializer.Meta.fields, "ethnicity", "hukou_place", "work_unit", "inflow_date",
                  "inflow_reason", "origin", "residence_permit"]
        read_only_fields = fields


class PersonWriteSerializer(serializers.Serializer):
    """Plain ID and phone numbers go in; they are validated, encrypted and masked by the service, never echoed."""

    name = serializers.CharField(max_length=50, required=False)
    id_number = serializers.CharField(max_length=30, required=False, write_only=True,
                                      help_text=_("18 characters (15-digit numbers are upgraded)."))
    phone = serializers.CharField(max_length=30, required=False, write_only=True)
    ethnicity = serializers.CharField(max_length=20, required=False, allow_blank=True)
    hukou_place = serializers.CharField(max_length=200, required=False, allow_blank=True)
    residence_type = serializers.ChoiceField(choices=ResidenceType.choices, required=False)
    household_status = serializers.ChoiceField(choices=HouseholdStatus.choices, required=False)
    relation_to_head = serializers.CharField(max_length=20, required=False, allow_blank=True)
    work_unit = serializers.CharField(max_length=100, required=False, allow_blank=True)
    party_member = serializers.BooleanField(required=False)
    status = serializers.ChoiceField(choices=PersonStatus.choices, required=False)
    status_date = serializers.DateField(required=False, allow_null=True)
    inflow_date = serializers.DateField(required=False, allow_null=True)
    inflow_reason = serializers.CharField(max_length=100, required=False, allow_blank=True)
    origin = serializers.CharField(max_length=100, required=False, allow_blank=True)
    residence_permit = serializers.CharField(max_length=50, required=False, allow_blank=True)
    house = serializers.IntegerField(required=False, allow_null=True)
    household = serializers.IntegerField(required=False, allow_null=True)
    grid_code = serializers.CharField(max_length=15, required=False,
                                      help_text=_("The grid, when the person has no house or household."))


class PersonCreateSerializer(PersonWriteSerializer):
    name = serializers.CharField(max_length=50)


class PersonSearchSerializer(serializers.Serializer):
    id_number = serializers.CharField(max_length=30, required=False, allow_blank=True, write_only=True)
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True, write_only=True)
    area = serializers.CharField(max_length=15, required=False, allow_blank=True)
    name = serializers.CharField(max_length=50, required=False, allow_blank=True)

    def validate(self, attrs):
        if not (attrs.get("id_number") or attrs.get("phone")):
            raise serializers.ValidationError({"id_number": [_("Give an ID number or a phone number.")]})
        return attrs


class PersonSearchResultSerializer(serializers.Serializer):
    results = PersonSerializer(many=True)


class RevealSerializer(serializers.Serializer):
    field = serializers.ChoiceField(choices=[("id_number", "id_number"), ("phone", "phone"),
                                             ("safety_phone", "safety_phone")])
    reason = serializers.CharField(max_length=200, help_text=_("Why the full value is needed (kept in the audit)."))


class RevealResultSerializer(serializers.Serializer):
    field = serializers.CharField()
    value = serializers.CharField()


class HouseholdMemberSerializer(serializers.ModelSerializer):
    id_number = serializers.CharField(source="id_number_masked", read_only=True)
    gender = serializers.CharField(read_only=True)

    class Meta:
        model = Person
        fields = ["id", "name", "id_number", "gender", "birth_date", "relation_to_head", "status"]
        read_only_fields = fields


class HouseholdSerializer(serializers.ModelSerializer):
    members = HouseholdMemberSerializer(many=True, read_only=True)

    class Meta:
        model = Household
        fields = [*LOCATED, "number", "house", "head", "members"]
        read_only_fields = fields


class HouseholdWriteSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=30)
    house = serializers.IntegerField(required=False, allow_null=True)
    grid_code = serializers.CharField(max_length=15, required=False,
                                      help_text=_("The grid, when the household has no house."))


class HouseholdUpdateSerializer(HouseholdWriteSerializer):
    head = serializers.IntegerField(required=False, help_text=_("A member of the household."))


class PersonTagSerializer(serializers.ModelSerializer):
    tag = serializers.CharField(source="tag_type.slug", read_only=True)

    class Meta:
        model = PersonTag
        fields = [*LOCATED, "person", "tag", "data", "valid_from", "valid_to"]
        read_only_fields = fields


class PersonTagWriteSerializer(serializers.Serializer):
    person = serializers.IntegerField()
    tag = serializers.SlugField(help_text=_("The tag type's slug."))
    data = serializers.JSONField(required=False, default=dict)
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_to = serializers.DateField(required=False, allow_null=True)


# Organizations ----------------------------------------------------------------------------------------------------

@extend_schema_field({"type": "string", "pattern": "^(" + "|".join(OrganizationKind.values) + ")$",
                      "description": ", ".join(OrganizationKind.values)})
class OrganizationKindField(serializers.ChoiceField):
    """A pattern, not an enum, in the schema: spectacular names enums by field name, and "kind" is the areas'."""

    def __init__(self, **kwargs):
        super().__init__(choices=OrganizationKind.choices, **kwargs)


class OrganizationSerializer(serializers.ModelSerializer):
    location = GeometryField(read_only=True)
    kind = OrganizationKindField(read_only=True)
    safety_phone = serializers.CharField(source="safety_phone_masked", read_only=True, help_text=_("Masked."))

    class Meta:
        model = Organization
        fields = [*LOCATED, "name", "kind", "uscc", "legal_representative", "address", "location", "employees",
                  "safety_contact", "safety_phone", "key_place_kinds", "building"]
        read_only_fields = fields


class OrganizationWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = OrganizationKindField()
    uscc = serializers.CharField(max_length=30, required=False, allow_blank=True)
    legal_representative = serializers.CharField(max_length=50, required=False, allow_blank=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    location = serializers.JSONField(help_text=_("GeoJSON Point, WGS84; decides the grid."))
    employees = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    safety_contact = serializers.CharField(max_length=50, required=False, allow_blank=True)
    safety_phone = serializers.CharField(max_length=30, required=False, allow_blank=True, write_only=True)
    key_place_kinds = serializers.ListField(child=serializers.ChoiceField(choices=KEY_PLACE_KINDS), required=False)


class PartyOrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = PartyOrganization
        fields = [*LOCATED, "name", "kind", "parent", "organization", "served_grid_codes", "members"]
        read_only_fields = fields


# Stats ------------------------------------------------------------------------------------------------------------

class StatsQuerySerializer(serializers.Serializer):
    area = serializers.RegexField(r"^\d{6}(\d{3})?(\d{3})?(\d{3})?$", required=False,
                                  help_text=_("Any area code; default: everything in your scope."))
    by = serializers.ChoiceField(choices=[("grid", "grid"), ("community", "community"),
                                          ("subdistrict", "subdistrict")], default="community")


class StatsRowSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    persons = serializers.IntegerField()
    households = serializers.IntegerField()
    flowing = serializers.IntegerField()
    buildings = serializers.IntegerField()
    organizations = serializers.IntegerField()
    tags = serializers.DictField(child=serializers.IntegerField())


class StatsSerializer(serializers.Serializer):
    area = serializers.CharField(allow_null=True)
    by = serializers.CharField()
    results = StatsRowSerializer(many=True)


class PersonMergeSerializer(serializers.Serializer):
    duplicate = serializers.IntegerField(help_text=_("The id of the record to merge into this one."))


class DuplicateGroupsSerializer(serializers.Serializer):
    results = serializers.ListField(child=PersonSerializer(many=True))
