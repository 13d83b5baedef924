from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import ApiKey, AreaAssignment, Role, User


class AreaAssignmentInline(admin.TabularInline):
    model = AreaAssignment
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = [AreaAssignmentInline]
    list_display = ["username", "display_name", "is_active", "locked_until", "last_login"]
    fieldsets = [*DjangoUserAdmin.fieldsets, ("Wangge", {"fields": ["display_name", "locked_until"]})]


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["slug", "name"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created through the API (the secret is shown once); here they can be seen and revoked."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False
