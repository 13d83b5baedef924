"""The rollups' SQL: the trigger on the events table that keeps kpi_rollup (and the two per-event flags) right on
every write, and the set-based rebuild — both generated from indicators.COUNTERS, so they cannot disagree.

The trigger is one PL/pgSQL function run once per statement (AFTER INSERT / UPDATE / DELETE, with the statement's
old and new rows as transition tables). In one SQL statement it

1. decides the flags of the rows whose inputs changed — late acceptance (working time from report to acceptance
   over the limit, on the work calendar: kpi_working_seconds) and repeat (an earlier report of the same category
   within the radius and the window) — and writes them to kpi_lateacceptance / kpi_repeatevent;
2. subtracts every old row's contribution (with the flags as stored before the statement: a data-modifying WITH
   reads the snapshot from before its own writes) and adds every new row's, per (dimension, month, grid, member);
3. upserts the non-zero deltas in key order (a stable lock order for concurrent writers).

The migration holds a frozen copy of install_sql() (a test checks it is current); a change here needs a new
migration with the new text.
"""

from django.db import connection, transaction

from .indicators import COUNTERS, counter_sql

EVENTS = "cases_event"
CALENDAR = "cases_calendarday"
ROLLUP = "kpi_rollup"
LATE = "kpi_lateacceptance"
REPEAT = "kpi_repeatevent"
PARAMETERS = "kpi_kpiparameters"
NAMES = [counter.name for counter in COUNTERS]
KEY = ("dimension", "month", "grid_code", "member_id")
# The flags as stored, for the event e.
STORED_LATE = f"EXISTS (SELECT 1 FROM {LATE} l WHERE l.event_id = e.id)"
STORED_REPEAT = f"EXISTS (SELECT 1 FROM {REPEAT} r WHERE r.event_id = e.id)"

WORKING_SECONDS = f"""
CREATE OR REPLACE FUNCTION kpi_working_seconds(a timestamptz, b timestamptz, cap double precision,
                                               starts integer[], ends integer[], tz text)
RETURNS double precision LANGUAGE plpgsql STABLE AS $fn$
-- Working seconds from a to b on the work calendar (cases.calendar's rule: Monday-Friday unless listed as a
-- holiday, a listed make-up working day works; working time inside the spans starts[i]..ends[i], seconds after
-- local midnight in zone tz). With a cap, stops counting once past it (NULL: counts to b). The calendar is read a
-- day at a time: acceptance takes hours or days, not years.
DECLARE
  la timestamp := a AT TIME ZONE tz;
  lb timestamp := b AT TIME ZONE tz;
  day date;
  listed text;
  total double precision := 0;
  lo timestamp;
  hi timestamp;
BEGIN
  IF b <= a THEN
    RETURN 0;
  END IF;
  day := la::date;
  WHILE day <= lb::date LOOP
    SELECT c.kind INTO listed FROM {CALENDAR} c WHERE c.date = day;
    IF listed = 'makeup_workday' OR (listed IS DISTINCT FROM 'holiday' AND extract(isodow FROM day) < 6) THEN
      FOR i IN 1 .. coalesce(array_length(starts, 1), 0) LOOP
        lo := greatest(day + make_interval(secs => starts[i]), la);
        hi := least(day + make_interval(secs => ends[i]), lb);
        IF hi > lo THEN
          total := total + date_part('epoch', hi - lo);
        END IF;
      END LOOP;
      IF cap IS NOT NULL AND total > cap THEN
        RETURN total;
      END IF;
    END IF;
    day := day + 1;
  END LOOP;
  RETURN total;
END
$fn$;
"""

# Reads the parameters row into the PL/pgSQL variables every statement below uses.
DECLARE_PARAMETERS = """
DECLARE
  tz text;
  limit_s double precision;
  radius double precision;
  win interval;
  spans text;
  starts integer[];
  ends integer[];
"""
READ_PARAMETERS = f"""
  SELECT p.time_zone, p.accept_limit_hours * 3600, p.repeat_radius_m, make_interval(days => p.repeat_window_days),
         p.working_hours
    INTO tz, limit_s, radius, win, spans
    FROM {PARAMETERS} p WHERE p.id = 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'kpi: the parameters row is missing (run manage.py migrate)';
  END IF;
  SELECT array_agg(extract(epoch FROM split_part(s, '-', 1)::time)::integer ORDER BY n),
         array_agg(extract(epoch FROM split_part(s, '-', 2)::time)::integer ORDER BY n)
    INTO starts, ends
    FROM unnest(string_to_array(spans, ',')) WITH ORDINALITY AS t(s, n);
"""


def late_seconds_sql(row):
    """The working seconds `row` took to be accepted when they may exceed the limit (NULL when not accepted or the
    wall-clock time is already within it: working time never exceeds wall-clock time)."""
    return (f"CASE WHEN {row}.accepted_at IS NULL OR {row}.accepted_at - {row}.created_at <= "
            f"make_interval(secs => limit_s) THEN NULL "
            f"ELSE kpi_working_seconds({row}.created_at, {row}.accepted_at, NULL, starts, ends, tz) END")


def box_sql(location):
    """A box around `location` a little wider than the repeat radius (for &&, on the location's GiST index)."""
    return (f"ST_Expand({location}, radius / (110000.0 * cos(radians(least(abs(ST_Y({location})) + 0.01, 89)))), "
            "radius / 110000.0)")


def near_sql(location):
    """The events in the box around `location`, found on the location's GiST index alone (OFFSET 0 keeps the
    planner from AND-ing in the category's or a date's index: a bitmap of every event of a category, per probe)."""
    return (f"(SELECT c.id, c.category_id, c.created_at, c.location FROM {EVENTS} c "
            f"WHERE c.location && {box_sql(location)} OFFSET 0)")


def earlier_sql(row):
    """A LATERAL subquery: an earlier report of `row`'s category within the radius and the window (the first the
    search meets; the flag is what counts). ST_DistanceSphere decides."""
    return f"""(SELECT x.id, ST_DistanceSphere(x.location, {row}.location) AS distance
        FROM {near_sql(f"{row}.location")} x
        WHERE x.category_id = {row}.category_id
          AND x.created_at >= {row}.created_at - win
          AND (x.created_at, x.id) < ({row}.created_at, {row}.id)
          AND ST_DistanceSphere(x.location, {row}.location) <= radius
        LIMIT 1)"""


def facts_sql(source, late, repeat, tz="tz"):
    """One row per event of `source` (aliased e): its keys and its contribution to every counter."""
    columns = [f"date_trunc('month', e.created_at AT TIME ZONE {tz})::date AS month", "e.grid_code",
               "e.department_id", "CASE WHEN e.source = 'grid_worker' THEN e.reporter_id END AS worker_id"]
    columns += [f"{counter_sql(counter, late, repeat)} AS {counter.name}" for counter in COUNTERS]
    return f"SELECT {', '.join(columns)} FROM {source}"


def upsert_sql(delta):
    """Adds the rows of `delta` (facts_sql's columns, signed) to kpi_rollup, per dimension, in key order."""
    sums = ", ".join(f"sum(x.{name})" for name in NAMES)
    nonzero = " OR ".join(f"sum(x.{name}) <> 0" for name in NAMES)
    updates = ", ".join(f"{name} = {ROLLUP}.{name} + EXCLUDED.{name}" for name in NAMES)
    return f"""INSERT INTO {ROLLUP} ({', '.join(KEY)}, {', '.join(NAMES)})
    SELECT d.dimension, x.month, x.grid_code, d.member_id, {sums}
    FROM (SELECT * FROM ({delta}) f OFFSET 0) x  -- OFFSET 0: each event's figures once, not once per dimension
    CROSS JOIN LATERAL (VALUES (0::smallint, 0::bigint), (1::smallint, x.department_id),
                               (2::smallint, x.worker_id)) AS d(dimension, member_id)
    WHERE d.member_id IS NOT NULL
    GROUP BY d.dimension, x.month, x.grid_code, d.member_id
    HAVING {nonzero}
    ORDER BY 1, 2, 3, 4
    ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {updates}"""


def _negated(facts):
    columns = ", ".join(["month", "grid_code", "department_id", "worker_id", *(f"-{name} AS {name}" for name in NAMES)])
    return f"SELECT {columns} FROM ({facts}) f"


def change_sql(old, new):
    """The one statement a trigger runs for the transition tables `old` and `new` (either may be an empty set)."""
    new_late = (f"CASE WHEN e.id IN (SELECT id FROM late_changed) THEN e.id IN (SELECT id FROM late_set) "
                f"ELSE {STORED_LATE} END")
    new_repeat = (f"CASE WHEN e.id IN (SELECT id FROM repeat_changed) THEN e.id IN (SELECT id FROM repeat_set) "
                  f"ELSE {STORED_REPEAT} END")
    old_facts = facts_sql("o AS e", STORED_LATE, STORED_REPEAT)
    new_facts = facts_sql("n AS e", new_late, new_repeat)
    return f"""WITH o AS (SELECT * FROM {old}), n AS (SELECT * FROM {new}),
  pairs AS (
    SELECT coalesce(n.id, o.id) AS id,
           (o.id IS NULL OR n.id IS NULL OR o.created_at IS DISTINCT FROM n.created_at
            OR o.accepted_at IS DISTINCT FROM n.accepted_at) AS late_input,
           (o.id IS NULL OR n.id IS NULL OR o.created_at IS DISTINCT FROM n.created_at
            OR o.category_id IS DISTINCT FROM n.category_id
            OR ST_AsEWKB(o.location) IS DISTINCT FROM ST_AsEWKB(n.location)) AS repeat_input
    FROM o FULL JOIN n ON n.id = o.id),
  late_changed AS (SELECT id FROM pairs WHERE late_input),
  repeat_changed AS (SELECT id FROM pairs WHERE repeat_input),
  late_set AS (
    SELECT q.id, q.seconds FROM (
      SELECT n.id, {late_seconds_sql("n")} AS seconds FROM n WHERE n.id IN (SELECT id FROM late_changed)) q
    WHERE q.seconds > limit_s),
  repeat_set AS (
    SELECT n.id, f.id AS earlier_id, f.distance FROM n CROSS JOIN LATERAL {earlier_sql("n")} f
    WHERE n.id IN (SELECT id FROM repeat_changed)),
  late_deleted AS (
    DELETE FROM {LATE} l WHERE l.event_id IN (SELECT id FROM late_changed)
      AND l.event_id NOT IN (SELECT id FROM late_set) RETURNING l.event_id),
  late_written AS (
    INSERT INTO {LATE} (event_id, working_hours) SELECT id, seconds / 3600.0 FROM late_set
    ON CONFLICT (event_id) DO UPDATE SET working_hours = EXCLUDED.working_hours RETURNING event_id),
  repeat_deleted AS (
    DELETE FROM {REPEAT} r WHERE r.event_id IN (SELECT id FROM repeat_changed)
      AND r.event_id NOT IN (SELECT id FROM repeat_set) RETURNING r.event_id),
  repeat_written AS (
    INSERT INTO {REPEAT} (event_id, earlier_id, distance_m) SELECT id, earlier_id, distance FROM repeat_set
    ON CONFLICT (event_id) DO UPDATE SET earlier_id = EXCLUDED.earlier_id, distance_m = EXCLUDED.distance_m
    RETURNING event_id)
{upsert_sql(f"{_negated(old_facts)} UNION ALL {new_facts}")}"""


def insert_sql(new):
    """change_sql for inserted rows alone: nothing to take back and nothing stored yet for new ids, so the pairing
    with old rows, the deletes and the negated half drop out (reporting is the hot path: ≥ 200 events/s)."""
    late = "e.id IN (SELECT id FROM late_set)"
    repeat = "e.id IN (SELECT id FROM repeat_set)"
    return f"""WITH n AS (SELECT * FROM {new}),
  late_set AS (
    SELECT q.id, q.seconds FROM (SELECT n.id, {late_seconds_sql("n")} AS seconds FROM n) q
    WHERE q.seconds > limit_s),
  repeat_set AS (
    SELECT n.id, f.id AS earlier_id, f.distance FROM n CROSS JOIN LATERAL {earlier_sql("n")} f),
  late_written AS (
    INSERT INTO {LATE} (event_id, working_hours) SELECT id, seconds / 3600.0 FROM late_set RETURNING event_id),
  repeat_written AS (
    INSERT INTO {REPEAT} (event_id, earlier_id, distance_m) SELECT id, earlier_id, distance FROM repeat_set
    RETURNING event_id)
{upsert_sql(facts_sql("n AS e", late, repeat))}"""


def later_neighbour_exists_sql(new):
    """Whether any inserted row has a later report near it (of its category, within the window) — the only case
    in which inserting moves another event's figures. A fresh report has none: its trigger skips the second
    statement after this one index probe."""
    return f"""EXISTS (SELECT 1 FROM {new} p CROSS JOIN LATERAL {near_sql("p.location")} x
      WHERE x.category_id = p.category_id AND x.created_at >= p.created_at AND x.created_at <= p.created_at + win
        AND ST_DistanceSphere(x.location, p.location) <= radius AND x.id NOT IN (SELECT id FROM {new}))"""


PLACE_CHANGED = """
    SELECT coalesce(n.id, o.id) AS id FROM o FULL JOIN n ON n.id = o.id
    WHERE o.id IS NULL OR n.id IS NULL OR o.created_at IS DISTINCT FROM n.created_at
       OR o.category_id IS DISTINCT FROM n.category_id
       OR ST_AsEWKB(o.location) IS DISTINCT FROM ST_AsEWKB(n.location)"""


def inserted_neighbours_sql(new):
    """neighbours_sql for inserted rows alone: every new row's place changed; there are no old rows."""
    return neighbours_sql("new_rows WHERE FALSE", new, changed="SELECT n.id FROM n")


def neighbours_sql(old, new, changed=PLACE_CHANGED):
    """The trigger's second statement: the later reports near a row whose place, category or report moment changed
    (inserted, moved, deleted) are decided again — an earlier report may have come or gone — and their counters move
    by the difference (only `repeats` can). Without such a row (every action of the workflow) it finds nothing.
    `changed` selects the ids of those rows (over o and n)."""
    source = f"{EVENTS} e JOIN decided d ON d.id = e.id"
    delta = f"{_negated(facts_sql(source, STORED_LATE, 'd.was'))} UNION ALL " \
            f"{facts_sql(source, STORED_LATE, 'd.earlier_id IS NOT NULL')}"
    return f"""WITH o AS (SELECT * FROM {old}), n AS (SELECT * FROM {new}),
  changed AS ({changed}),
  places AS (
    SELECT o.category_id, o.location, o.created_at FROM o WHERE o.id IN (SELECT id FROM changed)
    UNION ALL
    SELECT n.category_id, n.location, n.created_at FROM n WHERE n.id IN (SELECT id FROM changed)),
  affected AS (
    SELECT DISTINCT x.id FROM places p CROSS JOIN LATERAL {near_sql("p.location")} x
    WHERE x.category_id = p.category_id AND x.created_at >= p.created_at AND x.created_at <= p.created_at + win
      AND ST_DistanceSphere(x.location, p.location) <= radius AND x.id NOT IN (SELECT id FROM changed)),
  decided AS (
    SELECT e.id, f.id AS earlier_id, f.distance, (r.event_id IS NOT NULL) AS was
    FROM {EVENTS} e JOIN affected a ON a.id = e.id
    LEFT JOIN LATERAL {earlier_sql("e")} f ON TRUE
    LEFT JOIN {REPEAT} r ON r.event_id = e.id),
  repeat_deleted AS (
    DELETE FROM {REPEAT} r WHERE r.event_id IN (SELECT id FROM decided WHERE earlier_id IS NULL)
    RETURNING r.event_id),
  repeat_written AS (
    INSERT INTO {REPEAT} (event_id, earlier_id, distance_m)
    SELECT id, earlier_id, distance FROM decided WHERE earlier_id IS NOT NULL
    ON CONFLICT (event_id) DO UPDATE SET earlier_id = EXCLUDED.earlier_id, distance_m = EXCLUDED.distance_m
    RETURNING event_id)
{upsert_sql(delta)}"""


def trigger_function_sql():
    return f"""
CREATE OR REPLACE FUNCTION kpi_event_rows_changed() RETURNS trigger LANGUAGE plpgsql
SET jit = off  -- compiling the statements would cost seconds per action; they touch a handful of rows
AS $fn$
{DECLARE_PARAMETERS}
BEGIN
{READ_PARAMETERS}
  IF TG_OP = 'INSERT' THEN
    {insert_sql("new_rows")};
    IF {later_neighbour_exists_sql("new_rows")} THEN
      {inserted_neighbours_sql("new_rows")};
    END IF;
  ELSIF TG_OP = 'UPDATE' THEN
    {change_sql("old_rows", "new_rows")};
    {neighbours_sql("old_rows", "new_rows")};
  ELSE
    {change_sql("old_rows", "old_rows WHERE FALSE")};
    {neighbours_sql("old_rows", "old_rows WHERE FALSE")};
  END IF;
  RETURN NULL;
END
$fn$;
"""


def rebuild_function_sql():
    return f"""
CREATE OR REPLACE FUNCTION kpi_rebuild() RETURNS void LANGUAGE plpgsql
SET jit = off
AS $fn$
{DECLARE_PARAMETERS}
  cell_x double precision;
  cell_y double precision;
BEGIN
{READ_PARAMETERS}
  -- Writers wait until the rebuild commits: no change can slip between the recount and the trigger.
  LOCK TABLE {EVENTS} IN SHARE MODE;
  TRUNCATE {ROLLUP}, {LATE}, {REPEAT};
  INSERT INTO {LATE} (event_id, working_hours)
    SELECT q.id, q.seconds / 3600.0 FROM (
      SELECT n.id, {late_seconds_sql("n")} AS seconds FROM {EVENTS} n
      WHERE n.accepted_at - n.created_at > make_interval(secs => limit_s)) q
    WHERE q.seconds > limit_s;
  -- Repeats, set-based: every event in a cell of (at least) the radius in degrees — any two events within the
  -- radius lie in neighbouring cells — and one B-tree probe of the 3 × 3 cells around each event, in the window.
  SELECT radius / (111000.0 * cos(radians(least(coalesce(max(abs(ST_Y(location))), 0) + 0.01, 89))))
    INTO cell_x FROM {EVENTS};
  cell_y := radius / 110000.0;
  DROP TABLE IF EXISTS kpi_rebuild_places;
  CREATE TEMP TABLE kpi_rebuild_places ON COMMIT DROP AS
    SELECT id, category_id, created_at, location, floor(ST_X(location) / cell_x)::integer AS cx,
           floor(ST_Y(location) / cell_y)::integer AS cy
    FROM {EVENTS};
  CREATE INDEX ON kpi_rebuild_places (category_id, cx, cy, created_at);
  ANALYZE kpi_rebuild_places;
  INSERT INTO {REPEAT} (event_id, earlier_id, distance_m)
    SELECT n.id, f.id, f.distance FROM kpi_rebuild_places n CROSS JOIN LATERAL (
      SELECT x.id, ST_DistanceSphere(x.location, n.location) AS distance FROM kpi_rebuild_places x
      WHERE x.category_id = n.category_id AND x.cx = ANY (ARRAY[n.cx - 1, n.cx, n.cx + 1])
        AND x.cy = ANY (ARRAY[n.cy - 1, n.cy, n.cy + 1])
        AND x.created_at >= n.created_at - win AND x.created_at <= n.created_at
        AND (x.created_at, x.id) < (n.created_at, n.id)
        AND ST_DistanceSphere(x.location, n.location) <= radius
      LIMIT 1) f;
  DROP TABLE kpi_rebuild_places;
  {upsert_sql(facts_sql(f"{EVENTS} e", STORED_LATE, STORED_REPEAT))};
END
$fn$;
"""


TRIGGERS_SQL = f"""
DROP TRIGGER IF EXISTS kpi_event_insert ON {EVENTS};
DROP TRIGGER IF EXISTS kpi_event_update ON {EVENTS};
DROP TRIGGER IF EXISTS kpi_event_delete ON {EVENTS};
CREATE TRIGGER kpi_event_insert AFTER INSERT ON {EVENTS} REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION kpi_event_rows_changed();
CREATE TRIGGER kpi_event_update AFTER UPDATE ON {EVENTS} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION kpi_event_rows_changed();
CREATE TRIGGER kpi_event_delete AFTER DELETE ON {EVENTS} REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION kpi_event_rows_changed();
"""

UNINSTALL_SQL = f"""
DROP TRIGGER IF EXISTS kpi_event_insert ON {EVENTS};
DROP TRIGGER IF EXISTS kpi_event_update ON {EVENTS};
DROP TRIGGER IF EXISTS kpi_event_delete ON {EVENTS};
DROP FUNCTION IF EXISTS kpi_event_rows_changed();
DROP FUNCTION IF EXISTS kpi_rebuild();
DROP FUNCTION IF EXISTS kpi_working_seconds(timestamptz, timestamptz, double precision, integer[], integer[], text);
"""


def install_sql():
    """Everything the trigger migration installs (functions, then triggers)."""
    return WORKING_SECONDS + trigger_function_sql() + rebuild_function_sql() + TRIGGERS_SQL


# ---- Python side --------------------------------------------------------------------------------------------------

def rebuild():
    """Recomputes the flags and the rollups from the raw events, set-based, in one transaction (writers to the
    events table wait for it)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT kpi_rebuild()")


def raw_figures_sql(group_sql, where_sql="TRUE"):
    """The same figures straight from the events table (GROUP BY over raw rows, the flags read per event): the
    benchmark's peer. `group_sql` is an expression over e (e.g. substr(e.grid_code, 1, 9)), `where_sql` a condition
    over e (with %s parameters of the caller's)."""
    columns = ", ".join(f"sum({counter_sql(counter, STORED_LATE, STORED_REPEAT)}) AS {counter.name}"
                        for counter in COUNTERS)
    return f"SELECT {group_sql} AS key, {columns} FROM {EVENTS} e WHERE {where_sql} GROUP BY 1 ORDER BY 1"


def row_count():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {ROLLUP}")
        return cursor.fetchone()[0]


def _snapshot(cursor):
    nonzero = " OR ".join(f"{name} <> 0" for name in NAMES)
    cursor.execute(f"SELECT {', '.join(KEY)}, {', '.join(NAMES)} FROM {ROLLUP} WHERE {nonzero}")
    rows = {tuple(row[:4]): tuple(row[4:]) for row in cursor.fetchall()}
    cursor.execute(f"SELECT event_id, round(working_hours::numeric, 4) FROM {LATE}")
    late = dict(cursor.fetchall())
    cursor.execute(f"SELECT event_id FROM {REPEAT}")
    repeat = {event_id: True for (event_id,) in cursor.fetchall()}  # the flag counts; `earlier` is any one of them
    return rows, late, repeat


class _Undo(Exception):
    pass


def differences():
    """What a rebuild would change, as lines of text (empty when the incremental rollups and flags are exactly what
    the raw events give). Rolls the rebuild back; writers wait meanwhile."""
    result = []
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {EVENTS} IN SHARE MODE")
            before = _snapshot(cursor)
            cursor.execute("SELECT kpi_rebuild()")
            after = _snapshot(cursor)
            raise _Undo
    except _Undo:
        pass
    for what, old, new in zip(("rollup", "late acceptance", "repeat"), before, after, strict=True):
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key) != new.get(key):
                result.append(f"{what} {key}: incremental {old.get(key)}, rebuilt {new.get(key)}")
    return result
