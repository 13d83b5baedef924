"""Writing many new rows without model instances (COPY, INSERT … SELECT): the values a new instance would hold."""

from django.db import connection
from django.utils import timezone


def new_row_values(model, given, now=None):
    """{field: value prepared for the database} for every concrete field of `model` but its primary key and the
    fields named in `given`: what a new instance holds — auto_now and auto_now_add fields `now` (one timestamp for
    all), the others their default."""
    now = now or timezone.now()
    values = {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in given:
            continue
        auto = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        values[field] = field.get_db_prep_save(now if auto else field.get_default(), connection)
    return values
