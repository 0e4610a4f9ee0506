"""The API's OpenAPI schema documents the error answers every operation really gives, once.

drf-spectacular documents only the success response of an operation; DRF answers errors the same
way everywhere, so they are added here from what the operation has (``DEFAULT_SCHEMA_CLASS``),
instead of decorating every view. A view documents any other code itself (e.g. 409, 413).
The schema-driven fuzz test (``tests/test_api_fuzz.py``) holds every answer to this schema.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    """DRF's answer to a refused or failed request: ``{"detail": "..."}``."""

    detail = serializers.CharField()


# Field errors ({"field": ["message"], "non_field_errors": [...]}) or a list of messages.
VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "object", "additionalProperties": {}},
        {"type": "array", "items": {"type": "string"}},
    ]
}

ERRORS: dict[str, OpenApiResponse] = {
    "400": OpenApiResponse(VALIDATION_ERROR_SCHEMA, description="Invalid input: the fields at fault and why."),
    "401": OpenApiResponse(ErrorSerializer, description="No valid credentials (a token or a session)."),
    "403": OpenApiResponse(ErrorSerializer, description="Not allowed for this user (or a CSRF failure)."),
    "404": OpenApiResponse(
        ErrorSerializer, description="Not found or not visible to this user (the two are indistinguishable)."
    ),
    "415": OpenApiResponse(ErrorSerializer, description="Unsupported request media type."),
    "429": OpenApiResponse(ErrorSerializer, description="Too many requests; retry later."),
}


class IsmsAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the error responses the operation can give."""

    def error_codes(self, operation: dict[str, Any]) -> list[str]:
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation
        codes = []
        if has_body or any(parameter["in"] == "query" for parameter in parameters):
            codes.append("400")
        guarded = self.view.get_authenticators() or not all(
            isinstance(permission, AllowAny) for permission in self.view.get_permissions()
        )
        if guarded:  # a bad credential is refused even where anonymous access is allowed
            codes += ["401", "403"]
        paginated = self._is_list_view() and self._get_paginator() is not None  # a page out of range
        if paginated or any(parameter["in"] == "path" for parameter in parameters):
            codes.append("404")
        if has_body:
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
        return codes

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self.error_codes(operation):
            if code not in responses:
                responses[code] = self._get_response_for_code(ERRORS[code], code)
        return operation
