"""One error body for the whole API: {"error": {"code", "message", "fields"}}.

Bad input answers 400 with field-level messages; nothing internal (and no personal data) leaks into the body.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """A rule a service refuses to break. `field` names the input at fault when there is one.

    Answers 400, or 403 when the code is "forbidden" (the actor lacks the permission altogether; reaching
    something outside one's scope is a 404 instead, raised by the scope checks).
    """

    def __init__(self, message, *, field=None, code="invalid", details=None):
        super().__init__(message)
        self.status_code = 403 if code == "forbidden" else 400
        self.message = str(message)
        self.field = field
        self.code = code
        self.details = details
        # {field path: [message, …]}: one entry here; an error about many inputs at once (a form's answers)
        # fills in every problem, and the API answers them all.
        self.fields = {field: [self.message]} if field else {}


def _flatten(detail):
    if isinstance(detail, dict):
        return {str(key): _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [str(item) for item in detail]
        return [_flatten(item) for item in detail]
    return [str(detail)]


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        body = {"code": exc.code, "message": exc.message, "fields": {str(key): [str(message) for message in messages]
                                                                   for key, messages in exc.fields.items()}}
        if exc.details is not None:
            body["details"] = exc.details
        return Response({"error": body}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(fields)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field_errors": fields}
        body = {"code": "invalid", "message": _("The input is not valid."), "fields": fields}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = {
            "code": getattr(detail, "code", None) or exc.default_code,
            "message": str(detail),
            "fields": {},
        }
    response.data = {"error": body}
    if response.status_code >= 500:
        response.status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    return response
