"""Activity pages: My day, the list (scope, filters, sorts, pinned query counts), the
activity page and form, one-click complete, the customer panel's quick actions, the .ics
download, the badges and notifications."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from rapport.activities import services
from rapport.activities.models import Activity, Notification
from rapport.activities.tests.conftest import activity_user, task
from rapport.commerce.tests.factories import CustomerFactory
from rapport.core.permissions import Scope
from rapport.customers.models import Interaction
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


SUBJECTS = {"rep": "Rep's task", "mate": "Mate's task", "south": "South task"}
SEES = {
    "rep": {"rep"},
    "mate": {"mate"},
    "manager": {"rep", "mate"},
    "boss": {"rep", "mate", "south"},
}


@pytest.mark.parametrize("who", sorted(SEES))
def test_list_detail_and_my_day_follow_record_scope(world, who) -> None:
    user = getattr(world, who)
    client = login(user)
    html = client.get("/activities/list/").content.decode()
    for key, subject in SUBJECTS.items():
        assert (subject.replace("'", "&#x27;") in html) == (key in SEES[who]), key
        page = client.get(f"/activities/{world.activities[key].pk}/")
        assert page.status_code == (200 if key in SEES[who] else 404)
    # My day is the user's own work, whatever their scope.
    day = client.get("/activities/").content.decode()
    own = {k for k, a in world.activities.items() if a.owner_id == user.pk}
    for key, subject in SUBJECTS.items():
        assert (subject.replace("'", "&#x27;") in day) == (key in own), key


def test_a_user_without_the_grant_gets_403_and_no_nav_entry(world) -> None:
    client = login(UserFactory())
    assert client.get("/activities/").status_code == 403
    assert client.get("/activities/list/").status_code == 403
    assert 'href="/activities/"' not in client.get("/activities/notifications/").content.decode()


def test_my_day_sorts_into_overdue_today_and_upcoming(world, settings) -> None:
    settings.TIME_ZONE = "UTC"
    now = timezone.now()
    rep = world.rep
    task(rep, "Late one", due_at=now - dt.timedelta(days=1))
    end_of_today = now.replace(hour=23, minute=58, second=0, microsecond=0)
    if end_of_today > now:
        task(rep, "Later today", due_at=end_of_today)
    task(rep, "Next week", due_at=now + dt.timedelta(days=3))
    task(rep, "Far away", due_at=now + dt.timedelta(days=30))
    html = login(rep).get("/activities/").content.decode()
    overdue = html.index('id="day-overdue"')
    today = html.index('id="day-today"')
    upcoming = html.index('id="day-upcoming"')
    assert overdue < html.index("Late one") < today
    assert upcoming < html.index("Next week")
    assert "Far away" not in html


def test_my_day_empty_state(db) -> None:
    user = activity_user(Scope.OWN)
    html = login(user).get("/activities/").content.decode()
    assert "Nothing due" in html and 'href="/activities/new/"' in html


def test_one_click_complete_from_my_day_and_its_error(world) -> None:
    activity = world.activities["rep"]
    client = login(world.rep)
    response = client.post(
        f"/activities/{activity.pk}/complete/",
        {"version": activity.version},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Done ✓" in response.content.decode()
    activity.refresh_from_db()
    assert activity.status == "done"
    # Again, on the now stale version: the item comes back with the reason beside it.
    again = client.post(
        f"/activities/{activity.pk}/complete/", {"version": 1}, HTTP_HX_REQUEST="true"
    )
    assert again.status_code == 422
    assert 'role="alert"' in again.content.decode()


def test_actions_without_htmx_redirect_with_a_message(world) -> None:
    activity = world.activities["rep"]
    client = login(world.rep)
    response = client.post(f"/activities/{activity.pk}/cancel/", follow=True)
    assert "Cancelled." in response.content.decode()
    response = client.post(f"/activities/{activity.pk}/reopen/", follow=True)
    assert "Opened again." in response.content.decode()
    assert client.post(f"/activities/{activity.pk}/explode/").status_code == 404
    # Someone else's: not even found.
    assert client.post(f"/activities/{world.activities['south'].pk}/complete/").status_code == 404


def test_create_and_edit_through_the_form(world, settings) -> None:
    settings.TIME_ZONE = "Europe/Amsterdam"
    client = login(world.rep)
    assert client.get("/activities/new/?kind=call").status_code == 200
    bad = client.post("/activities/new/", {"kind": "meeting", "subject": "Demo", "priority": 2})
    assert "A meeting needs a start time." in bad.content.decode()
    response = client.post(
        "/activities/new/",
        {
            "kind": "meeting",
            "subject": "Demo",
            "priority": 2,
            "customer": world.customers["north"].pk,
            "starts_at": "2027-03-01T10:00",
            "location": "Online",
            "attendee_emails": "a@example.com, b@example.com",
        },
    )
    activity = Activity.objects.get(subject="Demo")
    assert response.status_code == 302 and response["Location"] == f"/activities/{activity.pk}/"
    assert activity.starts_at == dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
    assert activity.attendee_emails == ["a@example.com", "b@example.com"]
    form = client.get(f"/activities/{activity.pk}/edit/").content.decode()
    assert 'value="2027-03-01T10:00"' in form  # shown in the site's time zone
    stale = client.post(
        f"/activities/{activity.pk}/edit/",
        {
            "kind": "meeting",
            "subject": "Demo 2",
            "priority": 2,
            "starts_at": "2027-03-01T10:00",
            "version": 99,
        },
    )
    assert (
        "changed" in stale.content.decode().lower() or "conflict" in stale.content.decode().lower()
    )


def test_detail_page_shows_the_ics_link_and_the_download_parses(world) -> None:
    start = timezone.now() + dt.timedelta(days=1)
    meeting = task(
        world.rep, "Plan", kind="meeting", starts_at=start, attendee_emails=["x@example.com"]
    )
    client = login(world.rep)
    html = client.get(f"/activities/{meeting.pk}/").content.decode()
    assert f'href="/activities/{meeting.pk}/meeting.ics"' in html
    response = client.get(f"/activities/{meeting.pk}/meeting.ics")
    assert response["Content-Type"].startswith("text/calendar")
    cal = services.parse(response.content)
    [event] = cal.walk("VEVENT")
    assert str(event["UID"]) == services.uid_for(meeting)
    assert client.get(f"/activities/{world.activities['rep'].pk}/meeting.ics").status_code == 404


def test_customer_panel_lists_open_activities_and_logs_a_call(world) -> None:
    customer = world.customers["north"]
    client = login(world.rep)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'data-panel="activities"' in page and "Rep&#x27;s task" in page
    assert "Log a call" in page and "Add task" in page
    response = client.post(
        f"/activities/customer/{customer.pk}/log-call/",
        {
            "subject": "Quick call",
            "direction": "out",
            "outcome": "connected",
            "duration_minutes": 3,
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "Call logged." in response.content.decode()
    call = Activity.objects.get(subject="Quick call")
    assert (call.status, call.call_duration_seconds) == ("done", 180)
    assert Interaction.objects.filter(
        customer=customer, kind="call", summary__startswith="Call logged"
    ).exists()
    bad = client.post(
        f"/activities/customer/{customer.pk}/add-task/", {"subject": ""}, HTTP_HX_REQUEST="true"
    )
    assert bad.status_code == 422 and "errorlist" in bad.content.decode()
    ok = client.post(f"/activities/customer/{customer.pk}/add-task/", {"subject": "Send brochure"})
    assert ok.status_code == 302
    assert Activity.objects.filter(subject="Send brochure", customer=customer).exists()
    # A customer the user cannot see: 404.
    south = world.customers["south"]
    assert (
        client.post(f"/activities/customer/{south.pk}/add-task/", {"subject": "x"}).status_code
        == 404
    )


def test_customer_panel_empty_state(world) -> None:
    customer = CustomerFactory(owner=world.rep)
    html = login(world.rep).get(f"/customers/{customer.pk}/").content.decode()
    assert "No open activities." in html


def test_badges_and_notifications(world, settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    now = timezone.now()
    task(
        world.rep,
        "Overdue",
        due_at=now - dt.timedelta(hours=1),
        reminder_at=now - dt.timedelta(hours=2),
    )
    client = login(world.rep)
    shell = client.get("/activities/").content.decode()
    assert (
        'hx-get="/activities/badge/overdue/"' in shell
        and 'hx-get="/activities/badge/unread/"' in shell
    )
    assert ">1<" in client.get("/activities/badge/overdue/").content.decode()
    services.reminders_send_due()
    assert ">1<" in client.get("/activities/badge/unread/").content.decode()
    note = Notification.objects.get(recipient=world.rep)
    assert "Reminder: Overdue" in client.get("/activities/notifications/").content.decode()
    assert login(world.mate).post(f"/activities/notifications/{note.pk}/open/").status_code == 404
    opened = client.post(f"/activities/notifications/{note.pk}/open/")
    assert opened["Location"] == note.url
    assert "visually-hidden" not in client.get("/activities/badge/unread/").content.decode()


def test_list_filters_and_sorts(world) -> None:
    client = login(world.boss)
    html = client.get("/activities/list/?owner=me").content.decode()
    assert "No activity matches" in html
    html = client.get(
        f"/activities/list/?owner={world.rep.pk}&kind=task&status=open"
    ).content.decode()
    assert "Rep&#x27;s task" in html and "South task" not in html
    bad = client.get("/activities/list/?due_from=2027-02-01&due_to=2027-01-01").content.decode()
    assert "The end date is before the start date." in bad
    assert client.get("/activities/list/?sort=-priority").status_code == 200
    assert "Unknown sort" in client.get("/activities/list/?sort=owner__password").content.decode()
    fragment = client.get(
        "/activities/list/?sort=subject", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="list-results"
    )
    assert "<html" not in fragment.content.decode()


# Session, user, role and grants, the owner choices, the page's rows.
LIST_QUERIES = 6
# Session, user, role and grants, then the three sections.
MY_DAY_QUERIES = 7


def _count(client: Client, url: str, django_assert_num_queries: Any, n: int) -> None:
    client.get(url)  # warm the session and the grant cache
    with django_assert_num_queries(n):
        assert client.get(url).status_code == 200


def test_list_and_my_day_make_the_same_queries_for_2_rows_and_20(
    db, django_assert_num_queries
) -> None:
    user = activity_user(Scope.ALL)
    client = login(user)
    now = timezone.now()
    customers = [CustomerFactory(owner=user) for _ in range(3)]

    def make(n: int) -> None:
        for i in range(n):
            task(
                user,
                f"T{i}",
                customer_id=customers[i % 3].pk,
                due_at=now + dt.timedelta(hours=i - n // 2),
            )

    make(2)
    _count(client, "/activities/list/", django_assert_num_queries, LIST_QUERIES)
    _count(client, "/activities/", django_assert_num_queries, MY_DAY_QUERIES)
    make(20)
    _count(client, "/activities/list/", django_assert_num_queries, LIST_QUERIES)
    _count(client, "/activities/", django_assert_num_queries, MY_DAY_QUERIES)
