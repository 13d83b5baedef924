"""Benchmark: door-to-door visits sent by ODK Collect through the OpenRosa server, 8 concurrent clients (issue 5,
"Speed": visit submission through the API or OpenRosa ≥ 100 visits/s sustained), beside the same visits through the
JSON API in the same run (the peer: what the XML envelope and Digest sign-in cost on top).

- Ours: POST /openrosa/submission to a production gunicorn (bench/server.py: two gthread workers per core × 2
  threads, as scripts/serve.sh runs it) on loopback, as Collect sends it: multipart/form-data with the instance
  XML as xml_submission_file, signed in with HTTP Digest (MD5, qop=auth: one challenge per client, then the nonce reused
  with an increasing nc; a stale nonce is answered by a new challenge, as Collect does). Each of 8 clients is a
  community's staff member going household by household through their community with a fresh instanceID per call:
  90 % visited, with the household form's answers for each registry member (name and ID number: matched through the
  blind index) and, every fifth household, one member the registry does not know (a proposal); 10 % absent. The
  server parses the XML (defusedxml), checks the Digest answer (the sealed HA1, the nonce, the replay cache), then
  does what any visit does (services.do_record_visit) and answers 201 with an OpenRosaResponse.
- Peer: the same visits as JSON to POST /api/v1/campaigns/visits/ (session cookie + CSRF header, as a browser).
- The load: bench/server.py's drive(), a fresh connection per request by default (as phones send them; with
  --keep-alive one connection per client, which gunicorn binds to one worker for the whole run: all 8 on one worker
  halves the figure). WARMUP_S of warm-up, then DURATION_S measured, each path in turn on the same server.
  Visits/s is the median over WINDOW_S windows; latency median and p99 over every measured request.
- Runs in a throwaway copy of the dev database (`CREATE DATABASE … TEMPLATE`; needs `manage.py load_demo`), migrated,
  dropped at the end (unless --keep).

    .venv/bin/python bench/openrosa_submit.py [--duration 20] [--warmup 5] [--keep] [--keep-alive]
"""

import argparse
import hashlib
import json
import os
import re
import secrets
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")

import scratch_db  # noqa: E402
from visit_submit import id_number  # noqa: E402

CLIENTS = 8
WINDOW_S = 5
SEED = 11
TARGET_PER_S = 100
PASSWORD = "Bench-openrosa-2026"
OPENROSA_URL = "/openrosa/submission"
API_URL = "/api/v1/campaigns/visits/"
BENCH_DB = os.environ.get("WANGGE_BENCH_DB", "wangge_bench_openrosa")
BOUNDARY = "wanggebenchboundary"


def setup():
    """A started district-wide campaign, 8 community staff users (with passwords: their Digest secrets) and each
    one's prepared calls."""
    import numpy as np
    from django.db import connection

    from wangge.accounts.models import AreaAssignment, Role, User
    from wangge.campaigns import services
    from wangge.core import pii
    from wangge.geo.models import Generation
    from wangge.registry.models import Household, Person

    if Generation.objects.filter(state=Generation.State.ACTIVE).first() is None or not Household.objects.exists():
        sys.exit("No demo district or population: run `manage.py load_demo` first.")
    actor = User.objects.create(username="bench-openrosa-admin", is_superuser=True)
    district = Household.objects.exclude(grid_code="").values_list("grid_code", flat=True).first()[:6]
    campaign = services.do_create_campaign(
        actor=actor, name="bench:openrosa_submit", purpose="benchmark", legal_basis="benchmark", area_code=district,
        target_codes=[district], starts_on=date.today(), ends_on=date.today() + timedelta(days=7), retention_days=0)
    campaign = services.do_start_campaign(campaign, actor=actor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT left(grid_code, 12), count(*) FROM registry_household WHERE grid_code <> '' "
                       "GROUP BY 1 ORDER BY 2 DESC LIMIT %s", [CLIENTS])
        communities = [code for code, _count in cursor.fetchall()]
    role = Role.objects.get(slug="community_staff")
    rng = np.random.default_rng(SEED)
    clients = []
    for index, community in enumerate(communities):
        user = User(username=f"bench-openrosa-{index}")
        user.set_password(PASSWORD)
        user.save()
        AreaAssignment.objects.create(user=user, area_code=community, role=role)
        households = list(Household.objects.filter(grid_code__startswith=community).order_by("grid_code", "pk")
                          .values_list("pk", flat=True))
        members = {}
        for household, name, sealed in (Person.objects.filter(household_id__in=households)
                                        .values_list("household_id", "name", "id_number_enc")):
            members.setdefault(household, []).append(
                (name, pii.decrypt(sealed, purpose=pii.ID_NUMBER) if sealed else ""))
        calls = []
        for n, household in enumerate(households):
            if rng.random() < 0.1:
                calls.append({"household": household, "status": "absent", "members": []})
                continue
            rows = [{"name": name, "id_number": number, "returned": "no", "fever": "no", "contact": "no",
                     "isolation": "none"} for name, number in members.get(household, [])[:6]]
            if n % 5 == 0 or not rows:
                rows.append({"name": "新成员", "id_number": id_number(rng), "returned": "yes",
                             "return_date": str(date.today() - timedelta(days=3)), "from_place": "上海",
                             "provinces_14d": "p31", "transport": "G123", "fever": "no", "contact": "no",
                             "isolation": "home"})
            calls.append({"household": household, "status": "visited", "members": rows})
        clients.append((user, calls))
    return campaign, clients


# The two ways in -----------------------------------------------------------------------------------------------------

def instance_xml(campaign, call, instance_id):
    rows = "".join("<members>" + "".join(f"<{key}>{escape(str(value))}</{key}>" for key, value in row.items())
                   + "</members>" for row in call["members"])
    return (f"<?xml version='1.0' ?><data id=\"wangge-campaign-{campaign.pk}\" "
            f"version=\"{campaign.form_version.number}\" xmlns:orx=\"http://openrosa.org/xforms\"><wg_purpose/>"
            f"<wg_household>{call['household']}</wg_household><wg_status>{call['status']}</wg_status>"
            f"<wg_revisit_at/><wg_location/><wg_end/><wg_answers>{rows}<note/></wg_answers><meta>"
            f"<instanceID>{instance_id}</instanceID></meta></data>").encode()


def multipart(xml):
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; "
            f"filename=\"submission.xml\"\r\nContent-Type: text/xml\r\n\r\n").encode() + xml + \
        f"\r\n--{BOUNDARY}--\r\n".encode()


def _md5(text):
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class DigestClient:
    """What Collect's authenticator does: one challenge, then the nonce reused with nc counting up (on whichever
    connection: the nonce is bound to the client's address, not to a connection)."""

    def __init__(self, username):
        self.username, self.nonce, self.realm, self.nc = username, None, None, 0

    def challenge(self, server):
        conn = server.connection(timeout=30)
        try:
            conn.request("HEAD", OPENROSA_URL, headers={"X-OpenRosa-Version": "1.0"})
            response = conn.getresponse()
            response.read()
            self.take(response)
        finally:
            conn.close()

    def take(self, response):
        header = response.getheader("WWW-Authenticate") or ""
        self.nonce = re.search(r'nonce="([^"]+)"', header).group(1)
        self.realm = re.search(r'realm="([^"]+)"', header).group(1)
        self.nc = 0

    def header(self, method, uri):
        self.nc += 1
        nc, cnonce = f"{self.nc:08x}", secrets.token_hex(8)
        ha1 = _md5(f"{self.username}:{self.realm}:{PASSWORD}")
        response = _md5(f"{ha1}:{self.nonce}:{nc}:{cnonce}:auth:{_md5(f'{method}:{uri}')}")
        return (f'Digest username="{self.username}", realm="{self.realm}", nonce="{self.nonce}", uri="{uri}", '
                f'qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}", algorithm=MD5')


def openrosa_requests(server, campaign, clients):
    """request(i, n) and retry(i, response) for server.drive: Collect's submissions (a challenge per client first;
    a stale nonce answered by taking the new one and sending again)."""
    digests = [DigestClient(user.username) for user, _calls in clients]
    for digest in digests:
        digest.challenge(server)

    def request(i, n):
        calls = clients[i][1]
        body = multipart(instance_xml(campaign, calls[n % len(calls)], f"uuid:bench-openrosa-{i}-{n}"))
        return "POST", OPENROSA_URL, body, {
            "Authorization": digests[i].header("POST", OPENROSA_URL), "X-OpenRosa-Version": "1.0",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

    def retry(i, response):
        if response.status == 401 and "stale=true" in (response.getheader("WWW-Authenticate") or ""):
            digests[i].take(response)
            return True
        return False

    return request, retry


def api_requests(campaign, clients, sessions):
    """request(i, n) for server.drive: the same calls as JSON to the visits API (session cookie + CSRF header)."""
    from django.conf import settings
    from django.utils.crypto import get_random_string

    headers = []
    for session in sessions:
        csrf = get_random_string(32)
        headers.append({"Cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}; "
                                  f"{settings.CSRF_COOKIE_NAME}={csrf}",
                        "X-CSRFToken": csrf, "Content-Type": "application/json", "Accept": "application/json"})

    def request(i, n):
        calls = clients[i][1]
        call = calls[n % len(calls)]
        payload = {"campaign": campaign.pk, "household": call["household"], "status": call["status"],
                   "instance_id": f"uuid:bench-api-{i}-{n}"}
        if call["members"]:
            payload["answers"] = {"members": [
                {**row, "provinces_14d": [row["provinces_14d"]]} if "provinces_14d" in row else row
                for row in call["members"]]}
        return "POST", API_URL, json.dumps(payload, ensure_ascii=False).encode(), headers[i]

    return request


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20, help="measured seconds per path")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of warm-up before measuring")
    parser.add_argument("--keep", action="store_true", help=f"keep {BENCH_DB} (for inspection)")
    parser.add_argument("--keep-alive", action="store_true", help=(
        "one kept-alive connection per client for the whole run (gunicorn then binds each client to one worker "
        "process for good: all 8 on one worker halves the figure)"))
    args = parser.parse_args()

    began = time.perf_counter()
    os.environ["DATABASE_URL"] = scratch_db.create(BENCH_DB, copy=True)
    figures = {}
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from server import Gunicorn, drive, login_session

        from wangge.campaigns.models import Visit

        call_command("migrate", verbosity=0)
        campaign, clients = setup()
        sessions = [login_session(user) for user, _calls in clients]
        connection.close()
        print(f"openrosa_submit: {BENCH_DB} copied, migrated and set up in {time.perf_counter() - began:.0f} s",
              flush=True)
        with Gunicorn(env={"DATABASE_URL": os.environ["DATABASE_URL"]}) as server:
            shape = server.describe()
            request, retry = openrosa_requests(server, campaign, clients)
            figures["openrosa"] = drive(server, CLIENTS, request, args.warmup, args.duration,
                                        keep_alive=args.keep_alive, retry=retry)
            figures["api"] = drive(server, CLIENTS, api_requests(campaign, clients, sessions), args.warmup,
                                   args.duration, keep_alive=args.keep_alive)
        written = {source: Visit.objects.filter(campaign=campaign, source=source).count()
                   for source in ("openrosa", "api")}
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            scratch_db.drop(BENCH_DB)

    print(f"openrosa_submit: {CLIENTS} concurrent clients (community staff of {CLIENTS} communities), gunicorn "
          f"{shape} ({'keep-alive' if args.keep_alive else 'a fresh connection per visit'}), "
          f"{args.warmup:.0f} s warm-up + {args.duration:.0f} s measured per path; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"  {'':64} {'visits/s':>9} {'median':>8} {'p99':>8}  (ms)")
    rates = {}
    for path, label in (("openrosa", f"ours: POST {OPENROSA_URL} (Digest, multipart XML)"),
                        ("api", f"peer: POST {API_URL} (session, JSON)")):
        run = figures[path]
        rates[path], per_window, median_ms, p99_ms = run.summary(WINDOW_S)
        print(f"  {label:64} {rates[path]:9.0f} {median_ms:8.2f} {p99_ms:8.2f}   "
              f"windows {' '.join(f'{r:.0f}' for r in per_window)}; "
              f"{len(run.results)} measured, {run.made} in all, {written[path]} written")
    print(f"  ratio (API / OpenRosa, visits/s): {rates['api'] / rates['openrosa']:.2f}x; "
          f"target >= {TARGET_PER_S} visits/s through OpenRosa: "
          f"{'met' if rates['openrosa'] >= TARGET_PER_S else 'MISSED'}")


if __name__ == "__main__":
    main()
