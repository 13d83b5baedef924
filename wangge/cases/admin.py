from django.contrib import admin

from wangge.core.admin import ReadOnlyAdmin

from .models import CalendarDay, Category, Event, RoutingRule


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    """Single-day fixes. Whole years are loaded from the notice with `manage.py load_calendar` or the API, which
    check the year as a whole (make-up working days on weekends, no duplicates)."""

    list_display = ["date", "kind", "name", "year"]
    list_filter = ["year", "kind"]
    search_fields = ["name"]
    date_hierarchy = "date"


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    """The category tree with each category's limits, ownership rule, self-handling and skip-level rule."""

    list_display = ["code", "name", "kind", "parent", "ownership", "limit_unit", "limit_normal", "limit_urgent",
                    "limit_emergency", "red_factor", "self_handling", "skip_level_from", "active"]
    list_filter = ["kind", "ownership", "active", "self_handling"]
    search_fields = ["code", "name"]
    list_select_related = ["parent"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    """The ownership table: which department an event of a category in an area is routed to."""

    list_display = ["category", "area_code", "role", "department", "active"]
    list_filter = ["role", "active"]
    search_fields = ["category__code", "category__name", "area_code", "department__name"]
    list_select_related = ["category", "department"]
    autocomplete_fields = ["category"]


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """Read-only: events change only through the closed loop (the pages and the API)."""

    list_display = ["case_number", "category", "grid_code", "state", "urgency", "clock_level", "created_at"]
    list_filter = ["state", "urgency", "clock_level", "source"]
    search_fields = ["case_number"]
    list_select_related = ["category"]
