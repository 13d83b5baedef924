from django.contrib import admin

from . import services
from .models import KpiParameters, KpiScheme, KpiWeight


class KpiWeightInline(admin.TabularInline):
    model = KpiWeight
    extra = 1


@admin.register(KpiScheme)
class KpiSchemeAdmin(admin.ModelAdmin):
    """Weighted scores (考核方案): one weight per indicator, on the rate or on 1 − the rate. Scores are computed
    when read, so a change applies to every period at once."""

    list_display = ["name", "is_default", "min_reports", "updated_at"]
    inlines = [KpiWeightInline]


@admin.register(KpiParameters)
class KpiParametersAdmin(admin.ModelAdmin):
    """The accept limit and the repeat rule. Saving rebuilds the rollups (services.do_update_parameters), so past
    events are judged by the new rule too; the working hours and time zone follow the settings."""

    list_display = ["accept_limit_hours", "repeat_radius_m", "repeat_window_days", "working_hours", "time_zone",
                    "updated_at"]
    readonly_fields = ["working_hours", "time_zone", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.do_update_parameters(actor=request.user, accept_limit_hours=obj.accept_limit_hours,
                                      repeat_radius_m=obj.repeat_radius_m,
                                      repeat_window_days=obj.repeat_window_days)
