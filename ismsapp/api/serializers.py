"""API representations of the platform's records."""

from __future__ import annotations

from rest_framework import serializers

from ismsapp.models import AuditEntry, User
from ismsapp.roles import roles_of


class AuditEntrySerializer(serializers.ModelSerializer):
    action = serializers.CharField(source="get_action_display")
    actor = serializers.CharField(source="actor_label")

    class Meta:
        model = AuditEntry
        fields = [
            "seq",
            "timestamp",
            "action",
            "actor",
            "remote_addr",
            "object_type",
            "object_pk",
            "object_repr",
            "changes",
            "additional_data",
            "prev_hash",
            "entry_hash",
        ]
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()
    permissions = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "roles", "permissions"]
        read_only_fields = fields

    def get_roles(self, user: User) -> list[str]:
        return [role.value for role in roles_of(user)]

    def get_permissions(self, user: User) -> list[str]:
        return sorted(user.get_all_permissions())


class UserSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "is_active", "roles"]
        read_only_fields = fields

    def get_roles(self, user: User) -> list[str]:
        return [role.value for role in roles_of(user)]
