"""The registry API. Every read goes through `restrict(user, VIEW_PERSON | VIEW_PLACE)`; every write through the
services, which place the record in its grid and re-check the actor's scope inside the transaction.

A user without the read action anywhere (a leader: aggregates only) gets 404 on these endpoints, the same answer
as for a record outside their scope; their numbers come from `stats/`.
"""

from django.db import connection
from django.db.models import Prefetch
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.accounts.roles import (
    CHANGE_PERSON,
    CHANGE_PLACE,
    MANAGE_USERS,
    REVEAL_PII,
    VIEW_AGGREGATES,
    VIEW_PERSON,
    VIEW_PLACE,
    VIEW_SENSITIVE,
)
from wangge.core.api import ChangeContextMixin
from wangge.core.errors import DomainError
from wangge.core.pagination import CodeCursorPagination
from wangge.core.scope import EVERYWHERE, scope_codes

from .. import filters, services
from ..models import (
    Building,
    Courtyard,
    House,
    Household,
    Organization,
    PartyOrganization,
    Person,
    PersonStatus,
    PersonTag,
    TagType,
)
from . import serializers as s

NOT_FOUND = {404: OpenApiResponse(description="Not found, or outside your scope (the same answer).")}


class PersonPagination(CodeCursorPagination):
    page_size = 50


def reference(model, pk, user, action, field):
    """A referenced record the user may act on, or a 400 naming the field — unknown and out-of-scope alike, so a
    reference cannot be used to probe what exists elsewhere."""
    if pk is None:
        return None
    found = model.objects.restrict(user, action).filter(pk=pk).first()
    if found is None:
        raise DomainError(_("Unknown %(what)s.") % {"what": model._meta.verbose_name}, field=field)
    return found


def require_some_scope(user, action):
    """404 for a user whose roles do not allow `action` anywhere (e.g. a leader on person endpoints)."""
    if not scope_codes(user, action):
        raise Http404


class RegistryViewSet(ChangeContextMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      viewsets.GenericViewSet):
    view_action = VIEW_PLACE
    change_action = CHANGE_PLACE
    select = ()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset.none()
        require_some_scope(self.request.user, self.view_action)
        queryset = self.queryset.all()
        if self.select:
            queryset = queryset.select_related(*self.select)
        return queryset.restrict(self.request.user, self.view_action)

    def write_data(self, serializer_class, partial=False):
        data = serializer_class(data=self.request.data, partial=partial)
        data.is_valid(raise_exception=True)
        return dict(data.validated_data)

    def created(self, record):
        return Response(self.get_serializer(record).data, status=status.HTTP_201_CREATED)


class CourtyardViewSet(RegistryViewSet):
    """Courtyards and residential compounds (院落/小区), GeoJSON boundaries."""

    queryset = Courtyard.objects.all()
    serializer_class = s.CourtyardSerializer
    filterset_class = filters.CourtyardFilter

    @extend_schema(request=s.CourtyardWriteSerializer, responses={201: s.CourtyardSerializer, **NOT_FOUND})
    def create(self, request):
        data = self.write_data(s.CourtyardWriteSerializer)
        return self.created(services.do_create_courtyard(actor=request.user, **data))

    @extend_schema(request=s.CourtyardWriteSerializer, responses={200: s.CourtyardSerializer, **NOT_FOUND})
    def partial_update(self, request, pk=None):
        data = self.write_data(s.CourtyardWriteSerializer, partial=True)
        return Response(self.get_serializer(services.do_update_courtyard(self.get_object(), actor=request.user,
                                                                         **data)).data)


class BuildingViewSet(RegistryViewSet):
    """Buildings (楼栋): GeoJSON location (and footprint), numbered within their grid."""

    queryset = Building.objects.all()
    serializer_class = s.BuildingSerializer
    filterset_class = filters.BuildingFilter

    @extend_schema(request=s.BuildingCreateSerializer, responses={201: s.BuildingSerializer, **NOT_FOUND})
    def create(self, request):
        data = self.write_data(s.BuildingCreateSerializer)
        data["courtyard"] = reference(Courtyard, data.pop("courtyard", None), request.user, VIEW_PLACE, "courtyard")
        return self.created(services.do_create_building(actor=request.user, **data))

    @extend_schema(request=s.BuildingWriteSerializer, responses={200: s.BuildingSerializer, **NOT_FOUND})
    def partial_update(self, request, pk=None):
        building = self.get_object()
        data = self.write_data(s.BuildingWriteSerializer, partial=True)
        return Response(self.get_serializer(services.do_update_building(building, actor=request.user,
                                                                        **data)).data)


class HouseViewSet(RegistryViewSet):
    """Houses and rooms (房屋/户室) of buildings."""

    queryset = House.objects.all()
    serializer_class = s.HouseSerializer
    filterset_class = filters.HouseFilter
    view_action = VIEW_PERSON

    @extend_schema(request=s.HouseWriteSerializer, responses={201: s.HouseSerializer, **NOT_FOUND})
    def create(self, request):
        data = self.write_data(s.HouseWriteSerializer)
        building = reference(Building, data.pop("building"), request.user, VIEW_PLACE, "building")
        return self.created(services.do_create_house(building, actor=request.user, **data))

    @extend_schema(request=s.HouseWriteSerializer, responses={200: s.HouseSerializer, **NOT_FOUND})
    def partial_update(self, request, pk=None):
        data = self.write_data(s.HouseWriteSerializer, partial=True)
        if "building" in data:
            raise DomainError(_("A house cannot change building; move the building instead."), field="building")
        return Response(self.get_serializer(services.do_update_house(self.get_object(), actor=request.user,
                                                                     **data)).data)


class HouseholdViewSet(RegistryViewSet):
    """Households (户) with their members (masked ID numbers)."""

    queryset = Household.objects.prefetch_related(Prefetch("members", queryset=Person.objects.order_by("pk")))
    serializer_class = s.HouseholdSerializer
    filterset_class = filters.HouseholdFilter
    view_action = VIEW_PERSON

    @extend_schema(request=s.HouseholdWriteSerializer, responses={201: s.HouseholdSerializer, **NOT_FOUND})
    def create(self, request):
        data = self.write_data(s.HouseholdWriteSerializer)
        data["house"] = reference(House, data.pop("house", None), request.user, VIEW_PERSON, "house")
        return self.created(services.do_create_household(actor=request.user, **data))

    @extend_schema(request=s.HouseholdUpdateSerializer, responses={200: s.HouseholdSerializer, **NOT_FOUND})
    def partial_update(self, request, pk=None):
        household = self.get_object()
        data = self.write_data(s.HouseholdUpdateSerializer, partial=True)
        if "house" in data:
            data["house"] = reference(House, data["house"], request.user, VIEW_PERSON, "house")
        if "head" in data:
            data["head"] = reference(Person, data["head"], request.user, VIEW_PERSON, "head")
        household = services.do_update_household(household, actor=request.user, **data)
        return Response(self.get_serializer(self.get_queryset().get(pk=household.pk)).data)


def reveal_response(request, record, allowed):
    if not scope_codes(request.user, REVEAL_PII):
        raise DomainError(_("Your role may not reveal personal numbers."), code="forbidden")
    data = s.RevealSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    if data.validated_data["field"] not in allowed:
        raise DomainError(_("This field cannot be revealed."), field="field")
    value = services.do_reveal(record, data.validated_data["field"], actor=request.user,
                               reason=data.validated_data["reason"], request_id=getattr(request, "request_id", ""))
    response = Response({"field": data.validated_data["field"], "value": value})
    response["Cache-Control"] = "no-store"
    return response


class PersonViewSet(RegistryViewSet):
    """Persons (人): masked ID and phone numbers, derived gender and birth date, the tags you may see."""

    queryset = Person.objects.prefetch_related(
        Prefetch("tags", queryset=PersonTag.objects.select_related("tag_type").order_by("pk")))
    serializer_class = s.PersonSerializer
    filterset_class = filters.PersonFilter
    pagination_class = PersonPagination
    view_action = VIEW_PERSON
    change_action = CHANGE_PERSON

    def get_serializer_class(self):
        return s.PersonSerializer if self.action == "list" else s.PersonDetailSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list" and self.request.query_params.get("status") != PersonStatus.MERGED:
            # A record merged into another stays (with its history) but is no longer listed unless asked for.
            queryset = queryset.exclude(status=PersonStatus.MERGED)
        if self.action == "list":
            # Lists never decrypt: the ciphertexts and indexes are not even read.
            queryset = queryset.defer("id_number_enc", "phone_enc", "id_number_index", "phone_index",
                                      "ethnicity", "hukou_place", "work_unit", "inflow_reason", "origin",
                                      "residence_permit")
        return queryset

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["sensitive_codes"] = scope_codes(self.request.user, VIEW_SENSITIVE)
        return context

    def _references(self, data):
        user = self.request.user
        for name, model in (("house", House), ("household", Household)):
            if name in data:
                data[name] = reference(model, data[name], user, VIEW_PERSON, name)
        return data

    @extend_schema(request=s.PersonCreateSerializer, responses={201: s.PersonDetailSerializer, **NOT_FOUND})
    def create(self, request):
        data = self._references(self.write_data(s.PersonCreateSerializer))
        person = services.do_create_person(actor=request.user, **data)
        return self.created(self.get_queryset().get(pk=person.pk))

    @extend_schema(request=s.PersonWriteSerializer, responses={200: s.PersonDetailSerializer, **NOT_FOUND})
    def partial_update(self, request, pk=None):
        person = self.get_object()
        data = self._references(self.write_data(s.PersonWriteSerializer, partial=True))
        person = services.do_update_person(person, actor=request.user, **data)
        return Response(self.get_serializer(self.get_queryset().get(pk=person.pk)).data)

    @extend_schema(request=s.PersonSearchSerializer, responses={200: s.PersonSearchResultSerializer},
                   description=_("Exact search by ID or phone number in the body, so the number never appears in "
                                 "a URL (access logs, browser history). Up to 50 matches, masked."))
    @action(detail=False, methods=["post"])
    def search(self, request):
        query = s.PersonSearchSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        filterset = filters.PersonFilter({k: v for k, v in query.validated_data.items() if v not in (None, "")},
                                         queryset=self.get_queryset(), request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        persons = filterset.qs.order_by("pk")[:PersonPagination.page_size]
        return Response({"results": s.PersonSerializer(persons, many=True,
                                                       context=self.get_serializer_context()).data})

    @extend_schema(request=s.RevealSerializer, responses={200: s.RevealResultSerializer, **NOT_FOUND},
                   description=_("The full ID or phone number (field: id_number | phone). Needs the reveal "
                                 "permission in the person's grid and a reason; every reveal is audited."))
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        return reveal_response(request, self.get_object(), ("id_number", "phone"))

    @extend_schema(parameters=[OpenApiParameter("area", str, description=_("An area code (any level)."))],
                   responses={200: s.DuplicateGroupsSerializer},
                   description=_("Groups of records that are probably one person (一人一档): the same name, birth "
                                 "date and household, and not both with an ID number. Merge them with merge/."))
    @action(detail=False, methods=["get"])
    def duplicates(self, request):
        groups = services.duplicate_candidates(request.user, request.query_params.get("area", ""))
        context = self.get_serializer_context()
        return Response({"results": [s.PersonSerializer(group, many=True, context=context).data
                                     for group in groups]})

    @extend_schema(request=s.PersonMergeSerializer, responses={200: s.PersonDetailSerializer, **NOT_FOUND},
                   description=_("Merges the `duplicate` record into this one. The duplicate stays, marked merged, "
                                 "with its history; its tags, party memberships and headships move here."))
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        data = s.PersonMergeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        keep = self.get_object()
        duplicate = reference(Person, data.validated_data["duplicate"], request.user, CHANGE_PERSON, "duplicate")
        keep = services.do_merge_persons(keep, duplicate, actor=request.user)
        return Response(s.PersonDetailSerializer(self.get_queryset().get(pk=keep.pk),
                                                 context=self.get_serializer_context()).data)


class OrganizationViewSet(RegistryViewSet):
    """Organizations (实有单位) with GeoJSON locations; the safety contact's phone is masked."""

    queryset = Organization.objects.all()
    serializer_class = s.OrganizationSerializer
    filterset_class = filters.OrganizationFilter

    @extend_schema(request=s.OrganizationWriteSerializer, responses={201: s.OrganizationSerializer, **NOT_FOUND})
    def create(self, request):
        data = self.write_data(s.OrganizationWriteSerializer)
        for optional in ("uscc", "safety_phone"):
            if not data.get(optional):
                data.pop(optional, None)
        return self.created(services.do_create_organization(actor=request.user, **data))

    @extend_schema(request=s.OrganizationWriteSerializer, responses={200: s.OrganizationSerializer, **NOT_FOUND})
    def partial_update(self, request, pk=None):
        data = self.write_data(s.OrganizationWriteSerializer, partial=True)
        return Response(self.get_serializer(services.do_update_organization(self.get_object(), actor=request.user,
                                                                            **data)).data)

    @extend_schema(request=s.RevealSerializer, responses={200: s.RevealResultSerializer, **NOT_FOUND},
                   description=_("The full safety-contact phone (field: safety_phone); audited."))
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        return reveal_response(request, self.get_object(), ("safety_phone",))


class PartyOrganizationViewSet(RegistryViewSet):
    """Party organizations (党组织), their members and the grids they serve (红色网格)."""

    queryset = PartyOrganization.objects.prefetch_related("members")
    serializer_class = s.PartyOrganizationSerializer
    filterset_class = filters.PartyOrganizationFilter


class PersonTagViewSet(RegistryViewSet):
    """Tags on persons; sensitive ones only where you hold the sensitive-data permission."""

    queryset = PersonTag.objects.all()
    serializer_class = s.PersonTagSerializer
    filterset_class = filters.PersonTagFilter
    view_action = VIEW_PERSON
    change_action = CHANGE_PERSON
    select = ("tag_type",)

    def get_queryset(self):
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return queryset
        codes = scope_codes(self.request.user, VIEW_SENSITIVE)
        if codes is EVERYWHERE:
            return queryset
        hidden = queryset.filter(tag_type__sensitive=True)
        if codes:
            hidden = hidden.exclude(PersonTag.scope_q(codes))
        return queryset.exclude(pk__in=hidden.values("pk"))

    @extend_schema(request=s.PersonTagWriteSerializer, responses={201: s.PersonTagSerializer, **NOT_FOUND})
    def create(self, request):
        data = self.write_data(s.PersonTagWriteSerializer)
        person = reference(Person, data.pop("person"), request.user, VIEW_PERSON, "person")
        tag_type = TagType.objects.filter(slug=data.pop("tag")).first()
        if tag_type is None:
            raise DomainError(_("Unknown tag type."), field="tag")
        tag = services.do_tag_person(person, tag_type, actor=request.user, **data)
        return self.created(PersonTag.objects.select_related("tag_type").get(pk=tag.pk))


def is_registry_admin(user):
    """Tag types are district-wide data: only superusers and users managing a whole district change them."""
    codes = scope_codes(user, MANAGE_USERS)
    return codes is EVERYWHERE or any(len(code) <= 6 for code in codes)


class TagTypeViewSet(ChangeContextMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
                     viewsets.ReadOnlyModelViewSet):
    """Tag types and their field schemas: readable by anyone who may see persons, written by admins only."""

    queryset = TagType.objects.order_by("pk")
    serializer_class = s.TagTypeSerializer
    pagination_class = None
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset.none()
        require_some_scope(self.request.user, VIEW_PERSON)
        return self.queryset.all()

    def _check_admin(self):
        if not is_registry_admin(self.request.user):
            raise DomainError(_("Only administrators change tag types."), code="forbidden")

    def create(self, request, *args, **kwargs):
        self._check_admin()
        return super().create(request, *args, **kwargs)

    def update(self, request, *args, **kwargs):
        self._check_admin()
        return super().update(request, *args, **kwargs)

    def perform_create(self, serializer):
        TagType(**serializer.validated_data).clean()  # the model checks the field schema
        serializer.save()

    def perform_update(self, serializer):
        TagType(fields=serializer.validated_data.get("fields", serializer.instance.fields)).clean()
        serializer.save()


# Counts -----------------------------------------------------------------------------------------------------------

_GROUP_LENGTH = {"grid": 15, "community": 12, "subdistrict": 9}


def count_scope(user):
    """Codes under which the user may see counts: aggregates, or persons (whoever sees persons may count them)."""
    aggregates, persons = scope_codes(user, VIEW_AGGREGATES), scope_codes(user, VIEW_PERSON)
    if aggregates is EVERYWHERE or persons is EVERYWHERE:
        return EVERYWHERE
    return tuple(sorted(set(aggregates) | set(persons)))


def registry_counts(user, area=None, by="community"):
    """Counts per grid / community / subdistrict inside the user's scope (and `area`); never a person."""
    codes = count_scope(user)
    if not codes:
        raise Http404
    length = _GROUP_LENGTH[by]
    where, params = ["grid_code <> ''"], []
    if codes is not EVERYWHERE:
        where.append("(" + " OR ".join(["grid_code LIKE %s"] * len(codes)) + ")")
        params += [code + "%" for code in codes]
    if area:
        where.append("grid_code LIKE %s")
        params.append(area + "%")
    condition = " AND ".join(where)
    rows = {}

    def add(sql, key, extra=()):
        with connection.cursor() as cursor:
            cursor.execute(sql.format(length=length, condition=condition), [*extra, *params])
            for group, *values in cursor.fetchall():
                row = rows.setdefault(group, {"persons": 0, "households": 0, "flowing": 0, "buildings": 0,
                                              "organizations": 0, "tags": {}})
                if key == "tags":
                    row["tags"][values[0]] = values[1]
                else:
                    row.update(zip(key, values, strict=True))

    add("SELECT left(grid_code, {length}), count(*), count(*) FILTER (WHERE residence_type = 'flowing') "
        "FROM registry_person WHERE status = 'normal' AND {condition} GROUP BY 1", ("persons", "flowing"))
    add("SELECT left(grid_code, {length}), count(*) FROM registry_household WHERE {condition} GROUP BY 1",
        ("households",))
    add("SELECT left(grid_code, {length}), count(*) FROM registry_building WHERE {condition} GROUP BY 1",
        ("buildings",))
    add("SELECT left(grid_code, {length}), count(*) FROM registry_organization WHERE {condition} GROUP BY 1",
        ("organizations",))
    add("SELECT left(t.grid_code, {length}), y.slug, count(*) FROM registry_persontag t "
        "JOIN registry_tagtype y ON y.id = t.tag_type_id WHERE {condition} GROUP BY 1, 2", "tags")

    from wangge.geo.models import Area

    names = dict(Area.objects.current().filter(code__in=list(rows)).values_list("code", "name"))
    return [{"code": code, "name": names.get(code), **rows[code]} for code in sorted(rows)]


class StatsView(ChangeContextMixin, APIView):
    """Counts only — persons, households, flowing persons, buildings, organizations and each tag type — per grid,
    community or subdistrict. For leaders (aggregates) and anyone who may see persons, inside their scope."""

    @extend_schema(parameters=[s.StatsQuerySerializer], responses={200: s.StatsSerializer, **NOT_FOUND})
    def get(self, request):
        query = s.StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        area, by = query.validated_data.get("area"), query.validated_data["by"]
        return Response({"area": area, "by": by, "results": registry_counts(request.user, area, by)})
