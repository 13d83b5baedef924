"""Filters of the work-team API: area prefix, kind, and "active on a date"."""

import datetime

import django_filters
from django.utils.translation import gettext_lazy as _

from wangge.core.errors import DomainError

from .models import Department, DepartmentKind, DepartmentMembership, GridPost, PostKind, VolunteerAssignment


def _prefix(queryset, field, value, name="area"):
    value = (value or "").strip()
    if not value:
        return queryset
    if not value.isdigit() or len(value) > 15:
        raise DomainError(_("An area code has up to 15 digits."), field=name)
    return queryset.filter(**{f"{field}__startswith": value})


def _active_on(queryset, value):
    try:
        day = datetime.date.fromisoformat(str(value))
    except ValueError as exc:
        raise DomainError(_("Not a date (YYYY-MM-DD)."), field="active_on") from exc
    return queryset.active_on(day)


class ActiveOnMixin(django_filters.FilterSet):
    active_on = django_filters.CharFilter(method="filter_active_on", label=_("active on (YYYY-MM-DD)"))

    def filter_active_on(self, queryset, name, value):
        return _active_on(queryset, value) if value else queryset


class DepartmentFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=DepartmentKind.choices)
    open = django_filters.BooleanFilter(field_name="closed_on", lookup_expr="isnull", label=_("not closed"))

    class Meta:
        model = Department
        fields = ["kind", "open", "code"]


class MembershipFilter(ActiveOnMixin):
    class Meta:
        model = DepartmentMembership
        fields = ["department", "user", "role", "active_on"]


class GridPostFilter(ActiveOnMixin):
    area = django_filters.CharFilter(method="filter_area", label=_("area code prefix (any level)"))
    kind = django_filters.MultipleChoiceFilter(choices=PostKind.choices)

    class Meta:
        model = GridPost
        fields = ["area", "grid_code", "kind", "holder_person", "holder_user", "active_on"]

    def filter_area(self, queryset, name, value):
        return _prefix(queryset, "grid_code", value)


class VolunteerFilter(ActiveOnMixin):
    area = django_filters.CharFilter(method="filter_area", label=_("area code prefix (any level)"))

    class Meta:
        model = VolunteerAssignment
        fields = ["area", "grid_code", "department", "person", "active_on"]

    def filter_area(self, queryset, name, value):
        return _prefix(queryset, "grid_code", value)
