"""Importing areas from a file into a draft generation: the one write path behind `manage.py import_areas` and the
API upload. Dry run by default; a commit is all or nothing per file.

Every feature is checked before anything is written — its own content (importers.py), then against the draft:
the parent exists there or comes earlier in the same file, and the code lies inside the actor's scope for changing
areas. One problem anywhere and nothing is written; the report lists every problem as (index, code, field, reason).
"""

from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from wangge.accounts.roles import CHANGE_AREA
from wangge.core.errors import DomainError
from wangge.core.scope import ensure_code_in_scope, scope_codes

from . import codes
from .importers import ALL_LEVELS, FieldMapping, check_options, opened_source, read_rows
from .models import Area, Generation
from .services import back_to_draft, ensure_editable, link_parents, refresh_derived

# A report stays readable (and an API answer small) however broken the file is; the count says how many in all.
MAX_LISTED_PROBLEMS = 1000


class ImportRejected(DomainError):
    """The file has problems; nothing was written. `report` holds the full report, problems included."""

    def __init__(self, message, *, report):
        super().__init__(message, field="file", code="invalid_features", details=report)
        self.report = report


def _ensure_may_import(actor):
    """Importing edits areas, as do_create_area and do_update_area do: the actor needs a scope for changing areas
    (and each code is checked against it below)."""
    if not scope_codes(actor, CHANGE_AREA):
        raise DomainError(_("You may not import areas."), code="forbidden")


@transaction.atomic
def do_import_areas(generation, path_or_file, *, actor, mapping=None, level=ALL_LEVELS, crs="wgs84", commit=False,
                    repair=False, layer=None):
    """Reads `path_or_file` (a path, or an uploaded file) into the draft `generation`, creating areas with new codes
    and updating those whose code already exists. Returns the report; raises ImportRejected (a DomainError whose
    details are the report) when any feature has a problem, and DomainError for a file that cannot be read.
    """
    _ensure_may_import(actor)
    mapping = mapping if isinstance(mapping, FieldMapping) else FieldMapping(**(mapping or {}))
    check_options(level=level, crs=crs)
    generation = Generation.objects.select_for_update().get(pk=generation.pk)
    ensure_editable(generation)

    with opened_source(path_or_file, layer=layer) as path:
        contents = read_rows(path, mapping=mapping, level=level, crs=crs, layer=layer, repair=repair)
    rows = contents.rows
    if not rows:
        raise DomainError(_("The layer holds no features."), field="file", code="empty_file")
    existing = _existing_areas(generation, rows, lock=commit)
    in_scope = _check_against_draft(rows, existing, actor)

    problems = [problem.as_dict() for row in rows for problem in row.problems]
    # Counted over the actor's own codes only, so a report never tells whether a code outside their scope exists.
    to_update = [row for row in in_scope if row.code in existing]
    report = {
        "generation": generation.pk,
        "driver": contents.driver,
        "layer": contents.layer,
        "srs": contents.srs,
        "level": level,
        "crs": crs.lower(),
        "features": len(rows),
        "create": len(in_scope) - len(to_update),
        "update": len(to_update),
        "committed": False,
        "problem_count": len(problems),
        "problems": problems[:MAX_LISTED_PROBLEMS],
        "repairs": [{"index": row.index, "code": row.code, "reason": row.repaired} for row in rows if row.repaired],
    }
    if problems:
        bad_features = len({problem["index"] for problem in problems})
        raise ImportRejected(
            ngettext("%(n)d of %(total)d features has a problem; nothing was written.",
                     "%(n)d of %(total)d features have problems; nothing was written.", bad_features)
            % {"n": bad_features, "total": len(rows)}, report=report)
    if commit:
        _write(generation, rows, existing)
        report["committed"] = True
    return report


def _existing_areas(generation, rows, *, lock):
    """Areas of the draft the file refers to (its codes and their parents), by code."""
    wanted = {row.code for row in rows if row.code} | {row.parent_code for row in rows if row.parent_code}
    queryset = Area.objects.filter(generation=generation, code__in=wanted)
    if lock:
        queryset = queryset.select_for_update()
    return {area.code: area for area in queryset.defer("geom", "label_point")}


def _check_against_draft(rows, existing, actor):
    """Records each row's problems with the draft and the actor's scope; returns the rows inside the scope."""
    in_file = {row.code: row for row in rows if row.level}
    in_scope = []
    for row in rows:
        if not row.code:
            continue
        try:
            ensure_code_in_scope(actor, CHANGE_AREA, row.code)
        except Http404:
            row.problem("code", _("The code %(code)s is outside your scope; you may not change it.")
                        % {"code": row.code})
            continue
        in_scope.append(row)
        # The parent may come anywhere in the file: parents are linked after every row is written.
        if row.level and row.level != codes.DISTRICT and row.parent_code not in existing \
                and row.parent_code not in in_file:
            row.problem("code", _("There is no parent area %(parent)s in this generation or in the file.")
                        % {"parent": row.parent_code})
    return in_scope


def _write(generation, rows, existing):
    new_areas = []
    updated = []
    for row in rows:
        area = existing.get(row.code)
        if area is None:
            area = Area(generation=generation, level=row.level, code=row.code, district_code=row.code[:6])
            new_areas.append(area)
        else:
            updated.append(area)
        area.geom = row.geom
        for key, value in row.values.items():
            setattr(area, key, value)
    Area.objects.bulk_create(new_areas, batch_size=500)
    update_fields = ["geom", *sorted({key for row in rows for key in row.values})]
    Area.objects.bulk_update(updated, update_fields, batch_size=500)
    written_ids = [area.pk for area in new_areas] + [area.pk for area in updated]
    link_parents(generation.pk)
    refresh_derived(written_ids)
    back_to_draft(generation)
