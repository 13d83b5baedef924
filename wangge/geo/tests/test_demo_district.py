import shapely

from wangge.geo import demo_district
from wangge.geo.models import Area


def test_demo_tree_uses_every_real_code_and_nests_exactly():
    tree = demo_district.build(seed=3, grid_count=400)
    assert tree.code == "370103"
    assert len(tree.children) == 17
    communities = [c for s in tree.children for c in s.children]
    assert len(communities) == 216
    grids = [g for c in communities for g in c.children]
    assert len(grids) == 400
    assert all(g.code.startswith(c.code) and len(g.code) == 15 for c in communities for g in c.children)
    # The grids tile the district: their areas add up to the district's and no two overlap.
    union = shapely.union_all([g.geom for g in grids])
    assert abs(union.area - tree.geom.area) / tree.geom.area < 1e-9
    assert abs(sum(g.geom.area for g in grids) - tree.geom.area) / tree.geom.area < 1e-9


def test_demo_is_deterministic_for_a_seed():
    first, second = demo_district.build(seed=5, grid_count=300), demo_district.build(seed=5, grid_count=300)
    assert first.geom.equals_exact(second.geom, 0)
    assert [c.children[0].geom.wkb for c in first.children] == [c.children[0].geom.wkb for c in second.children]


def test_loaded_district_is_about_281_km2_around_jinan(district):
    root = Area.objects.get(generation=district, level="district")
    assert 275e6 < root.area_m2 < 287e6
    centre = root.geom.centroid
    assert abs(centre.x - 116.992) < 0.05 and abs(centre.y - 36.651) < 0.05
    assert Area.objects.filter(generation=district, level="community").count() == 216
    assert root.name == "市中区"
