"""Base API views: every scoped read goes through Model.objects.restrict(user, action)."""

import pghistory
from rest_framework import serializers, viewsets


class ChangeContextMixin:
    """Binds the authenticated user (session or API key) to the change-log context of this request."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.user and request.user.is_authenticated:
            pghistory.context(user=request.user.pk)


class ScopedReadOnlyViewSet(ChangeContextMixin, viewsets.ReadOnlyModelViewSet):
    """Lists and details only what the user's scope allows for `view_action`; everything else is a 404."""

    view_action: str = ""

    def get_queryset(self):
        return self.base_queryset().restrict(self.request.user, self.view_action)

    def base_queryset(self):
        return self.queryset.all()


class InputSerializer(serializers.Serializer):
    """A request body's serializer whose fields are built once per process and shared by every instance.

    DRF deep-copies each declared field for every serializer it makes: on a hot path (reporting events, ≥ 200 a
    second) that is most of the cost of validating a body. Sharing is sound for input only, and only for fields
    whose validation reads nothing from the serializer they belong to (no context, no instance — plain value fields):
    the shared fields are bound to a template made without data, which is their parent and root.
    """

    @property
    def fields(self):
        cls = type(self)
        shared = cls.__dict__.get("_shared_fields")
        if shared is None:  # two threads may both build them on first use; either result serves
            template = cls()
            shared = super(InputSerializer, template).fields
            cls._shared_fields = shared
        return shared
