"""Who stands up the chain of a grid (grid → community → subdistrict → district): the people notified of cards,
emergencies and escalations. Users are found by their role's assignment to the grid or one of its ancestors, grid
chiefs and leaders (包挂领导) by their active posts."""

from collections import defaultdict

from django.utils import timezone

GRID_CHIEF, LEADER_POSTS = "grid_chief", "leader_posts"


def chain_users(grid_codes, roles):
    """{grid code: {user ids}} for each grid in `grid_codes`: holders of `roles` (role slugs, plus GRID_CHIEF for the
    grid's chief and LEADER_POSTS for leaders assigned by post to the grid or an ancestor area)."""
    from wangge.accounts.models import AreaAssignment
    from wangge.geo.codes import ancestor_codes
    from wangge.workforce.models import GridPost, PostKind

    grids = set(grid_codes)
    lineage = {grid: [*ancestor_codes(grid), grid] for grid in grids}
    codes = {code for codes in lineage.values() for code in codes}
    today = timezone.localdate()
    posts = defaultdict(set)  # (area code, kind) → users
    post_kinds = [kind for kind, wanted in ((PostKind.GRID_CHIEF, GRID_CHIEF in roles),
                                            (PostKind.LEADER, LEADER_POSTS in roles)) if wanted]
    if post_kinds:
        for code, kind, user_id in (GridPost.objects.active_on(today)
                                    .filter(kind__in=post_kinds, grid_code__in=codes, holder_user__isnull=False,
                                            holder_user__is_active=True)
                                    .values_list("grid_code", "kind", "holder_user_id")):
            posts[code, kind].add(user_id)
    # A grid chief by post, or by the grid_chief role assigned to the grid (the constant is also that role's slug).
    slugs = [role for role in roles if role != LEADER_POSTS]
    by_role = defaultdict(set)  # (area code, role slug) → users
    if slugs:
        for code, slug, user_id in (AreaAssignment.objects
                                    .filter(area_code__in=codes, user__is_active=True, role__slug__in=slugs)
                                    .values_list("area_code", "role__slug", "user_id")):
            by_role[code, slug].add(user_id)
    result = {}
    for grid in grids:
        users = set(posts[grid, PostKind.GRID_CHIEF])
        for code in lineage[grid]:
            users |= posts[code, PostKind.LEADER]
            for slug in slugs:
                users |= by_role[code, slug]
        result[grid] = users
    return result
