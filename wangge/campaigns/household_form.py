"""The household basic-situation form (一张基本情况表格, DOMAIN.md §7), seeded as form `household-basic` v1 after
every migrate (when missing): for each member — name, ID number, phone, work unit, return date, where from,
provinces visited in the last 14 days, transport and number, fever or cough, contact with confirmed cases — plus
the isolation state the statistics tables count."""

from django.db import connections

CODE = "household-basic"
PROVINCES = [
    ("11", "北京", "Beijing"), ("12", "天津", "Tianjin"), ("13", "河北", "Hebei"), ("14", "山西", "Shanxi"),
    ("15", "内蒙古", "Inner Mongolia"), ("21", "辽宁", "Liaoning"), ("22", "吉林", "Jilin"),
    ("23", "黑龙江", "Heilongjiang"), ("31", "上海", "Shanghai"), ("32", "江苏", "Jiangsu"), ("33", "浙江", "Zhejiang"),
    ("34", "安徽", "Anhui"), ("35", "福建", "Fujian"), ("36", "江西", "Jiangxi"), ("37", "山东", "Shandong"),
    ("41", "河南", "Henan"), ("42", "湖北", "Hubei"), ("43", "湖南", "Hunan"), ("44", "广东", "Guangdong"),
    ("45", "广西", "Guangxi"), ("46", "海南", "Hainan"), ("50", "重庆", "Chongqing"), ("51", "四川", "Sichuan"),
    ("52", "贵州", "Guizhou"), ("53", "云南", "Yunnan"), ("54", "西藏", "Tibet"), ("61", "陕西", "Shaanxi"),
    ("62", "甘肃", "Gansu"), ("63", "青海", "Qinghai"), ("64", "宁夏", "Ningxia"), ("65", "新疆", "Xinjiang"),
    ("71", "台湾", "Taiwan"), ("81", "香港", "Hong Kong"), ("82", "澳门", "Macao"),
]


def _label(zh, en):
    return {"zh": zh, "en": en}


DEFINITION = {"fields": [
    {"name": "members", "type": "repeat", "label": _label("家庭成员", "Household members"), "required": True,
     "children": [
         {"name": "name", "type": "text", "label": _label("姓名", "Name"), "required": True, "role": "name",
          "constraint": {"max_length": 50}},
         {"name": "id_number", "type": "text", "label": _label("身份证号", "ID number"), "role": "id_number"},
         {"name": "phone", "type": "text", "label": _label("联系电话", "Phone"), "role": "phone"},
         {"name": "work_unit", "type": "text", "label": _label("工作单位", "Work unit"),
          "constraint": {"max_length": 100}},
         {"name": "returned", "type": "yes_no", "label": _label("近期是否外出返回", "Returned from elsewhere recently"),
          "required": True, "stat": "arrival"},
         {"name": "return_date", "type": "date", "label": _label("返回日期", "Return date"), "required": True,
          "relevant": "${returned} = 'yes'"},
         {"name": "from_place", "type": "text", "label": _label("从何地返回", "Returned from"), "required": True,
          "relevant": "${returned} = 'yes'", "sensitive": True, "constraint": {"max_length": 100}},
         {"name": "provinces_14d", "type": "select_multiple",
          "label": _label("14天内到过的省份", "Provinces visited in the last 14 days"),
          "relevant": "${returned} = 'yes'", "sensitive": True,
          "choices": [{"value": f"p{code}", "label": _label(zh, en)} for code, zh, en in PROVINCES]},
         {"name": "transport", "type": "text", "label": _label("交通方式及车次/航班", "Transport and its number"),
          "relevant": "${returned} = 'yes'", "sensitive": True, "constraint": {"max_length": 100}},
         {"name": "fever", "type": "yes_no", "label": _label("是否发热或咳嗽", "Fever or cough"), "required": True,
          "stat": "abnormal", "sensitive": True},
         {"name": "contact", "type": "yes_no", "label": _label("是否接触确诊病例", "Contact with confirmed cases"),
          "required": True, "stat": "contact", "sensitive": True},
         {"name": "isolation", "type": "select_one", "label": _label("隔离情况", "Isolation"), "required": True,
          "sensitive": True,
          "choices": [{"value": "none", "label": _label("无", "None")},
                      {"value": "home", "label": _label("居家隔离", "At home")},
                      {"value": "central", "label": _label("集中隔离", "In a centre")}],
          "stat_choices": {"home": "isolation_home", "central": "isolation_central"}},
     ]},
    {"name": "note", "type": "text", "label": _label("备注", "Note"), "constraint": {"max_length": 500}},
]}


def ensure_household_form(using="default", **kwargs):
    """post_migrate: creates the household form's first version when it is missing."""
    from .forms import check_definition
    from .models import Form, FormVersion

    if Form._meta.db_table not in connections[using].introspection.table_names():
        return
    form, _created = Form.objects.using(using).get_or_create(
        code=CODE, defaults={"title": "家庭基本情况摸排表", "title_en": "Household basic-situation form"})
    if not FormVersion.objects.using(using).filter(form=form).exists():
        FormVersion.objects.using(using).create(form=form, number=1, definition=check_definition(DEFINITION))
