"""Work-team serializers. Reads show holders' names and masked phones only; writes take plain input that the
services validate and place."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import (
    Department,
    DepartmentKind,
    DepartmentMembership,
    GridPost,
    MembershipRole,
    PostKind,
    VolunteerAssignment,
)


# Patterns, not enums: "kind" names other choice sets elsewhere in the API, and enum components would collide.
@extend_schema_field({"type": "string", "pattern": "^(" + "|".join(DepartmentKind.values) + ")$",
                      "description": ", ".join(DepartmentKind.values)})
class DepartmentKindField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=DepartmentKind.choices, **kwargs)


@extend_schema_field({"type": "string", "pattern": "^(" + "|".join(PostKind.values) + ")$",
                      "description": ", ".join(PostKind.values)})
class PostKindField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=PostKind.choices, **kwargs)


class DepartmentSerializer(serializers.ModelSerializer):
    kind = DepartmentKindField(read_only=True)

    class Meta:
        model = Department
        fields = ["id", "name", "code", "kind", "area_code", "contact", "closed_on", "created_at", "updated_at"]
        read_only_fields = fields


class DepartmentWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    code = serializers.CharField(max_length=30)
    kind = DepartmentKindField(default=DepartmentKind.FUNCTIONAL)
    area_code = serializers.CharField(max_length=15)
    contact = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class CloseSerializer(serializers.Serializer):
    closed_on = serializers.DateField(required=False, allow_null=True, default=None)


class MembershipSerializer(serializers.ModelSerializer):
    user_name = serializers.SerializerMethodField()
    department_name = serializers.CharField(source="department.name", read_only=True)

    class Meta:
        model = DepartmentMembership
        fields = ["id", "department", "department_name", "user", "user_name", "role", "active_from", "active_to",
                  "created_at"]
        read_only_fields = fields

    def get_user_name(self, membership) -> str:
        return str(membership.user)


class MembershipWriteSerializer(serializers.Serializer):
    department = serializers.IntegerField()
    user = serializers.IntegerField()
    role = serializers.ChoiceField(choices=MembershipRole.choices, default=MembershipRole.HANDLER)
    active_from = serializers.DateField(required=False, allow_null=True, default=None)


class EndMembershipSerializer(serializers.Serializer):
    active_to = serializers.DateField(required=False, allow_null=True, default=None)


class GridPostSerializer(serializers.ModelSerializer):
    kind = PostKindField(read_only=True)
    phone = serializers.SerializerMethodField(help_text="The holder's phone, masked (from the registry).")

    class Meta:
        model = GridPost
        fields = ["id", "kind", "grid_code", "holder_person", "holder_user", "holder_name", "phone", "project",
                  "started_on", "ended_on", "end_reason", "created_at", "updated_at"]
        read_only_fields = fields

    def get_phone(self, post) -> str:
        return post.holder_person.phone_masked if post.holder_person_id else ""


class GridPostWriteSerializer(serializers.Serializer):
    kind = PostKindField()
    grid_code = serializers.CharField(max_length=15)
    holder_person = serializers.IntegerField(required=False, allow_null=True, default=None)
    holder_user = serializers.IntegerField(required=False, allow_null=True, default=None)
    holder_name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    project = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    started_on = serializers.DateField(required=False, allow_null=True, default=None)


class EndPostSerializer(serializers.Serializer):
    ended_on = serializers.DateField(required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class VolunteerSerializer(serializers.ModelSerializer):
    department_name = serializers.CharField(source="department.name", read_only=True)

    class Meta:
        model = VolunteerAssignment
        fields = ["id", "department", "department_name", "grid_code", "person", "user", "name", "team",
                  "started_on", "ended_on", "created_at", "updated_at"]
        read_only_fields = fields


class VolunteerWriteSerializer(serializers.Serializer):
    department = serializers.IntegerField()
    grid_code = serializers.CharField(max_length=15)
    person = serializers.IntegerField(required=False, allow_null=True, default=None)
    user = serializers.IntegerField(required=False, allow_null=True, default=None)
    name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    team = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    started_on = serializers.DateField(required=False, allow_null=True, default=None)
    ended_on = serializers.DateField(required=False, allow_null=True, default=None)


class EndVolunteerSerializer(serializers.Serializer):
    ended_on = serializers.DateField(required=False, allow_null=True, default=None)


# Coverage and roster ---------------------------------------------------------------------------------------------

class WorkforceAreaRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.CharField()


class WorkforceCountsSerializer(serializers.Serializer):
    grids = serializers.IntegerField()
    covered = serializers.IntegerField(help_text="Grids with a chief and at least one worker.")
    without_chief = serializers.IntegerField()
    without_worker = serializers.IntegerField()
    chiefs = serializers.IntegerField()
    workers = serializers.IntegerField()


class WorkforceCommunityCountsSerializer(WorkforceCountsSerializer):
    code = serializers.CharField()
    name = serializers.CharField()


class WorkforceGapSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    community = serializers.CharField()
    missing = serializers.ListField(child=serializers.ChoiceField(choices=["chief", "worker"]))


class WorkforceCoverageSerializer(serializers.Serializer):
    area = WorkforceAreaRefSerializer()
    date = serializers.DateField()
    totals = WorkforceCountsSerializer()
    communities = WorkforceCommunityCountsSerializer(many=True)
    gaps = WorkforceGapSerializer(many=True)


class WorkforceRosterPostSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = PostKindField()
    kind_label = serializers.CharField()
    grid_code = serializers.CharField()
    holder_name = serializers.CharField()
    phone = serializers.CharField(help_text="Masked.")
    project = serializers.CharField()
    started_on = serializers.DateField()


class WorkforceRosterGridSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    posts = WorkforceRosterPostSerializer(many=True)


class WorkforceRosterSerializer(serializers.Serializer):
    community = WorkforceAreaRefSerializer()
    date = serializers.DateField()
    area_posts = WorkforceRosterPostSerializer(
        many=True, help_text="Instructors and leaders of the community and above.")
    grids = WorkforceRosterGridSerializer(many=True)
