from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..calendar import UNITS
from ..models import CalendarDay


class CalendarDaySerializer(serializers.ModelSerializer):
    class Meta:
        model = CalendarDay
        fields = ["date", "kind", "name"]


class CalendarYearSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    loaded = serializers.BooleanField(help_text=_("False when no day of the year is listed: its clocks follow the "
                                                  "weekly rule only until the year's notice is loaded."))
    working_hours = serializers.ListField(child=serializers.CharField(), help_text=_("Local spans, HH:MM-HH:MM."))
    days = CalendarDaySerializer(many=True)


class CalendarYearSummarySerializer(serializers.Serializer):
    year = serializers.IntegerField()
    holidays = serializers.IntegerField()
    makeup_workdays = serializers.IntegerField()


class CalendarReplaceSerializer(serializers.Serializer):
    """The request body of a replacement (documentation: the service validates the raw rows itself, so a CSV file
    and a JSON body get the same checks and the same field names in errors)."""

    days = CalendarDaySerializer(many=True)


class CalendarUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("CSV with the header date,kind,name (UTF-8 or GBK)."))


class DueQuerySerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text=_("ISO 8601; without an offset it is read as Asia/Shanghai time."))
    amount = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0, max_value=20000)
    unit = serializers.ChoiceField(choices=UNITS, default="hours")

    def validate(self, attrs):
        if attrs["unit"] == "days" and attrs["amount"] != int(attrs["amount"]):
            raise serializers.ValidationError({"amount": _("A limit in working days is a whole number.")})
        if attrs["unit"] == "days" and attrs["amount"] > 3650:
            raise serializers.ValidationError({"amount": _("At most 3650 working days.")})
        return attrs


class DueSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    amount = serializers.DecimalField(max_digits=8, decimal_places=2)
    unit = serializers.ChoiceField(choices=UNITS)
    due = serializers.DateTimeField()
    warning_at = serializers.DateTimeField(help_text=_("When the warning fires (at seven tenths of the limit by "
                                                       "default), if the clock is not paused."))
    working_hours = serializers.ListField(child=serializers.CharField())
    missing_years = serializers.ListField(
        child=serializers.IntegerField(),
        help_text=_("Years in the range with no calendar loaded (weekly rule only): load their notices."))
