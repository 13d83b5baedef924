"""Forms as data: definitions are checked when saved, answers against them — types, required fields, choices,
constraints, skip logic and the member group — with every problem named by its path."""

import pytest

from wangge.campaigns import forms
from wangge.campaigns.household_form import DEFINITION

ID_NUMBER = "11010519491231002X"


def member(**values):
    row = {"name": "张三", "id_number": ID_NUMBER, "returned": "no", "fever": "no", "contact": "no",
           "isolation": "none"}
    row.update(values)
    return row


def test_the_household_form_is_a_valid_definition():
    assert forms.check_definition(DEFINITION) is DEFINITION
    assert forms.role_field(DEFINITION, "id_number") == "id_number"


def test_clean_answers_and_skip_logic():
    answers = {"members": [member(), member(name="李四", id_number="", returned="yes", return_date="2026-11-20",
                                          from_place="武汉", provinces_14d=["p42", "p37"], fever="yes",
                                          isolation="home")]}
    cleaned = forms.validate_answers(DEFINITION, answers)
    assert cleaned["members"][0] == {"name": "张三", "id_number": ID_NUMBER, "returned": "no", "fever": "no",
                                     "contact": "no", "isolation": "none"}
    assert cleaned["members"][1]["provinces_14d"] == ["p42", "p37"]
    assert forms.stats_of(DEFINITION, cleaned) == {"arrival": 1, "abnormal": 1, "isolation_home": 1}


def test_answers_hidden_by_skip_logic_are_dropped():
    cleaned = forms.validate_answers(DEFINITION, {"members": [member(returned="no", from_place="北京")]})
    assert "from_place" not in cleaned["members"][0]


def test_every_problem_is_named_by_its_path():
    with pytest.raises(forms.AnswerErrors) as err:
        forms.validate_answers(DEFINITION, {"members": [
            member(id_number="110105194912310021", fever="maybe"),
            member(returned="yes", provinces_14d=["p99"]),
        ], "colour": "red"})
    fields = err.value.fields
    assert set(fields) == {"members[0].id_number", "members[0].fever", "members[1].return_date",
                           "members[1].from_place", "members[1].provinces_14d", "colour"}
    assert err.value.status_code == 400


def test_required_group_and_types():
    with pytest.raises(forms.AnswerErrors) as err:
        forms.validate_answers(DEFINITION, {"members": []})
    assert "members" in err.value.fields
    definition = {"fields": [
        {"name": "age", "type": "integer", "label": {"zh": "年龄"}, "constraint": {"min": 0, "max": 120}},
        {"name": "temp", "type": "decimal", "label": {"zh": "体温"}, "required": True},
        {"name": "seen", "type": "date", "label": {"zh": "日期"}},
        {"name": "where", "type": "geopoint", "label": {"zh": "位置"}},
        {"name": "why", "type": "text", "label": {"zh": "原因"}, "relevant": "${temp} >= 37.3 and ${age} > 0"},
    ]}
    forms.check_definition(definition)
    good = forms.validate_answers(definition, {"age": "30", "temp": "37.5", "seen": "2026-11-28",
                                               "where": "36.65 116.99", "why": "发热"})
    assert good == {"age": 30, "temp": "37.5", "seen": "2026-11-28", "where": [36.65, 116.99], "why": "发热"}
    assert "why" not in forms.validate_answers(definition, {"temp": "36.5", "why": "x"})
    with pytest.raises(forms.AnswerErrors) as err:
        forms.validate_answers(definition, {"age": "130.5", "temp": "hot", "seen": "yesterday", "where": "200 1"})
    assert set(err.value.fields) == {"age", "temp", "seen", "where"}


@pytest.mark.parametrize("definition, path", [
    ({"fields": []}, "fields"),
    ({"fields": [{"name": "1a", "type": "text", "label": {"zh": "x"}}]}, "fields[0].name"),
    ({"fields": [{"name": "a", "type": "colour", "label": {"zh": "x"}}]}, "fields[0].type"),
    ({"fields": [{"name": "a", "type": "text"}]}, "fields[0].label"),
    ({"fields": [{"name": "a", "type": "select_one", "label": {"zh": "x"}, "choices": []}]}, "fields[0].choices"),
    ({"fields": [{"name": "a", "type": "text", "label": {"zh": "x"}},
                 {"name": "a", "type": "text", "label": {"zh": "y"}}]}, "fields[1].name"),
    ({"fields": [{"name": "a", "type": "text", "label": {"zh": "x"}, "relevant": "${b} = 'x'"}]},
     "fields[0].relevant"),
    ({"fields": [{"name": "a", "type": "text", "label": {"zh": "x"}, "relevant": "${a} = = 'x'"}]},
     "fields[0].relevant"),
    ({"fields": [{"name": "a", "type": "text", "label": {"zh": "x"}, "relevant": "__import__('os')"}]},
     "fields[0].relevant"),
    ({"fields": [{"name": "g", "type": "repeat", "label": {"zh": "x"}, "children": [
        {"name": "h", "type": "repeat", "label": {"zh": "y"}, "children": [
            {"name": "i", "type": "text", "label": {"zh": "z"}}]}]}]}, "fields[0].children[0]"),
])
def test_broken_definitions_are_refused_with_the_path(definition, path):
    with pytest.raises(forms.FormError) as err:
        forms.check_definition(definition)
    assert err.value.field == path


def test_expression_functions():
    tree = forms.parse_expression("selected(${p}, 'p42') or count-selected(${p}) > 2 or not(${x} = 'yes')")
    assert forms.evaluate(tree, {"p": ["p42"], "x": "yes"}.get)
    assert not forms.evaluate(tree, {"p": ["p11"], "x": "yes"}.get)
    assert forms.evaluate(tree, {"p": ["p11", "p12", "p13"], "x": "yes"}.get)
    assert forms.evaluate(forms.parse_expression("string-length(${n}) > 1"), {"n": "张三"}.get)
