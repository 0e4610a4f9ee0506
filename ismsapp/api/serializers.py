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
    # Blank for users without one: a plain string (an "email" format would refuse the empty value).
    email = serializers.CharField(read_only=True, help_text="E-mail address, blank when none is known.")

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "is_active", "roles"]
        read_only_fields = fields

    def get_roles(self, user: User) -> list[str]:
        return [role.value for role in roles_of(user)]
