"""The volunteers part of `civic seed` (demo/volunteers.py) over real RPC: volunteer
profiles, the clean-up day of Trafik och gator with its roles, the offers that fill them
and the group's invitation; loaded once (a second load adds nothing)."""

from __future__ import annotations

import pytest
from nameko.standalone.rpc import ClusterRpcClient

from services.events.service import EventsService
from services.groups.service import GroupsService


@pytest.fixture
def client(migrated):
    with ClusterRpcClient(context_data={"correlation_id": "corr-vol-demo"}, timeout=30) as cluster:
        yield cluster


def test_the_demo_volunteers_load_once(migrated, container_factory, client):
    import demo
    from demo import volunteers

    container_factory(GroupsService).start()
    container_factory(EventsService).start()
    loader = demo.DemoLoader(client.groups, "correct horse battery", say=lambda _: None)
    existing = demo.all_groups(client.groups)
    loader.load_groups(existing, [group for group in demo.GROUPS if group.name == volunteers.GROUP])
    part = volunteers.VolunteersDemo(client.groups, client.events, loader)
    assert part.is_loaded(existing) is False

    part.load(existing)
    assert part.is_loaded(existing) is True
    (event,) = [
        e
        for e in client.events.list_events(None, per_page=100)["items"]
        if e["title"] == volunteers.TITLE
    ]
    assert event["kind"] == "clean_up_day"
    assert [(r["name"], r["needed"], r["filled"]) for r in event["roles"]] == [
        ("Förare", 2, 1),
        ("Plockare", 5, 1),
        ("Fikavärd", 1, 0),
    ]
    lars = loader.actor(volunteers.ORGANISER)
    found = client.groups.search_volunteers(lars, per_page=100)["items"]
    names = {item["display_name"] for item in found}
    assert {"Karin Labba", "Johan Spik", "Sofia Kuhmunen", "Emma Andersson"} <= names
    assert "Ingrid Pavval" not in names  # offered help, but may not be contacted
    invited = client.groups.list_my_volunteer_invitations(loader.actor("emma"))["items"]
    assert [(i["target_title"], i["status"]) for i in invited] == [(volunteers.TITLE, "pending")]

    created = loader.created
    volunteers.VolunteersDemo(client.groups, client.events, loader).load(existing)
    assert loader.created == created
