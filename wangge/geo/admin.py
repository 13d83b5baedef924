from django.contrib import admin

from .models import Area, Generation


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["id", "state", "description", "effective_from", "effective_to", "activated_at"]
    list_filter = ["state"]
    # State changes go through the services (validate, activate) via the API, never by editing the row.
    readonly_fields = ["state", "based_on", "created_at", "created_by", "validated_at", "validation_report",
                       "activated_at", "activation_report", "effective_from", "effective_to"]

    def has_delete_permission(self, request, obj=None):
        # Active and retired generations are history that lookups by date rely on; only drafts may go.
        return obj is None or obj.is_editable


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    """Read-only: boundaries change through drafts and their services. GeoDjango's map widget would load
    OpenLayers from a CDN, which an offline intranet cannot reach, so geometry is not shown here."""

    list_display = ["code", "name", "level", "kind", "generation", "area_m2"]
    list_filter = ["level", "kind", "generation__state"]
    search_fields = ["code", "name"]
    exclude = ["geom", "label_point"]
    readonly_fields = ["generation", "level", "code", "name", "parent", "kind", "dedicated_to", "household_target",
                       "population_target", "notes", "area_m2", "district_code"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
