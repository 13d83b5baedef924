from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Admin lists for support staff. Records with rules change through their services (which place them in grids,
    check scope and keep history); the admin can do none of that, so it only shows."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
