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
