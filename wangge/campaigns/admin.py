"""Admin lists of screening campaigns for support staff: read-only, because every change has rules that live in the
services (scope, states, the ledger, the audit). The one exception is a form's titles, which carry no rule. Visits'
answers are sealed and never shown here; nor are proposals' or pushed rows' personal numbers."""

from django.contrib import admin

from wangge.core.admin import ReadOnlyAdmin

from .models import (
    AnswerReveal,
    Campaign,
    CampaignRound,
    CampaignWorker,
    CoverageCount,
    FlagRule,
    Form,
    FormVersion,
    Visit,
)


@admin.register(Form)
class FormAdmin(admin.ModelAdmin):
    """A form's titles may be corrected here; its content changes only by a new version (XLSForm upload/API)."""

    list_display = ["code", "title", "title_en", "created_at"]
    search_fields = ["code", "title", "title_en"]
    fields = ["code", "title", "title_en"]
    readonly_fields = ["code"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(FormVersion)
class FormVersionAdmin(ReadOnlyAdmin):
    list_display = ["form", "number", "created_by", "created_at"]
    list_filter = ["form"]
    list_select_related = ["form", "created_by"]
    exclude = ["xlsform"]


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ["name", "area_code", "state", "current_round", "starts_on", "ends_on", "purge_due_on"]
    list_filter = ["state", "target_kind"]
    search_fields = ["name", "area_code"]


@admin.register(CampaignRound)
class CampaignRoundAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "number", "reason", "deadline", "started_at", "started_by"]
    list_select_related = ["campaign", "started_by"]


@admin.register(CampaignWorker)
class CampaignWorkerAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "grid_code", "user", "role"]
    list_filter = ["role"]
    search_fields = ["grid_code", "user__username"]
    list_select_related = ["campaign", "user"]


@admin.register(FlagRule)
class FlagRuleAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "code", "label", "field", "operator", "category", "urgency", "active"]
    list_select_related = ["campaign", "category"]


@admin.register(Visit)
class VisitAdmin(ReadOnlyAdmin):
    """Visits by result, time and grid; the sealed answers and the GPS point are left out."""

    list_display = ["id", "campaign", "round", "grid_code", "household", "status", "worker", "visited_at",
                    "inside_grid", "members", "source"]
    list_filter = ["status", "source", "round"]
    search_fields = ["grid_code", "instance_id"]
    list_select_related = ["campaign", "household", "worker"]
    fields = ["campaign", "round", "household", "pushed_row", "grid_code", "status", "revisit_at", "worker",
              "visited_at", "inside_grid", "form_version", "members", "flags", "stats", "instance_id", "source",
              "created_at"]


@admin.register(CoverageCount)
class CoverageCountAdmin(ReadOnlyAdmin):
    """The ledger's rows (counts only, no personal data)."""

    list_display = ["campaign", "round", "grid_code", "registered", "visited", "absent", "refused", "moved_out",
                    "revisit", "members", "flagged_members"]
    search_fields = ["grid_code"]
    list_select_related = ["campaign"]


@admin.register(AnswerReveal)
class AnswerRevealAdmin(ReadOnlyAdmin):
    """Who read which visit's answers, when and why (the audit users cannot change)."""

    list_display = ["at", "user", "visit", "pushed_row", "reason", "request_id"]
    search_fields = ["user__username", "reason", "request_id"]
    list_select_related = ["user"]
    date_hierarchy = "at"
