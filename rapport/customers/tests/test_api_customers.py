"""The customers API: authentication, scopes, record scope, problem details, ETag/If-Match,
Idempotency-Key, mass assignment, whitelisted filters, keyset pages and query counts."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rapport.core.models import IdempotencyRecord
from rapport.customers.api import LIST_COLUMNS, customer_dicts
from rapport.customers.models import Customer, Interaction, Relationship
from rapport.customers.schemas import customer_payload
from rapport.customers.services import CustomerInput
from rapport.customers.tests.api_support import ApiClient, make_person
from rapport.identity.tests.factories import TeamFactory, UserFactory, api_key_for, user_with

RW = ["customers.customer:read", "customers.customer:write"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user():
    return UserFactory(is_superuser=True)


@pytest.fixture
def api(admin_user):
    _, raw = api_key_for(admin_user, RW)
    return ApiClient(raw)


def _problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    return body


# --- Authentication, scopes and rate limits ---------------------------------------------


def test_requests_without_or_with_a_bad_key_get_401():
    body = _problem(ApiClient(None).get("/persons"), 401)
    assert body["type"].endswith("unauthenticated")
    _problem(ApiClient("rk_not-a-real-key").get("/persons"), 401)


def test_revoked_and_expired_keys_get_401(admin_user):
    key, raw = api_key_for(admin_user, RW)
    assert ApiClient(raw).get("/persons").status_code == 200
    key.revoked_at = timezone.now()
    key.save()
    _problem(ApiClient(raw).get("/persons"), 401)
    _, expired = api_key_for(admin_user, RW, expires_at=timezone.now() - dt.timedelta(seconds=1))
    _problem(ApiClient(expired).get("/persons"), 401)


def test_a_read_key_cannot_write_and_a_key_without_the_scope_gets_403(admin_user):
    person = make_person(admin_user)
    _, read_only = api_key_for(admin_user, ["customers.customer:read"])
    reader = ApiClient(read_only)
    assert reader.get(f"/persons/{person.pk}").status_code == 200
    _problem(reader.post("/persons", {"first_name": "Eve"}), 403)
    _problem(reader.patch(f"/persons/{person.pk}", {"first_name": "Eve"}), 403)
    _problem(reader.delete(f"/persons/{person.pk}"), 403)
    assert Customer.objects.count() == 1
    _, other = api_key_for(admin_user, ["commerce.order:read"])
    _problem(ApiClient(other).get("/persons"), 403)


def test_a_key_over_its_rate_limit_gets_429(admin_user, settings):
    settings.RATELIMIT_API_PER_KEY = "3/m"
    _, raw = api_key_for(admin_user, RW)
    client = ApiClient(raw)
    assert [client.get("/persons").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/persons")
    _problem(response, 429)
    assert response["Retry-After"]
    # Another key of the same user has its own budget.
    _, other = api_key_for(admin_user, RW)
    assert ApiClient(other).get("/persons").status_code == 200


# --- Record scope -----------------------------------------------------------------------


def test_records_outside_the_keys_user_scope_are_404_and_absent_from_lists():
    team = TeamFactory()
    owner = user_with("own", teams=[team])
    teammate = user_with("team", teams=[team])
    everyone = user_with("all")
    stranger = user_with("all")
    mine = make_person(owner, 1)
    theirs = make_person(stranger, 2)  # stranger's, no team
    clients = {u: ApiClient(api_key_for(u, RW)[1]) for u in (owner, teammate, everyone)}

    def ids(user):
        return {row["id"] for row in clients[user].get("/persons").json()["items"]}

    assert ids(owner) == {mine.pk}
    assert ids(teammate) == {mine.pk}
    assert ids(everyone) == {mine.pk, theirs.pk}
    for user in (owner, teammate):
        _problem(clients[user].get(f"/persons/{theirs.pk}"), 404)
        _problem(clients[user].patch(f"/persons/{theirs.pk}", {"first_name": "X"}), 404)
        _problem(clients[user].delete(f"/persons/{theirs.pk}"), 404)
        _problem(clients[user].get(f"/customers/{theirs.pk}/timeline"), 404)
        _problem(clients[user].post("/notes", {"customer_id": theirs.pk, "body": "hi"}), 404)
    assert clients[everyone].get(f"/persons/{theirs.pk}").status_code == 200
    # A person is not an organization: the wrong collection is a 404 too.
    _problem(clients[everyone].get(f"/organizations/{mine.pk}"), 404)


# --- Problem details and input ----------------------------------------------------------


def test_a_bad_request_gets_422_with_an_error_per_field(api):
    body = _problem(
        api.post(
            "/persons",
            {"first_name": "Ada", "emails": [{"email": "not-an-email"}], "birth_date": "soon"},
        ),
        422,
    )
    fields = {e["field"] for e in body["errors"]}
    assert "birth_date" in fields
    body = _problem(api.post("/persons", {"emails": [{"email": "not-an-email"}]}), 422)
    assert [e["field"] for e in body["errors"]] == ["emails.0.email"]
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    "field, value",
    [
        ("owner", 1),
        ("team", 1),
        ("id", 999),
        ("version", 99),
        ("is_staff", True),
        ("role", 1),
        ("search_text", "x"),
        ("merged_into", 1),
    ],
)
def test_undeclared_fields_cannot_be_mass_assigned(api, admin_user, field, value):
    person = make_person(admin_user)
    body = _problem(api.patch(f"/persons/{person.pk}", {field: value}), 422)
    assert body["errors"][0]["field"] == field
    _problem(api.post("/persons", {"first_name": "Eve", field: value}), 422)
    person.refresh_from_db()
    assert person.version == 1 and Customer.objects.count() == 1


def test_owner_and_team_changes_go_through_the_assignment_rule():
    team, other_team = TeamFactory(), TeamFactory()
    me = user_with("own", teams=[team])
    someone = UserFactory()
    person = make_person(me)
    client = ApiClient(api_key_for(me, RW)[1])
    _problem(client.patch(f"/persons/{person.pk}", {"owner_id": someone.pk}), 403)
    _problem(client.patch(f"/persons/{person.pk}", {"team_id": other_team.pk}), 403)
    _problem(client.post("/persons", {"first_name": "Eve", "owner_id": someone.pk}), 403)
    person.refresh_from_db()
    assert person.owner_id == me.pk and person.version == 1


@pytest.mark.parametrize(
    "query",
    [
        "sort=display_name;DROP TABLE customers_customer",
        "sort=-search_text",
        "sort=owner__password",
        "lifecycle_stage=lead' OR 1=1 --",
        "owner=1 OR 1=1",
        "updated_after=yesterday",
        "limit=0",
        "limit=abc",
        "cursor=%27%3B--",
        "cursor=eyJzIjoiaWQiLCJ2IjpbeyJ4IjoxfV19",  # {"s":"id","v":[{"x":1}]}
        "cursor=eyJzIjoiaWQiLCJ2IjpbImFiYyJdfQ",  # {"s":"id","v":["abc"]}
        "email=not-an-email",
        "phone=call me",
        "owner__password__startswith=a",
        "ordering=id",
    ],
)
def test_hostile_filter_and_sort_values_get_a_problem_not_sql(api, admin_user, query):
    make_person(admin_user)
    response = api.get(f"/persons?{query}")
    assert response.status_code in (400, 422), response.content
    assert response["Content-Type"] == "application/problem+json"
    assert Customer.objects.count() == 1


def test_filters(api, admin_user):
    a = make_person(admin_user, 1, external_id="crm-1", lifecycle_stage="customer")
    b = make_person(admin_user, 2, tags=["gold"])

    def ids(query):
        response = api.get(f"/persons?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["items"]]

    assert ids("email=ADA1@Example.com") == [a.pk]
    assert ids("phone=(202) 555-1002") == [b.pk]  # national format, normalised
    assert ids("external_id=crm-1") == [a.pk]
    assert ids("lifecycle_stage=customer") == [a.pk]
    assert ids("tag=Gold") == [b.pk]
    assert ids("q=lovelace2") == [b.pk]
    assert ids(f"owner={admin_user.pk}") == [a.pk, b.pk]
    assert ids("sort=-id") == [b.pk, a.pk]


# --- Keyset pagination and query counts -------------------------------------------------


@pytest.mark.parametrize("sort", ["id", "-id", "name", "-name", "created_at", "-updated_at"])
def test_keyset_pages_cover_every_row_exactly_once(api, admin_user, sort):
    people = [make_person(admin_user, n % 4) for n in range(23)]  # duplicate names on purpose
    seen: list[int] = []
    cursor = ""
    for _ in range(20):
        response = api.get(
            f"/persons?limit=5&sort={sort}" + (f"&cursor={cursor}" if cursor else "")
        )
        assert response.status_code == 200, response.content
        page = response.json()
        seen += [row["id"] for row in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(p.pk for p in people)
    assert len(seen) == len(set(seen))


def test_limit_is_capped(api, admin_user, settings):
    settings.API_PAGE_SIZE_MAX = 3
    for n in range(5):
        make_person(admin_user, n)
    assert len(api.get("/persons?limit=1000").json()["items"]) == 3
    assert len(api.get("/persons").json()["items"]) == 3


def test_persons_list_makes_a_constant_number_of_queries(
    api, admin_user, django_assert_max_num_queries
):
    from rapport.customers.services import AddressInput, EmailInput

    for n in range(60):
        make_person(
            admin_user,
            n,
            emails=[EmailInput(email=f"p{n}@example.com"), EmailInput(email=f"q{n}@example.org")],
            addresses=[AddressInput(line1="1 Main St", city="Paris", country="FR")],
        )
    api.get("/persons")  # warm the key's last-used stamp
    with django_assert_max_num_queries(8):
        response = api.get("/persons?limit=50")
    items = response.json()["items"]
    assert len(items) == 50
    assert all(len(i["emails"]) == 2 and i["tags"] and i["phones"] for i in items)
    with django_assert_max_num_queries(8):
        assert len(api.get("/persons?limit=10").json()["items"]) == 10


def test_list_rows_have_exactly_the_api_shape(api, admin_user):
    from rapport.customers.services import AddressInput

    person = make_person(
        admin_user,
        3,
        addresses=[AddressInput(line1="1 Main St", city="Paris", country="FR")],
        birth_date="1990-05-17",
        custom_fields={},
    )
    customer = Customer.objects.prefetch_related("tags", "emails", "phones", "addresses").get(
        pk=person.pk
    )
    rows = list(Customer.objects.filter(pk=person.pk).values(*LIST_COLUMNS))
    assert customer_dicts(rows) == [customer_payload(customer)]
    assert api.get("/persons").json()["items"] == [customer_payload(customer)]


def test_plain_rows_equal_the_orm_rows(admin_user):
    """The list reads rows through a cursor (rapport.core.rows); the values must be the
    ORM's, on each database: aware datetimes, dates, decoded JSON, booleans, NULLs."""
    from rapport.core.rows import plain_values
    from rapport.customers.models import CustomFieldDefinition

    CustomFieldDefinition.objects.create(key="shoe_size", label="Shoe size", field_type="number")
    make_person(admin_user, 1, birth_date="1990-05-17", lifecycle_stage="customer")
    make_person(admin_user, 2, custom_fields={"shoe_size": 42})
    make_person(admin_user, 3, owner_id=admin_user.pk)
    qs = Customer.objects.order_by("pk").values(*LIST_COLUMNS)
    plain = plain_values(qs)
    assert plain == list(qs)
    assert plain[0]["created_at"].tzinfo is not None
    assert plain[0]["birth_date"] == dt.date(1990, 5, 17)
    assert plain[1]["custom_fields"] == {"shoe_size": 42}
    booleans = CustomFieldDefinition.objects.values("id", "required", "is_active", "choices")
    assert (
        plain_values(booleans)
        == list(booleans)
        == [{"id": booleans[0]["id"], "required": False, "is_active": True, "choices": []}]
    )
    # Not a values() queryset, or a column type it does not handle: the ORM reads it.
    assert plain_values(Customer.objects.order_by("pk")) == list(Customer.objects.order_by("pk"))
    assert plain_values(Customer.objects.none().values("id")) == []


def test_persons_list_is_two_queries_once_the_key_is_known(
    api, admin_user, django_assert_num_queries
):
    for n in range(60):
        make_person(admin_user, n)
    api.get("/persons")  # the key's lookup is cached and its last use stamped
    for limit in (10, 50, 200):
        with django_assert_num_queries(2):  # the page, and its contact points
            assert len(api.get(f"/persons?limit={limit}").json()["items"]) == min(limit, 60)


def test_a_team_change_applies_to_a_cached_key():
    from rapport.customers.services import customer_update

    team = TeamFactory()
    colleague = user_with("team", teams=[team])
    member = user_with("team", teams=[team])
    shared = make_person(colleague, 1)
    customer_update(actor=colleague, customer=shared, data=CustomerInput(team_id=team.pk))
    _, raw = api_key_for(member, ["customers.customer:read"])
    member_api = ApiClient(raw)
    assert [r["id"] for r in member_api.get("/persons").json()["items"]] == [shared.pk]
    member.teams.remove(team)
    assert member_api.get("/persons").json()["items"] == []


def test_q_is_global_search_exact_step_on_the_full_text_index(
    api, admin_user, django_assert_num_queries
):
    from rapport.customers.services import EmailInput, PhoneInput

    def email(address):
        return [EmailInput(email=address)]

    ada = make_person(
        admin_user, 1, first_name="Ada", last_name="Lovelace", emails=email("a@x.org")
    )
    make_person(admin_user, 2, first_name="Adam", last_name="Smith", emails=email("s@x.org"))
    grace = make_person(
        admin_user,
        3,
        first_name="Grace",
        last_name="Hopper",
        emails=email("g@x.org"),
        phones=[PhoneInput(number="+44 20 7946 0958")],
    )

    def ids(q):
        response = api.get(f"/persons?q={q}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["items"]]

    assert ids("lovelace") == [ada.pk]
    assert ids("LOVELACE%20ada") == [ada.pk]  # every term, any order, any case
    assert ids("ada") == [ada.pk, ids("adam")[0]]  # a substring: Ada and Adam
    assert ids("020%207946%200958") == [grace.pk]  # a phone in national format
    assert ids("ad%20lovelace") == [ada.pk]  # a two-letter term is checked too
    assert ids("lovelace%20hopper") == []
    assert ids("lovlace") == []  # no typo tolerance in a filter
    with CaptureQueriesContext(connection) as captured:
        ids("hopper")
    page = next(q["sql"] for q in captured.captured_queries if "customers_customer" in q["sql"])
    if connection.vendor == "sqlite":
        assert "customer_search MATCH" in page
    else:
        assert "LIKE" in page


def test_q_respects_record_scope():
    own = user_with("own")
    other = user_with("own")
    mine = make_person(own, 1, first_name="Ada", last_name="Mine")
    make_person(other, 2, first_name="Ada", last_name="Theirs")
    _, raw = api_key_for(own, ["customers.customer:read"])
    items = ApiClient(raw).get("/persons?q=ada").json()["items"]
    assert [r["id"] for r in items] == [mine.pk]


# --- ETag / If-Match --------------------------------------------------------------------


def test_etag_and_if_match_refuse_a_stale_update(api, admin_user):
    person = make_person(admin_user)
    response = api.get(f"/persons/{person.pk}")
    etag = response["ETag"]
    assert etag == f'"{person.pk}-1"'
    updated = api.patch(f"/persons/{person.pk}", {"job_title": "Engineer"}, **{"If-Match": etag})
    assert updated.status_code == 200, updated.content
    assert updated["ETag"] == f'"{person.pk}-2"' and updated.json()["job_title"] == "Engineer"
    stale = api.patch(f"/persons/{person.pk}", {"job_title": "Poet"}, **{"If-Match": etag})
    _problem(stale, 412)
    _problem(api.delete(f"/persons/{person.pk}", **{"If-Match": etag}), 412)
    person.refresh_from_db()
    assert person.job_title == "Engineer" and person.version == 2
    assert (
        api.delete(f"/persons/{person.pk}", **{"If-Match": f'"{person.pk}-2"'}).status_code == 204
    )
    assert not Customer.objects.filter(pk=person.pk).exists()


def test_patch_null_clears_and_absent_fields_stay(api, admin_user):
    person = make_person(admin_user, external_id="x-1", job_title="Chef")
    response = api.patch(f"/persons/{person.pk}", {"external_id": None})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["external_id"] is None and body["job_title"] == "Chef"


# --- Idempotency-Key --------------------------------------------------------------------


def test_idempotency_key_replays_the_first_response_and_creates_one_record(api):
    body = {"first_name": "Grace", "last_name": "Hopper", "emails": [{"email": "g@example.com"}]}
    first = api.post("/persons", body, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    assert first["Location"] == f"/api/v1/persons/{first.json()['id']}"
    assert first["ETag"] == f'"{first.json()["id"]}-1"'
    again = api.post("/persons", body, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Customer.objects.count() == 1
    other = api.post("/persons", {**body, "first_name": "Ada"}, **{"Idempotency-Key": "k-1"})
    _problem(other, 422)
    assert Customer.objects.count() == 1
    # Without a key, or with another key, it is a new request.
    assert api.post("/persons", body, **{"Idempotency-Key": "k-2"}).status_code == 201
    assert Customer.objects.count() == 2


def test_idempotency_keys_belong_to_their_principal(admin_user):
    body = {"first_name": "Grace"}
    one = ApiClient(api_key_for(admin_user, RW)[1])
    two = ApiClient(api_key_for(admin_user, RW)[1])
    assert one.post("/persons", body, **{"Idempotency-Key": "same"}).status_code == 201
    response = two.post("/persons", body, **{"Idempotency-Key": "same"})
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Customer.objects.count() == 2


def test_a_failed_create_stores_no_key_and_can_be_retried(api):
    bad = api.post("/persons", {"emails": [{"email": "nope"}]}, **{"Idempotency-Key": "k-9"})
    _problem(bad, 422)
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_with_one_key_create_one_record(admin_user):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    _, raw = api_key_for(admin_user, RW)
    body = {"first_name": "Race", "last_name": "Condition"}
    results: list[int] = []

    def send():
        response = ApiClient(raw).post("/persons", body, **{"Idempotency-Key": "race"})
        results.append(response.status_code)
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 4
    assert Customer.objects.filter(last_name="Condition").count() == 1


# --- Organizations, notes, timeline, relationships --------------------------------------


def test_organizations_notes_timeline_and_relationships(api, admin_user):
    org = api.post("/organizations", {"organization_name": "Acme", "industry": "Anvils"})
    assert org.status_code == 201, org.content
    org_id = org.json()["id"]
    assert org.json()["kind"] == "organization"
    person = make_person(admin_user)
    rel = api.post(
        "/relationships",
        {"from_customer_id": person.pk, "to_customer_id": org_id, "kind": "employer"},
    )
    assert rel.status_code == 201, rel.content
    assert rel.json()["label"] == "Works for" and rel.json()["inverse_label"] == "Employs"
    for customer_id in (person.pk, org_id):  # both directions
        items = api.get(f"/relationships?customer_id={customer_id}").json()["items"]
        assert [i["id"] for i in items] == [rel.json()["id"]]
    _problem(
        api.post(
            "/relationships",
            {"from_customer_id": person.pk, "to_customer_id": person.pk, "kind": "partner"},
        ),
        422,
    )
    note = api.post("/notes", {"customer_id": person.pk, "body": "Called about the renewal."})
    assert note.status_code == 201, note.content
    notes = api.get(f"/notes?customer_id={person.pk}").json()["items"]
    assert [n["body"] for n in notes] == ["Called about the renewal."]
    timeline = api.get(f"/customers/{person.pk}/timeline?kind=note").json()["items"]
    assert [t["id"] for t in timeline] == [note.json()["id"]]
    _problem(api.get(f"/customers/{person.pk}/timeline?kind=bogus"), 422)
    assert api.delete(f"/relationships/{rel.json()['id']}").status_code == 204
    assert Relationship.objects.count() == 0


def test_timeline_pages_newest_first_across_pages(api, admin_user):
    from rapport.customers.services import interaction_record

    person = make_person(admin_user)
    base = timezone.now()
    for n in range(12):
        interaction_record(
            actor=admin_user,
            customer=person,
            kind="call",
            channel="phone",
            summary=f"call {n}",
            occurred_at=base - dt.timedelta(minutes=n % 5),  # ties on purpose
        )
    seen, cursor = [], None
    while True:
        response = api.get(
            f"/customers/{person.pk}/timeline?channel=phone&limit=5"
            + (f"&cursor={cursor}" if cursor else "")
        )
        page = response.json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 12 == len({i["id"] for i in seen})
    stamps = [i["occurred_at"] for i in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert Interaction.objects.filter(customer=person).count() >= 12


def test_bulk_upsert_creates_updates_and_reports_failed_rows(api, admin_user):
    existing = make_person(admin_user, 1, external_id="ext-1")
    rows = [
        {"external_id": "ext-1", "job_title": "CTO"},
        {"external_id": "ext-2", "first_name": "New", "emails": [{"email": "new@example.com"}]},
        {"external_id": "ext-3", "first_name": "Bad", "emails": [{"email": "not-an-email"}]},
        {"first_name": "No id"},
    ]
    response = api.post("/persons/bulk-upsert", {"rows": rows})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["updated"], body["failed"]) == (1, 1, 2)
    statuses = [(r["row"], r["status"]) for r in body["results"]]
    assert statuses == [(1, "updated"), (2, "created"), (3, "failed"), (4, "failed")]
    assert body["results"][2]["errors"][0]["field"] == "emails.0.email"
    existing.refresh_from_db()
    assert existing.job_title == "CTO"
    assert not Customer.objects.filter(external_id="ext-3").exists()  # never half-written
    # Running it again updates, never duplicates.
    again = api.post("/persons/bulk-upsert", {"rows": rows[:2]}).json()
    assert (again["created"], again["updated"]) == (0, 2)
    assert Customer.objects.filter(external_id__in=["ext-1", "ext-2"]).count() == 2


def test_bulk_upsert_by_email_and_its_row_limit(api, admin_user):
    person = make_person(admin_user, 5)
    body = api.post(
        "/persons/bulk-upsert",
        {
            "match_on": "email",
            "rows": [{"emails": [{"email": "ADA5@example.com"}], "job_title": "Poet"}],
        },
    ).json()
    assert body["results"][0]["status"] == "updated" and body["results"][0]["id"] == person.pk
    too_many = {"rows": [{"external_id": f"e{n}"} for n in range(501)]}
    _problem(api.post("/persons/bulk-upsert", too_many), 422)


def test_bulk_upsert_cannot_touch_records_outside_scope():
    me = user_with("own")
    stranger = user_with("all")
    theirs = make_person(stranger, external_id="theirs")
    client = ApiClient(api_key_for(me, RW)[1])
    body = client.post(
        "/persons/bulk-upsert", {"rows": [{"external_id": "theirs", "job_title": "Hacked"}]}
    ).json()
    assert body["results"][0]["status"] == "failed"
    theirs.refresh_from_db()
    assert theirs.job_title == ""


# --- OpenAPI ----------------------------------------------------------------------------


def test_openapi_schema_lists_the_endpoints(api):
    response = api.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/persons",
        "/api/v1/persons/{customer_id}",
        "/api/v1/persons/bulk-upsert",
        "/api/v1/organizations",
        "/api/v1/relationships",
        "/api/v1/notes",
        "/api/v1/customers/{customer_id}/timeline",
    ]:
        assert path in paths, path


def test_session_auth_needs_the_csrf_token_on_writes(admin_user):
    from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.get("/api/v1/persons").status_code == 200  # reads need no token
    response = client.post(
        "/api/v1/persons", data={"first_name": "Eve"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert Customer.objects.count() == 0
    secret = _get_new_csrf_string()
    client.cookies["csrftoken"] = secret
    response = client.post(
        "/api/v1/persons",
        data={"first_name": "Eve"},
        content_type="application/json",
        headers={"X-CSRFToken": _mask_cipher_secret(secret)},
    )
    assert response.status_code == 201, response.content
    assert Customer.objects.count() == 1
