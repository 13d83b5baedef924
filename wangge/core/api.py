"""Base API views: every scoped read goes through Model.objects.restrict(user, action)."""

import pghistory
from rest_framework import viewsets


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
