from wangge.geo import codes
from wangge.geo.numbering import reading_order


def test_levels_follow_code_length():
    assert codes.level_of("370103") == "district"
    assert codes.level_of("370103002") == "subdistrict"
    assert codes.level_of("370103002001") == "community"
    assert codes.level_of("370103002001007") == "grid"
    assert codes.level_of("3701030020") is None
    assert codes.level_of("37010300200A") is None


def test_parent_and_ancestors_are_prefixes():
    assert codes.parent_code("370103002001007") == "370103002001"
    assert codes.parent_code("370103002") == "370103"
    assert codes.parent_code("370103") is None
    assert codes.ancestor_codes("370103002001007") == ["370103", "370103002", "370103002001"]


def test_code_errors_name_every_broken_rule():
    assert codes.code_errors("370103002001007", "grid", "370103002001") == []
    assert any("15 digits" in e for e in codes.code_errors("37010300200107", "grid"))
    assert any("digits only" in e for e in codes.code_errors("37010300200100X", "grid"))
    assert any("parent" in e for e in codes.code_errors("370103002002001", "grid", "370103002001"))
    assert any("zero sequence" in e for e in codes.code_errors("370103002001000", "grid", "370103002001"))
    assert codes.code_errors("", "grid") and codes.code_errors(None, "grid")


def test_reading_order_is_rows_north_to_south_then_west_to_east():
    # Two rows: the northern one (y≈10) first, each row west to east.
    points = [(5, 0.2), (1, 10), (3, 9.8), (0, 0), (9, 10.1)]
    assert reading_order(points, band_height=1) == [1, 2, 4, 3, 0]
