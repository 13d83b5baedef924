"""Response shapes of the KPI API (for the OpenAPI schema; the views return the figures' dicts as they are)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..indicators import AVERAGES, COUNTERS, RATES


def _row_fields():
    fields = {
        "code": serializers.CharField(help_text=_("Area code; department code; or the grid worker's user id.")),
        "id": serializers.IntegerField(allow_null=True, help_text=_("Department id or user id; null for areas.")),
        "name": serializers.CharField(),
        "voided": serializers.IntegerField(help_text=_("Voided reports (reported − valid).")),
        "score": serializers.FloatField(allow_null=True, help_text=_("The scheme's weighted score.")),
        "rank": serializers.IntegerField(allow_null=True, help_text=_("1 = best; null without a score.")),
    }
    for counter in COUNTERS:
        fields[counter.name] = serializers.IntegerField(help_text=f"{counter.zh}: {counter.label}")
    for rate in RATES:
        fields[rate.name] = serializers.FloatField(
            allow_null=True, min_value=0, max_value=1,
            help_text=f"{rate.zh} = {rate.numerator} / {rate.denominator}; null when the denominator is 0")
    for average in AVERAGES:
        fields[average.name] = serializers.FloatField(allow_null=True, help_text=f"{average.zh}: {average.label}")
    return fields


KpiRowSerializer = type("KpiRowSerializer", (serializers.Serializer,), _row_fields())


class KpiSchemeRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    total = serializers.FloatField(help_text=_("The score's maximum (the sum of the weights)."))


class _PeriodSerializer(serializers.Serializer):
    level = serializers.CharField()
    period = serializers.CharField(help_text="YYYY-MM")
    period_to = serializers.CharField(help_text="YYYY-MM")
    area = serializers.CharField(allow_null=True)
    scheme = KpiSchemeRefSerializer(allow_null=True)


class KpiFiguresSerializer(_PeriodSerializer):
    rows = KpiRowSerializer(many=True)


class KpiRedBlackSerializer(_PeriodSerializer):
    min_reports = serializers.IntegerField(help_text=_("Rows with fewer valid reports are left off the lists."))
    red = KpiRowSerializer(many=True, help_text=_("红榜: the best five, best first."))
    black = KpiRowSerializer(many=True, help_text=_("黑榜: the worst five, worst first."))
