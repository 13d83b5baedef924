"""GET /api/v1/history/<app_label>/<model_name>/<pk>/: the change log of one object, under the rules of
wangge.core.history (scoped models through restrict(user, VIEW_HISTORY); others for user managers)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .api import ChangeContextMixin
from .history import history_of, object_for_history


class ChangeSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    label = serializers.ChoiceField(choices=["insert", "update", "delete"])
    changes = serializers.DictField(
        child=serializers.ListField(child=serializers.JSONField(allow_null=True), min_length=2, max_length=2),
        help_text=_("field → [before, after]; long values (geometries) are summarised."))
    user = serializers.IntegerField(allow_null=True, help_text=_("Who made the change (user id), if anybody."))
    user_name = serializers.CharField(allow_null=True)
    username = serializers.CharField(allow_null=True)
    request_id = serializers.CharField(allow_null=True, help_text=_("The X-Request-ID of the request."))
    url = serializers.CharField(allow_null=True)
    command = serializers.CharField(allow_null=True, help_text=_("The management command, when not a request."))
    job = serializers.CharField(allow_null=True, help_text=_("The background job, when not a request."))


class ObjectSerializer(serializers.Serializer):
    app_label = serializers.CharField()
    model = serializers.CharField()
    pk = serializers.CharField()
    label = serializers.CharField()
    exists = serializers.BooleanField()


class HistorySerializer(serializers.Serializer):
    object = ObjectSerializer()
    results = ChangeSerializer(many=True)


def describe(obj):
    exists = obj._state.adding is False
    return {"app_label": obj._meta.app_label, "model": obj._meta.model_name, "pk": str(obj.pk),
            "label": str(obj) if exists else f"{obj._meta.verbose_name} #{obj.pk}", "exists": exists}


class HistoryView(ChangeContextMixin, APIView):
    """Every recorded insert, update and delete of one object — bulk and raw-SQL changes included — with when,
    who, the request id and before → after. 404 for anything you may not read, exactly as for what does not exist."""

    @extend_schema(responses={200: HistorySerializer}, operation_id="history_retrieve")
    def get(self, request, app_label, model_name, pk):
        obj = object_for_history(request.user, app_label, model_name, pk)
        return Response({"object": describe(obj), "results": history_of(obj)})


urlpatterns = [
    path("<str:app_label>/<str:model_name>/<str:pk>/", HistoryView.as_view(), name="history-api"),
]
