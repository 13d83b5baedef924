"""InputSerializer: fields built once and shared must validate exactly as DRF's fresh copies do."""

from concurrent.futures import ThreadPoolExecutor

from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from rest_framework import serializers

from wangge.core.api import InputSerializer


class Body(serializers.Serializer):
    tags = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    files = serializers.ListField(child=serializers.FileField(), required=False, default=list)
    name = serializers.CharField(max_length=5)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    count = serializers.IntegerField(required=False, allow_null=True, default=None)
    when = serializers.DateTimeField(required=False, allow_null=True, default=None)
    unit = serializers.ChoiceField(choices=["hours", "days"], required=False, allow_null=True, default=None)
    flag = serializers.BooleanField(required=False, default=False)


class SharedBody(InputSerializer, Body):
    pass


BODIES = [
    {"name": "ok"},
    {"name": "ok", "tags": [1, "2"], "count": "7", "when": "2026-11-29T08:00:00+08:00", "unit": "days",
     "flag": "true"},
    {"name": "too long"},
    {},
    {"name": "ok", "tags": ["x"], "count": "many", "when": "yesterday", "unit": "weeks"},
    {"name": None, "note": None},
    [],
    "not an object",
]


def outcome(serializer_class, data):
    serializer = serializer_class(data=data)
    valid = serializer.is_valid()
    return valid, (dict(serializer.validated_data) if valid else serializer.errors)


def test_shared_fields_validate_as_drfs_own_fresh_copies():
    for body in BODIES:
        assert outcome(SharedBody, body) == outcome(Body, body), body


def test_a_form_body_with_files_validates_alike():
    def form():
        data = QueryDict(mutable=True)
        data.update({"name": "photo"})
        data.setlist("files", [SimpleUploadedFile("a.jpg", b"\xff\xd8 not really"), SimpleUploadedFile("b.jpg", b"")])
        return data

    shared, fresh = outcome(SharedBody, form()), outcome(Body, form())
    assert shared[0] is fresh[0] is False  # the empty file is refused by both
    assert shared[1] == fresh[1]


def test_defaults_are_not_shared_between_bodies():
    first = SharedBody(data={"name": "a"})
    first.is_valid(raise_exception=True)
    first.validated_data["tags"].append(99)
    second = SharedBody(data={"name": "b"})
    second.is_valid(raise_exception=True)
    assert second.validated_data["tags"] == []


def test_the_fields_are_built_once_and_bound_to_no_request():
    assert SharedBody(data={"name": "a"}).fields is SharedBody(data={"name": "b"}).fields
    root = SharedBody(data={"name": "a"}).fields["name"].root
    assert not hasattr(root, "initial_data")  # the template never saw a body


def test_many_threads_validate_their_own_bodies():
    def check(n):
        serializer = SharedBody(data={"name": f"n{n % 1000}", "count": str(n), "tags": [n]})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data["count"] == n and serializer.validated_data["tags"] == [n]

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(check, range(2000)))
