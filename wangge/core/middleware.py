"""Request context: a request id on every request, and the change log's context (who, which request)."""

import re
import uuid

import pghistory

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Gives each request an id (kept from X-Request-ID when well-formed) and binds the change-log context.

    Every row change made while the request runs is recorded by pghistory's triggers with this context,
    so the change log can say who changed what in which request, bulk updates included.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        with pghistory.context(request_id=request.request_id, user=user_id, url=request.path,
                               method=request.method):
            response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response
