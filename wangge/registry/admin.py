"""Admin lists for support staff: read-only, masked numbers only. Records change through the services (API, UI,
imports), which place them in grids and check scope; the admin cannot do either, so it does not write."""

from django.contrib import admin

from wangge.core.admin import ReadOnlyAdmin

from .models import Building, Courtyard, House, Household, Organization, PartyOrganization, Person, RevealAudit, TagType


@admin.register(Courtyard)
class CourtyardAdmin(ReadOnlyAdmin):
    list_display = ["name", "grid_code", "address"]
    search_fields = ["name", "grid_code"]
    exclude = ["geom"]


@admin.register(Building)
class BuildingAdmin(ReadOnlyAdmin):
    list_display = ["grid_code", "number", "name", "use", "floors"]
    search_fields = ["grid_code", "name"]
    exclude = ["location", "footprint"]


@admin.register(House)
class HouseAdmin(ReadOnlyAdmin):
    list_display = ["building", "unit", "room", "use", "rented"]


@admin.register(Household)
class HouseholdAdmin(ReadOnlyAdmin):
    list_display = ["number", "grid_code", "house"]
    search_fields = ["number"]


@admin.register(Person)
class PersonAdmin(ReadOnlyAdmin):
    list_display = ["name", "id_number_masked", "phone_masked", "grid_code", "residence_type", "status"]
    list_filter = ["residence_type", "status"]
    exclude = ["id_number_enc", "id_number_index", "phone_enc", "phone_index"]


@admin.register(TagType)
class TagTypeAdmin(admin.ModelAdmin):
    """Tag types are configuration (data, not code): admins add them here with their field schema."""

    list_display = ["slug", "name", "category", "sensitive"]


@admin.register(Organization)
class OrganizationAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "uscc", "grid_code"]
    search_fields = ["name", "uscc"]
    exclude = ["location", "safety_phone_enc"]


@admin.register(PartyOrganization)
class PartyOrganizationAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "grid_code"]


@admin.register(RevealAudit)
class RevealAuditAdmin(ReadOnlyAdmin):
    list_display = ["at", "user", "field", "reason", "request_id"]
    list_filter = ["field"]
