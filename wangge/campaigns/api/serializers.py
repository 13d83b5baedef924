"""The campaigns API's shapes. Reads never carry a visit's answers or a person's full numbers: answers come only
from POST visits/{id}/reveal/ (audited), proposals show masked numbers."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..models import (
    Campaign,
    CampaignRound,
    CampaignState,
    CampaignWorker,
    FlagOperator,
    FlagRule,
    Form,
    FormVersion,
    PersonProposal,
    ProposalState,
    TargetKind,
    Visit,
    VisitSource,
    VisitStatus,
    WorkerRole,
)
from ..worklists import PENDING

# A household's standing in a worker's list: a visit's result, or pending (nobody has called in the round).
STANDING_CHOICES = [(PENDING, _("pending")), *VisitStatus.choices]


# ---- forms -----------------------------------------------------------------------------------------------------


class FormSerializer(serializers.ModelSerializer):
    latest_version = serializers.SerializerMethodField(help_text=_("The newest version's id (new campaigns' "
                                                                   "default), or null."))

    class Meta:
        model = Form
        fields = ["id", "code", "title", "title_en", "latest_version", "created_at"]
        read_only_fields = fields

    def get_latest_version(self, form) -> int | None:
        versions = sorted(form.versions.all(), key=lambda version: version.number)
        return versions[-1].pk if versions else None


class FormVersionSerializer(serializers.ModelSerializer):
    definition = serializers.JSONField(read_only=True, help_text=_(
        "The fields as data (campaigns/forms.py describes the shape)."))
    has_xlsform = serializers.SerializerMethodField()

    class Meta:
        model = FormVersion
        fields = ["id", "form", "number", "definition", "has_xlsform", "created_at"]
        read_only_fields = fields

    def get_has_xlsform(self, version) -> bool:
        return bool(version.xlsform)


# ---- campaigns -------------------------------------------------------------------------------------------------

class RoundSerializer(serializers.ModelSerializer):
    class Meta:
        model = CampaignRound
        fields = ["number", "reason", "deadline", "started_at"]
        read_only_fields = fields


class CampaignSerializer(serializers.ModelSerializer):
    state = serializers.ChoiceField(choices=CampaignState.choices, read_only=True)
    target_kind = serializers.ChoiceField(choices=TargetKind.choices, read_only=True)
    form_code = serializers.CharField(source="form_version.form.code", read_only=True)
    form_title = serializers.CharField(source="form_version.form.title", read_only=True)
    form_version_number = serializers.IntegerField(source="form_version.number", read_only=True)

    class Meta:
        model = Campaign
        fields = ["id", "name", "purpose", "legal_basis", "area_code", "target_kind", "target_codes", "form_version",
                  "form_code", "form_title", "form_version_number", "starts_on", "ends_on", "daily_deadline",
                  "retention_days", "state", "current_round", "started_at", "closed_at", "purge_due_on",
                  "purged_at", "created_at", "updated_at"]
        read_only_fields = fields


class CampaignDetailSerializer(CampaignSerializer):
    rounds = RoundSerializer(many=True, read_only=True)

    class Meta(CampaignSerializer.Meta):
        fields = [*CampaignSerializer.Meta.fields, "rounds"]
        read_only_fields = fields


class CampaignWriteSerializer(serializers.Serializer):
    """Creating a draft; on PATCH (a draft only) every field is optional and area_code cannot change."""

    name = serializers.CharField(max_length=200)
    purpose = serializers.CharField(help_text=_("Shown to every worker and on every page a resident sees."))
    legal_basis = serializers.CharField()
    area_code = serializers.CharField(max_length=15, help_text=_("The organising area (district or subdistrict)."))
    target_kind = serializers.ChoiceField(choices=TargetKind.choices, required=False, default=TargetKind.AREAS)
    target_codes = serializers.ListField(child=serializers.CharField(max_length=15), required=False,
                                         help_text=_("Target areas (any level) inside the organising area; "
                                                     "default: the organising area."))
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    form_version = serializers.IntegerField(required=False, allow_null=True,
                                            help_text=_("Default: the household basic-situation form's newest."))
    daily_deadline = serializers.TimeField(required=False, default="08:00")
    retention_days = serializers.IntegerField(required=False, default=30)


class RescreenSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text=_("Why a new round, e.g. risk areas changed."))
    deadline = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                         help_text=_("Results due (ISO 8601), e.g. tomorrow 08:00."))


class StartSerializer(serializers.Serializer):
    deadline = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                         help_text=_("The first round's results due (ISO 8601)."))


class WorkerSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=WorkerRole.choices, read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    name = serializers.SerializerMethodField(help_text=_("The worker's display name."))

    class Meta:
        model = CampaignWorker
        fields = ["id", "grid_code", "user", "username", "name", "role"]
        read_only_fields = fields

    def get_name(self, worker) -> str:
        return worker.user.get_full_name() or worker.user.username


class WorkerAssignSerializer(serializers.Serializer):
    grid_code = serializers.CharField(max_length=15)
    user = serializers.IntegerField(help_text=_("The user's id."))
    role = serializers.ChoiceField(choices=WorkerRole.choices, required=False, default=WorkerRole.GRID_WORKER)


class FlagRuleSerializer(serializers.ModelSerializer):
    operator = serializers.ChoiceField(choices=FlagOperator.choices, read_only=True)

    class Meta:
        model = FlagRule
        fields = ["id", "code", "label", "field", "operator", "value", "category", "urgency", "active"]
        read_only_fields = fields


class FlagRuleWriteSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=50)
    label = serializers.CharField(max_length=100)
    field = serializers.CharField(max_length=100, help_text=_("A field of the form (a member's, or top-level)."))
    operator = serializers.ChoiceField(choices=FlagOperator.choices)
    value = serializers.JSONField(help_text=_("The value compared (a list for in / selected)."))
    category = serializers.IntegerField(required=False, allow_null=True, default=None,
                                        help_text=_("An event subclass: a hit opens an event. Empty: flag only."))
    urgency = serializers.CharField(max_length=10, required=False, default="normal")


class HouseholdStandingSerializer(serializers.Serializer):
    """One row of a worker's list (worklists.worker_households)."""

    id = serializers.IntegerField(help_text=_("The household's id (what a visit names)."))
    number = serializers.CharField()
    grid_code = serializers.CharField()
    building_id = serializers.IntegerField(allow_null=True)
    building_number = serializers.CharField()
    building_name = serializers.CharField()
    address = serializers.CharField()
    unit = serializers.CharField()
    floor = serializers.IntegerField(allow_null=True)
    room = serializers.CharField()
    status = serializers.ChoiceField(choices=STANDING_CHOICES, help_text=_("pending: nobody has called in this round."))
    revisit_at = serializers.DateTimeField(allow_null=True)
    last_visit_id = serializers.IntegerField(allow_null=True)
    last_visited_at = serializers.DateTimeField(allow_null=True)
    members = serializers.IntegerField()
    flagged_members = serializers.IntegerField()


# ---- visits ----------------------------------------------------------------------------------------------------

class VisitSerializer(serializers.ModelSerializer):
    """A visit without its answers."""

    status = serializers.ChoiceField(choices=VisitStatus.choices, read_only=True)
    source = serializers.ChoiceField(choices=VisitSource.choices, read_only=True)
    household_number = serializers.CharField(source="household.number", read_only=True, allow_null=True)
    worker_username = serializers.CharField(source="worker.username", read_only=True)
    has_answers = serializers.SerializerMethodField(help_text=_(
        "Whether sealed answers are held (POST …/reveal/ to read them, audited)."))

    class Meta:
        model = Visit
        fields = ["id", "campaign", "round", "household", "household_number", "pushed_row", "grid_code", "status",
                  "revisit_at", "worker", "worker_username", "visited_at", "inside_grid", "form_version", "members",
                  "flags", "has_answers", "instance_id", "source", "created_at"]
        read_only_fields = fields

    def get_has_answers(self, visit) -> bool:
        return bool(visit.answers_enc)

    def to_representation(self, visit):
        """The fields above, read straight from the row: the visit endpoint's hot path (≥ 100 visits/s) skips
        building a ModelSerializer's fields per visit. The schema still comes from the declarations, and the API
        tests check every answer against it."""
        moment = _MOMENT.to_representation
        return {
            "id": visit.pk, "campaign": visit.campaign_id, "round": visit.round, "household": visit.household_id,
            "household_number": visit.household.number if visit.household_id else None,
            "pushed_row": visit.pushed_row_id, "grid_code": visit.grid_code, "status": visit.status,
            "revisit_at": moment(visit.revisit_at) if visit.revisit_at else None, "worker": visit.worker_id,
            "worker_username": visit.worker.username, "visited_at": moment(visit.visited_at),
            "inside_grid": visit.inside_grid, "form_version": visit.form_version_id, "members": visit.members,
            "flags": list(visit.flags), "has_answers": bool(visit.answers_enc), "instance_id": visit.instance_id,
            "source": visit.source, "created_at": moment(visit.created_at),
        }


_MOMENT = serializers.DateTimeField()


class VisitWriteSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    household = serializers.IntegerField()
    status = serializers.ChoiceField(choices=VisitStatus.choices)
    answers = serializers.JSONField(required=False, allow_null=True, default=None, help_text=_(
        "visited only: the form's answers, {\"members\": [{…}, …], …}."))
    location = serializers.JSONField(required=False, allow_null=True, default=None,
                                     help_text=_("GeoJSON Point, WGS84: where the worker stood."))
    visited_at = serializers.CharField(required=False, allow_blank=True, default="",
                                       help_text=_("ISO 8601; default now."))
    revisit_at = serializers.CharField(required=False, allow_blank=True, default="",
                                       help_text=_("revisit only: when (ISO 8601)."))
    instance_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="", help_text=_(
        "The client's id of this submission: sending it again returns the first visit and writes nothing."))


class AnswerRevealSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text=_("Why you read the answers (kept in the audit)."))


class AnswerRevealResultSerializer(serializers.Serializer):
    visit = serializers.IntegerField()
    answers = serializers.JSONField(help_text=_("The answers as given, shaped by the form version."))
    form_version = serializers.IntegerField(allow_null=True)


# ---- proposals -------------------------------------------------------------------------------------------------

class ProposalSerializer(serializers.ModelSerializer):
    state = serializers.ChoiceField(choices=ProposalState.choices, read_only=True)
    campaign = serializers.IntegerField(source="visit.campaign_id", read_only=True)
    id_number = serializers.CharField(source="id_number_masked", read_only=True, help_text=_("Masked."))
    phone = serializers.CharField(source="phone_masked", read_only=True, help_text=_("Masked."))

    class Meta:
        model = PersonProposal
        fields = ["id", "campaign", "visit", "household", "grid_code", "name", "id_number", "phone", "state",
                  "person", "reviewed_by", "reviewed_at", "review_note", "created_at"]
        read_only_fields = fields


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[("accept", _("accept into the registry")), ("reject", _("reject"))])
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                 help_text=_("Required when rejecting."))
