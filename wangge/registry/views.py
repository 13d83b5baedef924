"""Registry pages: the person list (filters, 50 rows, masked numbers) and a person's page with an audited reveal.

The same filters, scopes and masking as the API: lists read only the *_masked columns; a full number is shown once,
in the answer to a POST that gave a reason, and each such answer writes an audit row.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from wangge.accounts.roles import REVEAL_PII, VIEW_PERSON, VIEW_SENSITIVE
from wangge.core.errors import DomainError
from wangge.core.scope import code_in_scope, scope_codes

from . import services
from .api.serializers import visible_tags
from .filters import PersonFilter
from .models import Person, PersonTag

PAGE_SIZE = 50


def _persons(user):
    if not scope_codes(user, VIEW_PERSON):
        raise Http404  # leaders see counts, never persons
    return Person.objects.restrict(user, VIEW_PERSON)


# Searched by POST only, so a full number never sits in a URL (access logs, browser history, Referer).
PII_FILTERS = ("id_number", "phone")


@require_http_methods(["GET", "POST"])
@login_required
def person_list(request):
    """Keyset pages (`after=<id>`): no count and no offset, so the 50 rows cost the same on page 1 and page 500.
    A search by ID or phone number comes as a POST and shows its (few) matches without further pages."""
    queryset = _persons(request.user).only(
        "id", "name", "grid_code", "id_number_masked", "phone_masked", "gender", "birth_date", "residence_type",
        "status", "party_member")
    params = request.GET.copy()
    for name in PII_FILTERS:
        params.pop(name, None)
    if request.method == "POST":
        for name in PII_FILTERS:
            if request.POST.get(name, "").strip():
                params[name] = request.POST[name]
    after = params.pop("after", [None])[-1]
    filterset = PersonFilter(params, queryset=queryset, request=request)
    rows, error, next_after = [], None, None
    try:
        if filterset.is_valid():
            page = filterset.qs.order_by("pk")
            if after and after.isdigit():
                page = page.filter(pk__gt=int(after))
            rows = list(page[:PAGE_SIZE + 1])
    except DomainError as exc:
        error = exc
    searched = any(name in params for name in PII_FILTERS)
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    if has_more and not searched:
        next_query = params.copy()
        next_query["after"] = rows[-1].pk
        next_after = next_query.urlencode()
    context = {"filter": filterset, "persons": rows, "error": error, "next_query": next_after,
               "searched": searched}
    template = "registry/person_rows.html" if request.headers.get("HX-Request") else "registry/person_list.html"
    return render(request, template, context)


def _detail_context(request, person, **extra):
    user = request.user
    tags = PersonTag.objects.filter(person=person).select_related("tag_type").order_by("pk")
    person._prefetched_objects_cache = {"tags": tags}
    return {"person": person, "tags": visible_tags(person, scope_codes(user, VIEW_SENSITIVE)),
            "may_reveal": code_in_scope(person.grid_code, scope_codes(user, REVEAL_PII)), **extra}


@require_GET
@login_required
def person_detail(request, pk):
    person = _persons(request.user).select_related("house", "household").filter(pk=pk).first()
    if person is None:
        raise Http404
    return render(request, "registry/person_detail.html", _detail_context(request, person))


@never_cache
@require_POST
@login_required
def person_reveal(request, pk):
    """Shows the full value once, in this response only (never cached), after writing the audit row."""
    person = _persons(request.user).select_related("house", "household").filter(pk=pk).first()
    if person is None:
        raise Http404
    field = request.POST.get("field")
    revealed, error = None, None
    try:
        if field not in ("id_number", "phone"):
            raise DomainError(_("Choose the ID number or the phone."), field="field")
        if not scope_codes(request.user, REVEAL_PII):
            raise DomainError(_("Your role may not reveal personal numbers."), code="forbidden")
        value = services.do_reveal(person, field, actor=request.user, reason=request.POST.get("reason", ""),
                                   request_id=getattr(request, "request_id", ""))
        revealed = {"field": field, "value": value}
    except DomainError as exc:
        error = exc
    status = 200 if error is None else (403 if error.code == "forbidden" else 400)
    return render(request, "registry/person_detail.html",
                  _detail_context(request, person, revealed=revealed, reveal_error=error), status=status)
