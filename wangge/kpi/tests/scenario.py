"""A small hand-computed scenario, built through the services with the clock set explicitly (docs/kpis.md has the
definitions; the expected figures are worked out by hand in test_formulas.py).

Community A, grid G (points p0–p5 ≥ 80 m apart), grid worker W; community B, grid H, grid worker W2. Departments D
(handler) and D2. Category 0101 私搭乱建: 4 working hours, red card at 2 × the limit. Working hours 08:30–12:00 and
13:30–17:30; 2025-03-03 is a Monday.

E1  0101 p0  Mon 09:00 report, 09:30 accept, 10:00 dispatch D (due 15:30), sign, 11:00 handle, feedback, verify,
             close, evaluate 5                                    — on time everywhere; accept 0.5 h, handle 1 h
E2  0101 p1  Mon 09:00 report, 14:00 accept (3.5 working hours: late), 14:10 dispatch D, 15:00 return, 15:30 dispatch
             D again (due Tue 10:30), sign, extension +2 working hours approved (due Tue 14:00), Tue 14:30 handle
             (late), feedback, rework, sign, 15:00 handle, feedback, verify, close, evaluate 3
                                                                  — accept 5 h, handle 23.5 h (from Mon 15:30)
E3  0101 p2  Mon 09:00 report, 09:10 accept, 09:20 dispatch D (due 14:50), sign; the clock job on Tue 10:00 finds
             8 h 10 min used of 4 h: red card                     — overdue, not yet handled
E4  0101 p3  Mon 09:00 report, 09:05 void
E5  0102 p0  Mon 09:00 report, 09:15 self_close by W, 11:30 evaluate 4   — same place as E1, another category
E6  0101 p4  Mon 09:00 report                                     — waits for acceptance
E7  0101 p0 + 20 m  Wed 09:00 report                              — a repeat of E1
E8  0701 H   Mon 09:00 report by W2, 09:10 accept, 09:20 dispatch D2 (5 working days)
E9  0101 p5  Mon 2025-03-31 23:30 report                          — March in Asia/Shanghai (15:30 UTC)
E10 0101 p5  Tue 2025-04-01 00:30 report                          — April in Asia/Shanghai (still March in UTC);
                                                                    a repeat of E9
"""

from django.contrib.gis.geos import Point

from wangge.cases.clocks import evaluate_clocks

from .conftest import act, report


def build(cast, clock):
    c, sup, h, w = cast["command"], cast["supervision"], cast["handler"], cast["worker"]
    d, d2 = cast["department"].pk, cast["other_department"].pk
    p = cast["points"]
    e = {}
    clock.at("2025-03-03 09:00")
    for name, point, code in [("E1", p[0], "0101"), ("E2", p[1], "0101"), ("E3", p[2], "0101"),
                              ("E4", p[3], "0101"), ("E5", p[0], "0102"), ("E6", p[4], "0101")]:
        e[name] = report(cast, point, code)
    e["E8"] = report(cast, cast["point_b"], "0701", worker="other_worker")
    clock.at("2025-03-03 09:05")
    act(e["E4"], "void", c, note="误报")
    clock.at("2025-03-03 09:10")
    act(e["E3"], "accept", c)
    act(e["E8"], "accept", c)
    clock.at("2025-03-03 09:15")
    act(e["E5"], "self_close", w)
    clock.at("2025-03-03 09:20")
    act(e["E3"], "dispatch", c, department=d)
    act(e["E8"], "dispatch", c, department=d2)
    clock.at("2025-03-03 09:30")
    act(e["E1"], "accept", c)
    clock.at("2025-03-03 10:00")
    act(e["E1"], "dispatch", c, department=d)
    clock.at("2025-03-03 10:05")
    act(e["E3"], "sign", h)
    clock.at("2025-03-03 10:10")
    act(e["E1"], "sign", h)
    for moment, action, actor, kwargs in [("11:00", "handle", h, {}), ("11:05", "feedback", h, {}),
                                          ("11:10", "verify", sup, {}), ("11:15", "close", sup, {}),
                                          ("11:20", "evaluate", sup, {"satisfaction": 5})]:
        clock.at(f"2025-03-03 {moment}")
        act(e["E1"], action, actor, **kwargs)
    clock.at("2025-03-03 11:30")
    act(e["E5"], "evaluate", sup, satisfaction=4)
    clock.at("2025-03-03 14:00")
    act(e["E2"], "accept", c)
    clock.at("2025-03-03 14:10")
    act(e["E2"], "dispatch", c, department=d)
    clock.at("2025-03-03 15:00")
    act(e["E2"], "return", h, note="不属本部门")
    clock.at("2025-03-03 15:30")
    act(e["E2"], "dispatch", c, department=d)
    clock.at("2025-03-03 15:35")
    act(e["E2"], "sign", h)
    clock.at("2025-03-03 15:40")
    act(e["E2"], "request_extension", h, note="需协调", amount=2, unit="hours")
    clock.at("2025-03-03 15:45")
    act(e["E2"], "approve_extension", c)
    clock.at("2025-03-04 10:00")
    evaluate_clocks(clock.now)
    for moment, action, actor, kwargs in [("14:30", "handle", h, {}), ("14:35", "feedback", h, {}),
                                          ("14:40", "rework", sup, {"note": "未整改到位"}), ("14:45", "sign", h, {}),
                                          ("15:00", "handle", h, {}), ("15:05", "feedback", h, {}),
                                          ("15:10", "verify", sup, {}), ("15:15", "close", sup, {}),
                                          ("15:20", "evaluate", sup, {"satisfaction": 3})]:
        clock.at(f"2025-03-04 {moment}")
        act(e["E2"], action, actor, **kwargs)
    clock.at("2025-03-05 09:00")
    near = Point(p[0].x + 0.0002, p[0].y, srid=4326)  # about 18 m east of p0
    e["E7"] = report(cast, near, "0101")
    clock.at("2025-03-31 23:30")
    e["E9"] = report(cast, p[5], "0101")
    clock.at("2025-04-01 00:30")
    e["E10"] = report(cast, p[5], "0101")
    for event in e.values():
        event.refresh_from_db()
    return e
