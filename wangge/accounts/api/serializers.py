from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..models import ApiKey, AreaAssignment, Role, User


class RoleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Role
        fields = ["slug", "name", "actions"]
        read_only_fields = fields


class AssignmentSerializer(serializers.ModelSerializer):
    role = RoleSerializer(read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = AreaAssignment
        fields = ["id", "user", "username", "area_code", "role"]
        read_only_fields = fields


class AssignmentCreateSerializer(serializers.Serializer):
    user = serializers.IntegerField(help_text=_("The id of the user who gets the role."))
    area_code = serializers.CharField(max_length=15, help_text=_("6, 9, 12 or 15 digits; inside your own scope."))
    role = serializers.SlugField(help_text=_("The slug of the role, e.g. community_staff."))


class MeSerializer(serializers.ModelSerializer):
    assignments = AssignmentSerializer(many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "is_superuser", "assignments"]
        read_only_fields = fields


class UserSerializer(serializers.ModelSerializer):
    assignments = AssignmentSerializer(many=True, read_only=True)
    locked = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "is_active", "last_login", "locked", "locked_until",
                  "assignments"]
        read_only_fields = fields

    def get_locked(self, user) -> bool:
        return user.is_locked()


class ApiKeySerializer(serializers.ModelSerializer):
    """A key as it is listed: its prefix identifies it; the secret is never stored, so never shown again."""

    username = serializers.CharField(source="user.username", read_only=True)
    usable = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "user", "username", "created_at", "last_used_at", "expires_at",
                  "revoked_at", "usable"]
        read_only_fields = fields

    def get_usable(self, key) -> bool:
        return key.is_usable()


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text=_("The full key. Shown this once only: store it now."))

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    user = serializers.IntegerField(required=False, help_text=_("The (system) user the key acts as; default: you."))
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
