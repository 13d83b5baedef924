"""The weighted score of a KpiScheme, the ranking, and the red and black lists (红黑榜).

score = Σ weight × value over the scheme's weights, value = the rate or 1 − the rate (its `form`). A rate with no
denominator in the row (null) is left out and the remaining weights are scaled up to the scheme's full total, so a
grid with no rated event is neither rewarded nor punished for it; with no rate at all the score is null.
Ranks are competition ranks (1, 2, 2, 4) by score, highest first; rows without a score get no rank.
"""

from decimal import Decimal

from .indicators import RATE_BY_NAME
from .models import Form, KpiScheme

RED_BLACK_SIZE = 5

# The seeded default (DOMAIN.md §6): Chengdu Jinniu district's digital urban management assessment, out of 100.
JINNIU = {
    "name": "成都金牛数字城管考核（默认）",
    "note": "日常处置率×30 + 按期处置率×20 + (1−返工率)×20 + (1−超期待处置率)×20 + (1−延期率)×10，满分100。",
    "weights": [("handling_rate", Form.RATE, 30), ("on_time_rate", Form.RATE, 20),
                ("rework_rate", Form.COMPLEMENT, 20), ("overdue_pending_rate", Form.COMPLEMENT, 20),
                ("extension_rate", Form.COMPLEMENT, 10)],
}


def terms(scheme):
    """[(rate name, form, weight as float)] of `scheme` (None → no terms)."""
    if scheme is None:
        return []
    return [(w.indicator, w.form, float(w.weight)) for w in scheme.weights.all() if w.indicator in RATE_BY_NAME]


def score(rates, scheme_terms):
    total = sum(weight for _name, _form, weight in scheme_terms)
    used, points = 0.0, 0.0
    for name, form, weight in scheme_terms:
        value = rates.get(name)
        if value is None or weight == 0:
            continue
        used += weight
        points += weight * (1 - value if form == Form.COMPLEMENT else value)
    if not used:
        return None
    return round(points * total / used, 2)


def rank(rows):
    """Sorts `rows` (dicts with score and code) best first and sets each row's rank."""
    rows.sort(key=lambda row: (row["score"] is None, -(row["score"] or 0), str(row["code"])))
    previous, current = None, 0
    for position, row in enumerate(rows, start=1):
        if row["score"] is None:
            row["rank"] = None
            continue
        if row["score"] != previous:
            current, previous = position, row["score"]
        row["rank"] = current
    return rows


def red_black(rows, min_reports, size=RED_BLACK_SIZE):
    """(red, black): the best and the worst `size` ranked rows with at least `min_reports` valid reports; a row is
    never on both lists (with fewer than 2 × size eligible rows the black list is shorter)."""
    eligible = [row for row in rows if row["score"] is not None and row["valid"] >= min_reports]
    red = eligible[:size]
    rest = eligible[len(red):]
    black = list(reversed(rest[-size:])) if rest else []
    return red, black


def min_reports(scheme):
    """The valid reports a row needs to be on the red and black lists (1 without a scheme)."""
    return scheme.min_reports if scheme else 1


def default_scheme():
    return KpiScheme.objects.filter(is_default=True).prefetch_related("weights").first() or (
        KpiScheme.objects.prefetch_related("weights").first())


def seed_default_scheme(using="default"):
    """Creates the Jinniu scheme as the default when there is no scheme at all (an administrator's schemes stay)."""
    from .models import KpiWeight

    if KpiScheme.objects.using(using).exists():
        return None
    scheme = KpiScheme.objects.using(using).create(name=JINNIU["name"], note=JINNIU["note"], is_default=True)
    KpiWeight.objects.using(using).bulk_create([
        KpiWeight(scheme=scheme, indicator=name, form=form, weight=Decimal(weight))
        for name, form, weight in JINNIU["weights"]])
    return scheme
