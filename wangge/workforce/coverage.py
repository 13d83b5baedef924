"""Coverage of the work team (issue 4 §1): every current terminal grid in an area must have a chief and at least
one grid worker (full- or part-time) in post on the day. The report lists the grids that miss either, with counts
per community; the roster lists a community's posts with their holders.

Set-based: one query for the grids, one GROUP BY over the posts active on the day. Grid codes and counts only —
no personal data — so leaders (aggregates only) may read it too; the roster, which names people, needs
VIEW_WORKFORCE.
"""

from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from wangge.accounts.roles import VIEW_AGGREGATES, VIEW_WORKFORCE
from wangge.core.errors import DomainError
from wangge.core.scope import EVERYWHERE, any_scope_codes, code_in_scope, scope_codes
from wangge.geo import codes as area_codes
from wangge.geo.models import Area

from .models import WORKER_KINDS, GridPost, PostKind


def _default_area(codes):
    if codes is EVERYWHERE:
        return Area.objects.current().filter(level=area_codes.DISTRICT).values_list("code", flat=True).first()
    return min(codes, key=lambda c: (len(c), c)) if codes else None


def _area(code, field, levels=(6, 9, 12, 15)):
    if not (code.isdigit() and len(code) in levels):
        raise DomainError(_("An area code has 6, 9, 12 or 15 digits.") if len(levels) > 1
                          else _("A community code has 12 digits."), field=field)
    area = Area.objects.current().filter(code=code).values("code", "name", "level").first()
    if area is None:
        raise Http404
    return area


def report(user, area_code=None, day=None):
    """{area, date, totals, communities: [...], gaps: [...]} for the current grids under `area_code`."""
    codes = any_scope_codes(user, VIEW_WORKFORCE, VIEW_AGGREGATES)  # the people, or the counts only
    code = (area_code or "").strip() or _default_area(codes)
    if not code:
        raise Http404
    if not code_in_scope(code, codes):
        if code.isdigit() and len(code) in (6, 9, 12, 15):
            raise Http404
    area = _area(code, "area")
    day = day or timezone.localdate()

    grids = list(Area.objects.current().filter(level=area_codes.GRID, code__startswith=code)
                 .values_list("code", "name").order_by("code"))
    counts = {}
    for row in (GridPost.objects.active_on(day).filter(grid_code__startswith=code, kind__in=[
            PostKind.GRID_CHIEF, *WORKER_KINDS]).values("grid_code")
            .annotate(chiefs=Count("id", filter=Q(kind=PostKind.GRID_CHIEF)),
                      workers=Count("id", filter=Q(kind__in=WORKER_KINDS))).order_by()):
        counts[row["grid_code"]] = (row["chiefs"], row["workers"])
    names = dict(Area.objects.current().filter(level=area_codes.COMMUNITY, code__startswith=code[:12])
                 .values_list("code", "name"))

    communities, gaps = {}, []
    for grid_code, grid_name in grids:
        chiefs, workers = counts.get(grid_code, (0, 0))
        community = communities.setdefault(grid_code[:12], {
            "code": grid_code[:12], "name": names.get(grid_code[:12], ""), "grids": 0, "covered": 0,
            "without_chief": 0, "without_worker": 0, "chiefs": 0, "workers": 0})
        community["grids"] += 1
        community["chiefs"] += chiefs
        community["workers"] += workers
        missing = [what for what, n in (("chief", chiefs), ("worker", workers)) if n == 0]
        community["without_chief"] += "chief" in missing
        community["without_worker"] += "worker" in missing
        if missing:
            gaps.append({"code": grid_code, "name": grid_name, "community": grid_code[:12], "missing": missing})
        else:
            community["covered"] += 1
    rows = list(communities.values())
    totals = {key: sum(c[key] for c in rows) for key in ("grids", "covered", "without_chief", "without_worker",
                                                          "chiefs", "workers")}
    return {"area": area, "date": day, "totals": totals, "communities": rows, "gaps": gaps}


def roster(user, community_code, day=None):
    """The posts active on `day` in a community: per grid, and the community-level posts (instructors, leaders)
    of the community and of the areas above it. Phones are shown masked, from the holder's registry record."""
    code = (community_code or "").strip()
    if not code:
        raise DomainError(_("A community code is required."), field="community")
    codes = scope_codes(user, VIEW_WORKFORCE)
    if code.isdigit() and len(code) == 12 and not code_in_scope(code, codes):
        raise Http404
    community = _area(code, "community", levels=(12,))
    day = day or timezone.localdate()
    grids = {grid_code: {"code": grid_code, "name": name, "posts": []} for grid_code, name in
             Area.objects.current().filter(level=area_codes.GRID, code__startswith=code)
             .values_list("code", "name").order_by("code")}
    posts = (GridPost.objects.active_on(day).select_related("holder_person")
             .filter(Q(grid_code__startswith=code) | Q(grid_code__in=area_codes.ancestor_codes(code)))
             .order_by("grid_code", "kind", "started_on", "pk"))
    area_posts = []
    for post in posts:
        entry = {"id": post.pk, "kind": post.kind, "kind_label": post.get_kind_display(),
                 "grid_code": post.grid_code, "holder_name": post.holder_name,
                 "phone": post.holder_person.phone_masked if post.holder_person else "",
                 "project": post.project, "started_on": post.started_on}
        if post.grid_code in grids:
            grids[post.grid_code]["posts"].append(entry)
        else:
            area_posts.append(entry)
    return {"community": community, "date": day, "area_posts": area_posts, "grids": list(grids.values())}
