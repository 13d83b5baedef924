"""Filters shared by the registry API and the person list page.

Personal numbers are found by exact value only, through their blind index: the filter cleans the value, hashes it
and compares hashes. Nothing is ever matched with LIKE on a personal number, and nothing is decrypted to search.
"""

import django_filters
from django.utils.translation import gettext_lazy as _

from wangge.accounts.roles import VIEW_SENSITIVE
from wangge.core import pii
from wangge.core.errors import DomainError
from wangge.core.scope import EVERYWHERE, scope_codes

from . import identity
from .models import (
    KEY_PLACE_KINDS,
    Building,
    Courtyard,
    House,
    Household,
    Organization,
    OrganizationKind,
    PartyOrganization,
    PersonStatus,
    PersonTag,
    ResidenceType,
    TagType,
)
from .models import Person as PersonModel


def _area_prefix(queryset, name, value):
    """`area=<code>`: any level's code (district … grid) selects its subtree, since codes are prefixes."""
    value = (value or "").strip()
    if not value:
        return queryset
    if not value.isdigit() or len(value) > 15:
        raise DomainError(_("An area code has up to 15 digits."), field="area")
    return queryset.filter(grid_code__startswith=value)


class AreaFilterSet(django_filters.FilterSet):
    area = django_filters.CharFilter(method="filter_area", label=_("area code (any level)"))
    grid_code = django_filters.CharFilter(field_name="grid_code", label=_("grid code"))

    def filter_area(self, queryset, name, value):
        return _area_prefix(queryset, name, value)


class CourtyardFilter(AreaFilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="startswith", label=_("name starts with"))

    class Meta:
        model = Courtyard
        fields = ["area", "grid_code", "name"]


class BuildingFilter(AreaFilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="startswith", label=_("name starts with"))

    class Meta:
        model = Building
        fields = ["area", "grid_code", "name", "number", "courtyard", "use"]


class HouseFilter(AreaFilterSet):
    class Meta:
        model = House
        fields = ["area", "grid_code", "building", "rented", "use"]


class HouseholdFilter(AreaFilterSet):
    class Meta:
        model = Household
        fields = ["area", "grid_code", "house", "number"]


class PersonFilter(AreaFilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="startswith", label=_("name starts with"))
    residence_type = django_filters.ChoiceFilter(choices=ResidenceType.choices, label=_("residence type"))
    status = django_filters.ChoiceFilter(choices=PersonStatus.choices, label=_("status"))
    party_member = django_filters.BooleanFilter(label=_("party member"))
    tag = django_filters.CharFilter(method="filter_tag", label=_("tag (slug)"))
    building = django_filters.NumberFilter(field_name="house__building", label=_("building"))
    household = django_filters.NumberFilter(field_name="household", label=_("household"))
    house = django_filters.NumberFilter(field_name="house", label=_("house"))
    id_number = django_filters.CharFilter(method="filter_id_number", label=_("ID number (exact)"))
    phone = django_filters.CharFilter(method="filter_phone", label=_("phone (exact)"))

    class Meta:
        model = PersonModel
        fields = ["area", "grid_code", "name", "residence_type", "status", "party_member", "tag", "building",
                  "household", "house", "id_number", "phone"]

    def filter_tag(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        tag_type = TagType.objects.filter(slug=value).first()
        if tag_type is None:
            return queryset.none()
        tagged = PersonTag.objects.filter(tag_type=tag_type)
        if tag_type.sensitive:
            # Filtering by a sensitive tag would disclose it: only where the user may see such tags.
            codes = scope_codes(getattr(self.request, "user", None), VIEW_SENSITIVE)
            if not codes:
                return queryset.none()
            if codes is not EVERYWHERE:
                tagged = tagged.filter(PersonTag.scope_q(codes))
        return queryset.filter(pk__in=tagged.values("person_id"))

    def filter_id_number(self, queryset, name, value):
        if not (value or "").strip():
            return queryset
        clean = identity.clean_id_number(value)
        return queryset.filter(id_number_index=pii.blind_index(clean, purpose=pii.ID_NUMBER))

    def filter_phone(self, queryset, name, value):
        if not (value or "").strip():
            return queryset
        clean = identity.clean_phone(value)
        return queryset.filter(phone_index=pii.blind_index(clean, purpose=pii.PHONE))


class PersonTagFilter(AreaFilterSet):
    tag = django_filters.CharFilter(field_name="tag_type__slug", label=_("tag (slug)"))

    class Meta:
        model = PersonTag
        fields = ["area", "grid_code", "person", "tag"]


class OrganizationFilter(AreaFilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="startswith", label=_("name starts with"))
    kind = django_filters.ChoiceFilter(choices=OrganizationKind.choices, label=_("kind"))
    key_place = django_filters.ChoiceFilter(choices=KEY_PLACE_KINDS, method="filter_key_place",
                                            label=_("key place kind"))
    uscc = django_filters.CharFilter(method="filter_uscc", label=_("unified social credit code (exact)"))

    class Meta:
        model = Organization
        fields = ["area", "grid_code", "name", "kind", "key_place", "uscc", "building"]

    def filter_key_place(self, queryset, name, value):
        return queryset.filter(key_place_kinds__contains=[value]) if value else queryset

    def filter_uscc(self, queryset, name, value):
        if not (value or "").strip():
            return queryset
        return queryset.filter(uscc=identity.clean_uscc(value))


class PartyOrganizationFilter(AreaFilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="startswith", label=_("name starts with"))
    serves = django_filters.CharFilter(field_name="served_grid_codes", method="filter_serves",
                                       label=_("serves this grid"))

    class Meta:
        model = PartyOrganization
        fields = ["area", "grid_code", "name", "kind", "organization", "serves"]

    def filter_serves(self, queryset, name, value):
        return queryset.filter(served_grid_codes__contains=[value]) if value else queryset
