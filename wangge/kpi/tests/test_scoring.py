"""The weighted score, the competition ranks and the red and black lists, by hand."""

import pytest

from wangge.kpi import scoring
from wangge.kpi.models import Form, KpiScheme

JINNIU = [("handling_rate", Form.RATE, 30.0), ("on_time_rate", Form.RATE, 20.0),
          ("rework_rate", Form.COMPLEMENT, 20.0), ("overdue_pending_rate", Form.COMPLEMENT, 20.0),
          ("extension_rate", Form.COMPLEMENT, 10.0)]


def test_the_jinniu_formula():
    rates = {"handling_rate": 0.9, "on_time_rate": 0.8, "rework_rate": 0.1, "overdue_pending_rate": 0.05,
             "extension_rate": 0.2}
    # 0.9 × 30 + 0.8 × 20 + 0.9 × 20 + 0.95 × 20 + 0.8 × 10 = 27 + 16 + 18 + 19 + 8 = 88
    assert scoring.score(rates, JINNIU) == 88
    assert scoring.score({name: 1 if form == Form.RATE else 0 for name, form, _w in JINNIU}, JINNIU) == 100
    assert scoring.score({name: 0 if form == Form.RATE else 1 for name, form, _w in JINNIU}, JINNIU) == 0


def test_missing_rates_are_left_out_and_the_rest_scaled():
    # Only 返工率 0.5 (weight 20) and 延期率 0 (weight 10) known: (10 + 10) of 30 → 66.67 of 100.
    assert scoring.score({"rework_rate": 0.5, "extension_rate": 0.0, "handling_rate": None}, JINNIU) == 66.67
    assert scoring.score({}, JINNIU) is None
    assert scoring.score({"handling_rate": 1}, []) is None


def test_competition_ranks():
    rows = [{"code": c, "score": s} for c, s in [("a", 80), ("b", 90), ("c", None), ("d", 80), ("e", 70)]]
    scoring.rank(rows)
    assert [(r["code"], r["rank"]) for r in rows] == [("b", 1), ("a", 2), ("d", 2), ("e", 4), ("c", None)]


def test_red_and_black_lists():
    rows = scoring.rank([{"code": f"g{i:02}", "score": float(i), "valid": 10} for i in range(12)]
                        + [{"code": "few", "score": 99.0, "valid": 2}, {"code": "none", "score": None, "valid": 50}])
    red, black = scoring.red_black(rows, min_reports=5)
    assert [r["code"] for r in red] == ["g11", "g10", "g09", "g08", "g07"]
    assert [r["code"] for r in black] == ["g00", "g01", "g02", "g03", "g04"]  # worst first
    red, black = scoring.red_black(rows[:9], min_reports=5)  # 8 eligible: never on both lists
    assert len(red) == 5 and [r["code"] for r in black] == ["g04", "g05", "g06"]


@pytest.mark.django_db
def test_the_default_scheme_is_seeded():
    scheme = KpiScheme.objects.get(is_default=True)
    assert scheme.total == 100 and scheme.min_reports == 5
    assert sorted(scoring.terms(scheme)) == sorted(JINNIU)
    assert str(scheme.weights.get(indicator="rework_rate")) == "(1 − 返工率) × 20.00"
    assert scoring.seed_default_scheme() is None  # an existing scheme is left alone
