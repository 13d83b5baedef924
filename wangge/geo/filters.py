import django_filters
from django.db.models import Q

from .models import Area


class AreaFilter(django_filters.FilterSet):
    """Shared by the API and the map page's search."""

    code_prefix = django_filters.CharFilter(field_name="code", lookup_expr="startswith")
    q = django_filters.CharFilter(method="search", label="code or name")

    class Meta:
        model = Area
        fields = ["generation", "level", "code", "parent", "kind"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(code__startswith=value) | Q(name__icontains=value))
