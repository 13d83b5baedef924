"""Validation of a generation (复核调整): every problem with its location and size, computed in PostGIS.

Errors block activation: invalid geometry, a child outside its parent, overlapping siblings, gaps inside a parent
that no child covers, codes that break the rules. Warnings do not: grids over their household target.
"""

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from . import codes
from .models import Area

# Callables (generation) -> {grid code: households}. The registry registers one once households exist.
HOUSEHOLD_COUNTERS = []


def _rows(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [c.name for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _issue(kind, severity, code, message, area_m2=None, location=None, **extra):
    issue = {"kind": kind, "severity": severity, "code": code, "message": message}
    if area_m2 is not None:
        issue["area_m2"] = round(float(area_m2), 2)
    if location is not None:
        issue["location"] = [round(location[0], 7), round(location[1], 7)]
    issue.update(extra)
    return issue


def validate_generation(generation):
    tolerance = settings.WANGGE_GEOMETRY_TOLERANCE_M2
    g = {"g": generation.pk, "tol": tolerance}
    issues = []

    for row in _rows(
        """SELECT code, ST_IsValidReason(geom) AS reason, ST_X(ST_PointOnSurface(ST_MakeValid(geom))) AS x,
                  ST_Y(ST_PointOnSurface(ST_MakeValid(geom))) AS y
           FROM geo_area WHERE generation_id = %(g)s AND (NOT ST_IsValid(geom) OR ST_IsEmpty(geom))""", g):
        issues.append(_issue("invalid_geometry", "error", row["code"],
                             _("Invalid geometry: %(reason)s") % {"reason": row["reason"]},
                             location=(row["x"], row["y"]) if row["x"] is not None else None))
    invalid = {issue["code"] for issue in issues}
    # The geometric checks below need valid input; ST_MakeValid keeps them from failing on the invalid ones.
    geom = "CASE WHEN ST_IsValid({t}.geom) THEN {t}.geom ELSE ST_MakeValid({t}.geom) END"

    for row in _rows(
        f"""SELECT c.code, ST_Area(d::geography) AS m2, ST_X(ST_PointOnSurface(d)) AS x, ST_Y(ST_PointOnSurface(d)) AS y
            FROM geo_area c JOIN geo_area p ON p.id = c.parent_id,
                 LATERAL ST_CollectionExtract(ST_Difference({geom.format(t="c")}, {geom.format(t="p")}), 3) d
            WHERE c.generation_id = %(g)s AND NOT ST_CoveredBy(c.geom, p.geom) AND NOT ST_IsEmpty(d)
              AND ST_Area(d::geography) > %(tol)s""", g):
        issues.append(_issue("outside_parent", "error", row["code"],
                             _("%(m2).1f m² lie outside the parent area.") % {"m2": row["m2"]},
                             area_m2=row["m2"], location=(row["x"], row["y"])))

    for row in _rows(
        f"""SELECT a.code AS a, b.code AS b, ST_Area(i::geography) AS m2,
                   ST_X(ST_PointOnSurface(i)) AS x, ST_Y(ST_PointOnSurface(i)) AS y
            FROM geo_area a JOIN geo_area b
              ON a.generation_id = b.generation_id AND a.parent_id IS NOT DISTINCT FROM b.parent_id
                 AND a.level = b.level AND a.code < b.code AND a.geom && b.geom,
                 LATERAL ST_CollectionExtract(ST_Intersection({geom.format(t="a")}, {geom.format(t="b")}), 3) i
            WHERE a.generation_id = %(g)s AND ST_Relate(a.geom, b.geom, '2********')
              AND NOT ST_IsEmpty(i) AND ST_Area(i::geography) > %(tol)s""", g):
        issues.append(_issue("overlap", "error", row["a"],
                             _("Overlaps its sibling %(other)s by %(m2).1f m².") % {"other": row["b"], "m2": row["m2"]},
                             area_m2=row["m2"], location=(row["x"], row["y"]), other=row["b"]))

    for row in _rows(
        f"""SELECT p.code, ST_Area(gap::geography) AS m2, ST_X(ST_PointOnSurface(gap)) AS x,
                   ST_Y(ST_PointOnSurface(gap)) AS y
            FROM geo_area p
            JOIN LATERAL (SELECT ST_Union({geom.format(t="c")}) AS covered FROM geo_area c WHERE c.parent_id = p.id) u
              ON true,
                 LATERAL ST_CollectionExtract(
                     CASE WHEN u.covered IS NULL THEN {geom.format(t="p")}
                          ELSE ST_Difference({geom.format(t="p")}, u.covered) END, 3) gap
            WHERE p.generation_id = %(g)s AND p.level <> 'grid' AND NOT ST_IsEmpty(gap)
              AND ST_Area(gap::geography) > %(tol)s""", g):
        message = _("%(m2).1f m² inside this area are covered by none of its sub-areas.") % {"m2": row["m2"]}
        issues.append(_issue("gap", "error", row["code"], message,
                             area_m2=row["m2"], location=(row["x"], row["y"])))

    areas = list(Area.objects.filter(generation=generation).select_related("parent")
                 .values_list("code", "level", "parent__code", "parent__level"))
    for code, level, parent_code, parent_level in areas:
        problems = codes.code_errors(code, level, parent_code)
        if level != codes.DISTRICT and parent_code is None:
            problems.append(_("No parent area %(parent)s in this generation.") % {"parent": codes.parent_code(code)})
        elif parent_level is not None and codes.PARENT_LEVEL.get(level) != parent_level:
            problems.append(_("A %(level)s cannot sit directly under a %(parent)s.")
                            % {"level": codes.LEVEL_LABELS.get(level, level),
                               "parent": codes.LEVEL_LABELS.get(parent_level, parent_level)})
        for problem in problems:
            issues.append(_issue("code", "error", code, problem))

    targets = dict(Area.objects.filter(generation=generation, level=codes.GRID, household_target__isnull=False)
                   .values_list("code", "household_target"))
    for counter in HOUSEHOLD_COUNTERS:
        for code, households in counter(generation).items():
            if code in targets and households > targets[code]:
                issues.append(_issue("over_target", "warning", code,
                                     _("%(n)d households, over the target of %(t)d.")
                                     % {"n": households, "t": targets[code]}, households=households))

    errors = sum(1 for issue in issues if issue["severity"] == "error")
    return {
        "generation": generation.pk,
        "area_count": len(areas),
        "error_count": errors,
        "warning_count": len(issues) - errors,
        "invalid_geometry_codes": sorted(invalid),
        "issues": issues,
    }
