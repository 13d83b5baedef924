"""Writes with rules for the grid system: generations (draft → validated → active → retired) and the areas in
a draft. Views, API endpoints, commands and importers call these; nothing else changes a boundary."""

import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from wangge.accounts.roles import CHANGE_AREA, MANAGE_GENERATIONS
from wangge.core.errors import DomainError
from wangge.core.scope import ensure_code_in_scope, scope_codes

from . import codes
from .geometry import as_multipolygon, geodesic_area_m2
from .models import Area, Generation
from .numbering import reading_order

EDITABLE_FIELDS = ("name", "kind", "dedicated_to", "household_target", "population_target", "notes")

# Callables (old_generation, new_generation, actor) -> dict, run inside the activation transaction. Apps whose
# records are located in grids (registry, cases, …) register one to reassign their records and report the moves.
ACTIVATION_HOOKS = []


def register_activation_hook(hook):
    ACTIVATION_HOOKS.append(hook)
    return hook


def ensure_may_manage(actor):
    if not actor.is_superuser and not scope_codes(actor, MANAGE_GENERATIONS):
        raise DomainError(_("You may not manage boundary generations."), code="forbidden")


def ensure_editable(generation):
    if not generation.is_editable:
        raise DomainError(
            _("Generation #%(id)s is %(state)s; only a draft can be edited.")
            % {"id": generation.pk, "state": generation.get_state_display()}, field="generation")


def back_to_draft(generation):
    """Any edit invalidates an earlier validation."""
    if generation.state != Generation.State.DRAFT:
        Generation.objects.filter(pk=generation.pk).update(state=Generation.State.DRAFT, validated_at=None)
        generation.state = Generation.State.DRAFT


def refresh_derived(area_ids):
    """Geodesic area (m², on the WGS84 spheroid) and a label point inside each area."""
    if not area_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE geo_area SET area_m2 = ST_Area(geom::geography), label_point = ST_PointOnSurface(geom) "
            "WHERE id = ANY(%s)", [list(area_ids)])


def link_parents(generation_id):
    """Parent links follow the codes: the parent of a code is its prefix one level up, in the same generation."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE geo_area child SET parent_id = parent.id
            FROM geo_area parent
            WHERE child.generation_id = %(g)s AND parent.generation_id = %(g)s
              AND parent.code = CASE length(child.code) WHEN 9 THEN left(child.code, 6)
                                   ELSE left(child.code, length(child.code) - 3) END
              AND child.parent_id IS DISTINCT FROM parent.id
            """, {"g": generation_id})


# Generations ---------------------------------------------------------------------------------------------------

@transaction.atomic
def do_create_draft(*, actor, description="", based_on=None):
    """A new draft generation holding a copy of `based_on` (default: the active generation; empty if none)."""
    ensure_may_manage(actor)
    if based_on is None:
        based_on = Generation.objects.filter(state=Generation.State.ACTIVE).first()
    draft = Generation.objects.create(description=description, based_on=based_on, created_by=actor)
    if based_on is not None:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO geo_area (generation_id, level, code, name, kind, dedicated_to, household_target,
                                      population_target, notes, geom, area_m2, label_point, district_code)
                SELECT %s, level, code, name, kind, dedicated_to, household_target, population_target, notes,
                       geom, area_m2, label_point, district_code
                FROM geo_area WHERE generation_id = %s
                """, [draft.pk, based_on.pk])
        link_parents(draft.pk)
    return draft


@transaction.atomic
def do_discard_draft(generation, *, actor):
    ensure_may_manage(actor)
    ensure_editable(generation)
    generation.delete()


@transaction.atomic
def do_validate_generation(generation, *, actor):
    """Runs every check; a generation with no errors becomes `validated`. Returns the report."""
    ensure_may_manage(actor)
    generation = Generation.objects.select_for_update().get(pk=generation.pk)
    ensure_editable(generation)
    from .validation import validate_generation

    report = validate_generation(generation)
    generation.validation_report = report
    if report["error_count"] == 0:
        generation.state = Generation.State.VALIDATED
        generation.validated_at = timezone.now()
    else:
        generation.state = Generation.State.DRAFT
        generation.validated_at = None
    generation.save(update_fields=["validation_report", "state", "validated_at"])
    return report


@transaction.atomic
def do_activate_generation(generation, *, actor, effective_from=None):
    """Makes a validated draft the current generation, atomically; the previous one is retired but stays
    queryable for the dates it was in force. Located records are reassigned by the activation hooks."""
    ensure_may_manage(actor)
    generation = Generation.objects.select_for_update().get(pk=generation.pk)
    if generation.state != Generation.State.VALIDATED:
        raise DomainError(
            _("Generation #%(id)s is %(state)s: validate it without errors before activating it.")
            % {"id": generation.pk, "state": generation.get_state_display()}, field="generation",
            code="not_validated")
    effective_from = effective_from or timezone.localdate()
    if isinstance(effective_from, str):
        try:
            effective_from = datetime.date.fromisoformat(effective_from)
        except ValueError as exc:
            raise DomainError(_("Use a date in the form YYYY-MM-DD."), field="effective_from") from exc
    previous = Generation.objects.select_for_update().filter(state=Generation.State.ACTIVE).first()
    if previous is not None:
        if previous.effective_from and effective_from <= previous.effective_from:
            raise DomainError(
                _("The new generation must come into force after %(date)s, when the current one did.")
                % {"date": previous.effective_from.isoformat()}, field="effective_from")
        previous.state = Generation.State.RETIRED
        previous.effective_to = effective_from
        previous.save(update_fields=["state", "effective_to"])

    report = {"changes": compare_generations(previous, generation) if previous else None, "reassigned": {}}
    generation.state = Generation.State.ACTIVE
    generation.effective_from = effective_from
    generation.effective_to = None
    generation.activated_at = timezone.now()
    generation.save(update_fields=["state", "effective_from", "effective_to", "activated_at"])
    for hook in ACTIVATION_HOOKS:
        report["reassigned"][getattr(hook, "__name__", str(hook))] = hook(previous, generation, actor)
    generation.activation_report = report
    generation.save(update_fields=["activation_report"])
    transaction.on_commit(_forget_lookup_index)
    return report


def _forget_lookup_index():
    from .index import forget_index

    forget_index()


def compare_generations(old, new):
    """Codes added, removed, and changed (boundary or name) between two generations, per level."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT coalesce(n.level, o.level) AS level,
                   count(*) FILTER (WHERE o.id IS NULL) AS added,
                   count(*) FILTER (WHERE n.id IS NULL) AS removed,
                   count(*) FILTER (WHERE o.id IS NOT NULL AND n.id IS NOT NULL
                                    AND (NOT ST_Equals(o.geom, n.geom) OR o.name <> n.name)) AS changed
            FROM (SELECT * FROM geo_area WHERE generation_id = %s) o
            FULL JOIN (SELECT * FROM geo_area WHERE generation_id = %s) n ON o.code = n.code
            GROUP BY 1
            """, [old.pk, new.pk])
        return {level: {"added": a, "removed": r, "changed": c} for level, a, r, c in cursor.fetchall()}


# Areas in a draft ------------------------------------------------------------------------------------------------

def _clean_values(values):
    cleaned = {}
    for key in EDITABLE_FIELDS:
        if key in values:
            cleaned[key] = values[key]
    if "kind" in cleaned and cleaned["kind"] not in Area.Kind.values:
        raise DomainError(_("Unknown kind %(kind)r.") % {"kind": cleaned["kind"]}, field="kind")
    for key in ("household_target", "population_target"):
        value = cleaned.get(key)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise DomainError(_("Must be a whole number ≥ 0."), field=key)
    if "name" in cleaned and not str(cleaned["name"]).strip():
        raise DomainError(_("A name is required."), field="name")
    return cleaned


@transaction.atomic
def do_create_area(generation, *, actor, code, name, geom, level=None, **values):
    generation = Generation.objects.select_for_update().get(pk=generation.pk)
    ensure_editable(generation)
    level = level or codes.level_of(code)
    if level not in codes.LEVELS:
        raise DomainError(_("A code has 6, 9, 12 or 15 digits; %(code)r has not.") % {"code": code}, field="code")
    ensure_code_in_scope(actor, CHANGE_AREA, code)
    parent = None
    if level != codes.DISTRICT:
        parent_code = codes.parent_code(code) if codes.level_of(code) == level else None
        parent = Area.objects.filter(generation=generation, code=parent_code).first() if parent_code else None
        if parent is None:
            raise DomainError(_("No parent area %(parent)s in this generation.") % {"parent": parent_code},
                              field="code")
    problems = codes.code_errors(code, level, parent.code if parent else None)
    if problems:
        raise DomainError("; ".join(problems), field="code")
    if Area.objects.filter(generation=generation, code=code).exists():
        raise DomainError(_("Code %(code)s is already used in this generation.") % {"code": code}, field="code")
    geometry, _repair = as_multipolygon(geom)
    area = Area(generation=generation, level=level, code=code, parent=parent, geom=geometry,
                **_clean_values({"name": name, **values}))
    area.save()
    refresh_derived([area.pk])
    back_to_draft(generation)
    area.refresh_from_db()
    return area


@transaction.atomic
def do_update_area(area, *, actor, geom=None, **values):
    area = Area.objects.select_for_update(of=("self",)).select_related("generation").get(pk=area.pk)
    ensure_editable(area.generation)
    ensure_code_in_scope(actor, CHANGE_AREA, area.code)
    for key, value in _clean_values(values).items():
        setattr(area, key, value)
    if geom is not None:
        area.geom, _repair = as_multipolygon(geom)
    area.save()
    if geom is not None:
        refresh_derived([area.pk])
    back_to_draft(area.generation)
    area.refresh_from_db()
    return area


@transaction.atomic
def do_retire_area(area, *, actor):
    """Removes an area from a draft. An area with children must be emptied first."""
    area = Area.objects.select_for_update(of=("self",)).select_related("generation").get(pk=area.pk)
    ensure_editable(area.generation)
    ensure_code_in_scope(actor, CHANGE_AREA, area.code)
    if area.children.exists():
        raise DomainError(_("Area %(code)s still has sub-areas; retire or move them first.") % {"code": area.code},
                          field="code")
    area.delete()
    back_to_draft(area.generation)


def _next_free_code(parent):
    used = set(Area.objects.filter(generation_id=parent.generation_id, parent=parent).values_list("code", flat=True))
    sequence = 1
    while f"{parent.code}{sequence:03d}" in used:
        sequence += 1
    if sequence > 999:
        raise DomainError(_("Area %(code)s has no free sequence number left.") % {"code": parent.code}, field="code")
    return f"{parent.code}{sequence:03d}"


@transaction.atomic
def do_split_area(area, *, actor, parts):
    """Splits a leaf area into the given parts (geometries that must tile it). The first part keeps the code;
    the others get the next free codes under the same parent. Returns the areas, first the original."""
    area = Area.objects.select_for_update(of=("self",)).select_related("generation", "parent").get(pk=area.pk)
    ensure_editable(area.generation)
    ensure_code_in_scope(actor, CHANGE_AREA, area.code)
    if area.level == codes.DISTRICT or area.children.exists():
        raise DomainError(_("Only an area without sub-areas can be split."), field="code")
    if len(parts) < 2:
        raise DomainError(_("A split needs at least two parts."), field="parts")
    geometries = [as_multipolygon(part, field=f"parts[{i}]")[0] for i, part in enumerate(parts)]
    union = geometries[0]
    for geometry in geometries[1:]:
        union = union.union(geometry)
    if geodesic_area_m2(area.geom.sym_difference(union)) > settings.WANGGE_GEOMETRY_TOLERANCE_M2:
        raise DomainError(_("The parts must cover the area exactly, without going outside it."), field="parts")
    area.geom = geometries[0]
    area.save()
    created = [area]
    for geometry in geometries[1:]:
        created.append(Area.objects.create(
            generation=area.generation, level=area.level, code=_next_free_code(area.parent), parent=area.parent,
            name=f"{area.name}-{len(created) + 1}", kind=area.kind, dedicated_to=area.dedicated_to,
            notes=_("Split from %(code)s") % {"code": area.code}, geom=geometry))
    refresh_derived([a.pk for a in created])
    back_to_draft(area.generation)
    for a in created:
        a.refresh_from_db()
    return created


@transaction.atomic
def do_merge_areas(areas, *, actor):
    """Merges sibling leaf areas into the one with the lowest code; the others leave the draft."""
    areas = list(Area.objects.select_for_update(of=("self",)).select_related("generation")
                 .filter(pk__in=[a.pk for a in areas]).order_by("code"))
    if len(areas) < 2:
        raise DomainError(_("A merge needs at least two areas."), field="areas")
    generation = areas[0].generation
    ensure_editable(generation)
    for area in areas:
        ensure_code_in_scope(actor, CHANGE_AREA, area.code)
    if len({(a.generation_id, a.parent_id, a.level) for a in areas}) != 1:
        raise DomainError(_("Only sibling areas of one level in one generation can be merged."), field="areas")
    if Area.objects.filter(parent__in=areas).exists():
        raise DomainError(_("Only areas without sub-areas can be merged."), field="areas")
    keeper = areas[0]
    merged = keeper.geom
    for other in areas[1:]:
        merged = merged.union(other.geom)
    keeper.geom, _repair = as_multipolygon(merged, repair=True)
    keeper.household_target = sum(a.household_target or 0 for a in areas) or None
    keeper.population_target = sum(a.population_target or 0 for a in areas) or None
    keeper.save()
    Area.objects.filter(pk__in=[a.pk for a in areas[1:]]).delete()
    refresh_derived([keeper.pk])
    back_to_draft(generation)
    keeper.refresh_from_db()
    return keeper


@transaction.atomic
def do_renumber_grids(community, *, actor):
    """Renumbers a community's grids 001, 002, … west→east within rows, rows north→south. Returns {old: new}."""
    community = Area.objects.select_for_update(of=("self",)).select_related("generation").get(pk=community.pk)
    ensure_editable(community.generation)
    ensure_code_in_scope(actor, CHANGE_AREA, community.code)
    if community.level != codes.COMMUNITY:
        raise DomainError(_("Grids are numbered within a community."), field="code")
    grids = list(Area.objects.select_for_update().filter(parent=community).order_by("code"))
    order = reading_order([(g.label_point.x, g.label_point.y) if g.label_point else g.geom.point_on_surface.coords
                           for g in grids])
    mapping = {grids[position].code: f"{community.code}{sequence:03d}"
               for sequence, position in enumerate(order, start=1)}
    changed = {old: new for old, new in mapping.items() if old != new}
    if changed:
        # Two steps, so no intermediate state breaks the unique code constraint.
        for grid in grids:
            if grid.code in changed:
                Area.objects.filter(pk=grid.pk).update(code=f"T{grid.pk:014d}"[-15:])
        for grid in grids:
            if grid.code in changed:
                Area.objects.filter(pk=grid.pk).update(code=changed[grid.code])
        back_to_draft(community.generation)
    return changed
