"""The closed loop as data (DOMAIN.md §4): which action moves an event from which states to which, and who may.

    reported ──accept──▶ accepted ──dispatch──▶ dispatched ──sign──▶ signed ──handle──▶ handled ──feedback──▶ fed_back
       │  └──void──▶ voided                       ▲   │return          │return                                  │
       │                                          │   ▼                ▼                                        │
       │                               accepted ◀─┴── (back to the dispatcher, with a reason)                   │
       │                                          └──────────────── rework (返工) ◀────────────────────────────┤
       └──self_close (自行处置, own grid, category allows)──▶ closed ◀──close── verified ◀──verify─────────────┘
                                                                │
                                                                └──evaluate──▶ evaluated

`escalate` (上报上级) changes no state either: it hands a case not yet dispatched from its holding level's command
centre to the one above (community → subdistrict → district); a category may send its urgent or emergency reports
straight to the district (越级上报, Category.skip_level_from). `instruct` (领导批示) records a leader's instruction on
any open case and tells the dispatcher and the department.

`wait_citizen` (等待群众, the department, with a reason) stops the clock while the case waits for the citizen (an
appointment, a document); `resume` starts it again and moves the due moment on by the working time paused. While it
waits, only resume, instruct, supervise and urge are possible.

`supervise` (督办, the supervision centre, with a note) presses the department on a running case by hand, beside
the clock job's automatic cards: a timeline row and a notification to the department and the dispatcher.

`urge` (加急) changes no state: it raises the urgency of any open event. Extensions (延期) change no state either:
the handler's department asks (request_extension, with a reason and a new due moment), the command centre approves
(the due moment moves) or rejects (with a reason). Who may is one of:

- REPORTER: cases.report in the event's grid (and, for self_close, the reporter themself);
- COMMAND: cases.dispatch in the event's grid (指挥中心), whose scope also covers the level holding the case;
- DEPARTMENT: cases.handle and an active membership of the event's assigned department;
- SUPERVISION: cases.verify in the event's grid (监督中心) — never the event's handler;
- LEADER: cases.instruct in the event's grid (领导).
"""

from dataclasses import dataclass

from wangge.accounts.roles import DISPATCH_EVENT, HANDLE_EVENT, INSTRUCT_EVENT, REPORT_EVENT, VERIFY_EVENT

from .models import EventState as S

REPORTER, COMMAND, DEPARTMENT, SUPERVISION, LEADER = "reporter", "command", "department", "supervision", "leader"
PERMISSION = {REPORTER: REPORT_EVENT, COMMAND: DISPATCH_EVENT, DEPARTMENT: HANDLE_EVENT, SUPERVISION: VERIFY_EVENT,
              LEADER: INSTRUCT_EVENT}
OPEN_STATES = (S.REPORTED, S.ACCEPTED, S.DISPATCHED, S.SIGNED, S.HANDLED, S.FED_BACK, S.VERIFIED)
# The time limit is the department's: it runs from dispatch until the department feeds back (反馈); verification
# is the supervision centre's and does not make the department late (clocks.evaluate_clocks, the KPIs' 超期).
CLOCK_STATES = (S.DISPATCHED, S.SIGNED, S.HANDLED)
EXTENSION_REQUEST_STATES = (S.DISPATCHED, S.SIGNED)
PAUSE_STATES = (S.DISPATCHED, S.SIGNED, S.HANDLED)
WHILE_PAUSED = ("resume", "instruct", "urge", "supervise")  # the only actions on a case waiting for the citizen
# A request made before the feedback may still be decided after it (the decision then moves no clock).
EXTENSION_DECISION_STATES = (S.DISPATCHED, S.SIGNED, S.HANDLED, S.FED_BACK)


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple
    target: str | None  # None: the state stays (urge)
    who: str
    label: str
    needs_note: bool = False
    in_diagram: bool = True  # a state-keeping action shows as a loop on each of its states (urge: left out)


TRANSITIONS = {t.action: t for t in [
    Transition("accept", (S.REPORTED,), S.ACCEPTED, COMMAND, "受理/立案"),
    Transition("void", (S.REPORTED,), S.VOIDED, COMMAND, "作废", needs_note=True),
    Transition("dispatch", (S.ACCEPTED,), S.DISPATCHED, COMMAND, "派遣"),
    Transition("urge", OPEN_STATES, None, COMMAND, "加急", in_diagram=False),
    Transition("escalate", (S.REPORTED, S.ACCEPTED), None, COMMAND, "上报上级", needs_note=True, in_diagram=False),
    Transition("instruct", OPEN_STATES, None, LEADER, "领导批示", needs_note=True, in_diagram=False),
    Transition("supervise", CLOCK_STATES, None, SUPERVISION, "督办", needs_note=True, in_diagram=False),
    Transition("sign", (S.DISPATCHED,), S.SIGNED, DEPARTMENT, "签收"),
    Transition("return", (S.DISPATCHED, S.SIGNED), S.ACCEPTED, DEPARTMENT, "回退", needs_note=True),
    Transition("handle", (S.SIGNED,), S.HANDLED, DEPARTMENT, "处置"),
    Transition("feedback", (S.HANDLED,), S.FED_BACK, DEPARTMENT, "反馈"),
    Transition("verify", (S.FED_BACK,), S.VERIFIED, SUPERVISION, "核查"),
    Transition("rework", (S.FED_BACK,), S.DISPATCHED, SUPERVISION, "返工", needs_note=True),
    Transition("close", (S.VERIFIED,), S.CLOSED, SUPERVISION, "结案"),
    Transition("evaluate", (S.CLOSED,), S.EVALUATED, SUPERVISION, "评价"),
    Transition("self_close", (S.REPORTED,), S.CLOSED, REPORTER, "自行处置"),
    Transition("request_extension", EXTENSION_REQUEST_STATES, None, DEPARTMENT, "申请延期", needs_note=True),
    Transition("wait_citizen", PAUSE_STATES, None, DEPARTMENT, "等待群众", needs_note=True, in_diagram=False),
    Transition("resume", PAUSE_STATES, None, DEPARTMENT, "恢复计时", in_diagram=False),
    Transition("approve_extension", EXTENSION_DECISION_STATES, None, COMMAND, "批准延期"),
    Transition("reject_extension", EXTENSION_DECISION_STATES, None, COMMAND, "驳回延期", needs_note=True),
]}
ACTIONS = tuple(TRANSITIONS)


def mermaid():
    """The state diagram in Mermaid, generated from TRANSITIONS (docs/events.md carries a copy)."""
    lines = ["stateDiagram-v2", "    [*] --> reported"]
    for t in TRANSITIONS.values():
        if not t.in_diagram:
            continue
        for source in t.sources:
            lines.append(f"    {source} --> {t.target or source}: {t.action} ({t.label})")
    lines.append("    evaluated --> [*]")
    lines.append("    voided --> [*]")
    return "\n".join(lines)
