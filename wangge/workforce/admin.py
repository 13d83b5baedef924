"""Read-only admin lists: the work team changes through the services (API), which check scope and keep history."""

from django.contrib import admin

from wangge.core.admin import ReadOnlyAdmin

from .models import Department, DepartmentMembership, GridPost, VolunteerAssignment


@admin.register(Department)
class DepartmentAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "kind", "area_code", "closed_on"]
    search_fields = ["code", "name"]


@admin.register(DepartmentMembership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["department", "user", "role", "active_from", "active_to"]


@admin.register(GridPost)
class GridPostAdmin(ReadOnlyAdmin):
    list_display = ["grid_code", "kind", "holder_name", "started_on", "ended_on"]
    list_filter = ["kind"]
    search_fields = ["grid_code"]
    raw_id_fields = ["holder_person", "holder_user"]


@admin.register(VolunteerAssignment)
class VolunteerAdmin(ReadOnlyAdmin):
    list_display = ["grid_code", "name", "department", "started_on", "ended_on"]
    search_fields = ["grid_code"]
    raw_id_fields = ["person", "user"]
