"""Testing helpers shared by every app's tests: users with roles in areas, the small demo district, and the
one-line cross-scope check every scoped endpoint gets."""

import itertools

from wangge.accounts.models import AreaAssignment, Role, User

# Two communities of the same subdistrict (大观园街道) and one of another (杆石桥街道): the scope tests' cast.
COMMUNITY_A = "370103002001"  # 纬一路社区
COMMUNITY_B = "370103002003"  # 睦和苑社区
OTHER_SUBDISTRICT_COMMUNITY = "370103003001"  # 春元里社区, 杆石桥街道
TEST_GRID_COUNT = 480  # about two grids a community: every level present, validation and tiles stay quick

_counter = itertools.count(1)


def make_user(role="community_staff", area_code=COMMUNITY_A, *, username=None, password=None, **fields):
    username = username or f"{role}-{area_code}-{next(_counter)}"
    user = User.objects.create(username=username, **fields)
    if password:
        user.set_password(password)
        user.save(update_fields=["password"])
    if role:
        AreaAssignment.objects.create(user=user, area_code=area_code, role=Role.objects.get(slug=role))
    return user


def make_superuser(username="root"):
    return User.objects.create(username=f"{username}-{next(_counter)}", is_superuser=True, is_staff=True)


def load_test_district():
    """The demo district with fewer grids, active from 2024-01-01; loaded once per test database."""
    from wangge.geo import demo_district
    from wangge.geo.models import Generation

    active = Generation.objects.filter(state=Generation.State.ACTIVE).first()
    if active is not None:
        return active
    actor = User.objects.filter(username="test-loader").first() or User.objects.create(
        username="test-loader", is_superuser=True)
    return demo_district.load(actor=actor, seed=7, effective_from="2024-01-01", grid_count=TEST_GRID_COUNT)


def assert_cross_scope_denied(client, user, url, *, method="get", data=None, allowed=(403, 404)):
    """`user` (scoped elsewhere) must not read or write `url`: reads answer 404, writes 403 or 404.

    Returns the response so a test can check more.
    """
    client.force_login(user)
    call = getattr(client, method)
    response = call(url, data=data, content_type="application/json") if method != "get" else call(url)
    expected = (404,) if method == "get" else allowed
    assert response.status_code in expected, (
        f"{method.upper()} {url} as {user.username} answered {response.status_code}, expected {expected}: "
        f"{response.content[:300]!r}")
    return response


_openapi = None


def _schema():
    global _openapi
    if _openapi is None:
        from drf_spectacular.generators import SchemaGenerator

        _openapi = SchemaGenerator().get_schema(request=None, public=True)
    return _openapi


def _as_json_schema(node):
    """OpenAPI 3.0 → JSON Schema: `nullable: true` becomes a null type; $refs stay, resolved by the registry."""
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _as_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"] if isinstance(node["type"], str) else [*node["type"], "null"]
        elif "$ref" in node or "allOf" in node or "oneOf" in node:
            node = {"oneOf": [{"type": "null"}, node]}
    return node


def assert_matches_schema(response, path, method="get"):
    """The response body conforms to what our OpenAPI schema promises for `path` (as written in the schema,
    e.g. "/api/v1/geo/areas/{id}/") and `method`, for the response's status code."""
    import jsonschema

    schema = _schema()
    operation = schema["paths"][path][method.lower()]
    responses = operation["responses"]
    spec = responses.get(str(response.status_code))
    assert spec is not None, f"{response.status_code} is not a documented response of {method.upper()} {path}"
    content = spec.get("content", {}).get("application/json")
    if content is None:
        return
    document = _as_json_schema({"components": schema.get("components", {})})
    # Embedding the components beside the body schema lets "#/components/…" references resolve.
    body_schema = {**_as_json_schema(content["schema"]), "components": document["components"]}
    jsonschema.validate(response.json(), body_schema)



# ---- real-browser tests (Debian's Chromium; the `browser` fixture is in wangge/conftest.py) ------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--use-angle=swiftshader",
                 "--enable-unsafe-swiftshader", "--disable-dev-shm-usage"]
BROWSER_WAIT_MS = 20_000
PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}


class BrowserSession:
    """One user's browser context (a phone with a GPS, or a desktop), logged in through the login form; every URL
    it requests is appended to `requests` (the tests check that none leaves the server). A subclass names the
    users' `password`."""

    password = None

    def __init__(self, browser, base, user, requests, *, phone=False, point=None):
        options = {"viewport": PHONE if phone else DESKTOP, "locale": "zh-CN"}
        if phone:
            options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        if point is not None:
            options.update(geolocation={"longitude": point[0], "latitude": point[1], "accuracy": 12},
                           permissions=["geolocation"])
        self.context = browser.new_context(**options)
        self.page = self.context.new_page()
        self.page.set_default_timeout(BROWSER_WAIT_MS)
        self.page.on("request", lambda request: requests.append(request.url))
        self.base, self.user = base, user

    def log_in(self, next_path):
        page = self.page
        page.goto(f"{self.base}/accounts/login/?next={next_path}")
        page.fill("input[name=username]", self.user.username)
        page.fill("input[name=password]", self.password)
        page.click("form button[type=submit]")
        page.wait_for_url(f"{self.base}{next_path}")


def png_upload(name, width=6, height=4):
    """A real PNG image as an uploaded file, for photo questions and attachments."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


DOOR_PHOTO = {"name": "door", "type": "photo", "label": {"zh": "门牌照片", "en": "Door plate"}}
ROOM_PHOTOS = {"name": "rooms", "type": "repeat", "label": {"zh": "房间", "en": "Rooms"}, "children": [
    {"name": "view", "type": "photo", "label": {"zh": "房间照片", "en": "Room"}}]}


def running_photo_campaign(staff, fields):
    """A campaign in COMMUNITY_A, started today, whose form asks `fields` (e.g. DOOR_PHOTO and ROOM_PHOTOS)."""
    from datetime import date

    from wangge.campaigns import services

    version = services.do_add_form_version(actor=staff, code="door-photos", title="门牌照片",
                                           definition={"fields": fields})
    return services.do_start_campaign(services.do_create_campaign(
        actor=staff, name="门牌核对", purpose="核对门牌", legal_basis="测试", area_code=COMMUNITY_A[:9],
        target_codes=[COMMUNITY_A], starts_on=date.today(), ends_on=date.today(), form_version=version.pk),
        actor=staff)
