"""The category tree (read-only here; administrators edit it, and the ownership table, in the admin)."""

from rest_framework import mixins, viewsets

from ..models import Category
from .events import EventCategorySerializer


class CategoryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Active categories, classes and subclasses; events are reported against subclasses (parent is set)."""

    serializer_class = EventCategorySerializer
    pagination_class = None

    def get_queryset(self):
        return Category.objects.filter(active=True).select_related("parent").order_by("kind", "code")
