from django.contrib import admin

from .models import CalendarDay


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    """Single-day fixes. Whole years are loaded from the notice with `manage.py load_calendar` or the API, which
    check the year as a whole (make-up working days on weekends, no duplicates)."""

    list_display = ["date", "kind", "name", "year"]
    list_filter = ["year", "kind"]
    search_fields = ["name"]
    date_hierarchy = "date"
