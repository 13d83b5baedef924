from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField

from ..crs import CRS_CHOICES
from ..models import Area, Generation


class GenerationSerializer(serializers.ModelSerializer):
    area_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Generation
        fields = ["id", "state", "description", "based_on", "created_at", "validated_at", "activated_at",
                  "effective_from", "effective_to", "area_count"]
        read_only_fields = fields


class GenerationDetailSerializer(GenerationSerializer):
    class Meta(GenerationSerializer.Meta):
        fields = [*GenerationSerializer.Meta.fields, "validation_report", "activation_report"]
        read_only_fields = fields


class DraftCreateSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    based_on = serializers.PrimaryKeyRelatedField(queryset=Generation.objects.all(), required=False, allow_null=True,
                                                  help_text=_("Default: the active generation."))


class ActivateSerializer(serializers.Serializer):
    effective_from = serializers.DateField(required=False, help_text=_("Default: today."))


class AreaSerializer(serializers.ModelSerializer):
    parent_code = serializers.CharField(source="parent.code", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Area
        fields = ["id", "generation", "level", "code", "name", "parent", "parent_code", "kind", "dedicated_to",
                  "household_target", "population_target", "area_m2"]
        read_only_fields = fields


class AreaDetailSerializer(AreaSerializer):
    geom = GeometryField(read_only=True)
    label_point = GeometryField(read_only=True)

    class Meta(AreaSerializer.Meta):
        fields = [*AreaSerializer.Meta.fields, "notes", "geom", "label_point"]
        read_only_fields = fields


class AreaWriteSerializer(serializers.Serializer):
    """Fields an editor may set; the service checks the rules."""

    name = serializers.CharField(max_length=100, required=False)
    kind = serializers.ChoiceField(choices=Area.Kind.choices, required=False)
    dedicated_to = serializers.CharField(max_length=100, required=False, allow_blank=True)
    household_target = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    population_target = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    geom = serializers.JSONField(required=False, help_text=_("GeoJSON Polygon or MultiPolygon, WGS84."))


class AreaCreateSerializer(AreaWriteSerializer):
    code = serializers.CharField(max_length=15)
    name = serializers.CharField(max_length=100)
    geom = serializers.JSONField(help_text=_("GeoJSON Polygon or MultiPolygon, WGS84."))


class SplitSerializer(serializers.Serializer):
    parts = serializers.ListField(child=serializers.JSONField(), min_length=2,
                                  help_text=_("GeoJSON polygons that together cover the area exactly."))


class MergeSerializer(serializers.Serializer):
    areas = serializers.ListField(child=serializers.IntegerField(), min_length=2)


class LookupQuerySerializer(serializers.Serializer):
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    crs = serializers.ChoiceField(choices=CRS_CHOICES, default="wgs84")
    at = serializers.DateField(required=False, help_text=_("Answer with the boundaries in force on this date."))


class ChainLinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    level = serializers.CharField()
    code = serializers.CharField()
    name = serializers.CharField()


class LookupResultSerializer(serializers.Serializer):
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    crs = serializers.CharField()
    wgs84 = serializers.ListField(child=serializers.FloatField())
    generation = serializers.IntegerField(allow_null=True)
    chain = ChainLinkSerializer(many=True)
