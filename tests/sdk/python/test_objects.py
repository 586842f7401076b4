"""App Context (Objects v2) uuid and channel metadata through the SDK's own
calls: set, get, get all (include, limit, pages, sort, filter, total count),
remove, eTag conditions, and the object events a listener receives."""

import pytest
from pubnub.endpoints.objects_v2.objects_endpoint import ObjectsEndpoint
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.objects_v2.sort import PNSortKey, PNSortKeyValue

from clients import subscribe


def test_set_get_and_remove_uuid_metadata(clients, unique):
    alice = clients("alice")
    uuid = f"user-{unique}"

    set_ = alice.set_uuid_metadata(uuid=uuid, name="Alice", email="a@example.com",
                                   external_id="ext-1", profile_url="https://example.com/a.png",
                                   custom={"team": "red", "rank": 3}, include_custom=True,
                                   status="active", type="admin").sync().result.data
    got = alice.get_uuid_metadata(uuid=uuid, include_custom=True).sync().result.data

    assert set_ == got
    assert got["id"] == uuid
    assert (got["name"], got["email"], got["externalId"], got["profileUrl"]) == \
        ("Alice", "a@example.com", "ext-1", "https://example.com/a.png")
    assert (got["status"], got["type"], got["custom"]) == ("active", "admin", {"team": "red", "rank": 3})
    assert got["eTag"] and got["updated"].endswith("Z")

    alice.remove_uuid_metadata(uuid=uuid).sync()
    with pytest.raises(PubNubException) as error:
        alice.get_uuid_metadata(uuid=uuid).sync()
    assert error.value.get_status_code() == 404, error.value


def test_set_replaces_the_fields_the_sdk_sends(clients, unique):
    alice = clients("alice")
    uuid = f"user-{unique}"
    alice.set_uuid_metadata(uuid=uuid, name="Alice", email="a@example.com").sync()

    # The SDK sends every field, unset ones as null: they are cleared.
    data = alice.set_uuid_metadata(uuid=uuid, name="Alicia").sync().result.data

    assert (data["name"], data["email"]) == ("Alicia", None)


def test_set_get_and_remove_channel_metadata(clients, unique):
    alice = clients("alice")
    channel = f"room-{unique}"

    alice.set_channel_metadata(channel=channel, name="Room", description="A room",
                               custom={"topic": "cats"}, include_custom=True).sync()
    got = alice.get_channel_metadata(channel=channel, include_custom=True).sync().result.data

    assert (got["id"], got["name"], got["description"], got["custom"]) == \
        (channel, "Room", "A room", {"topic": "cats"})
    assert "email" not in got

    alice.remove_channel_metadata(channel=channel).sync()
    with pytest.raises(PubNubException) as error:
        alice.get_channel_metadata(channel=channel).sync()
    assert error.value.get_status_code() == 404, error.value


def test_get_all_filters_sorts_counts_and_limits(clients, unique):
    alice = clients("alice")
    names = ["Dora", "Bob", "Carol", "Alice", "Eve"]
    for n, name in enumerate(names):
        alice.set_uuid_metadata(uuid=f"{unique}-{n}", name=name, custom={"n": n}).sync()

    result = alice.get_all_uuid_metadata(
        filter=f'id LIKE "{unique}-*" && custom.n >= 1', include_custom=True,
        include_total_count=True, limit=3,
        sort_keys=[PNSortKey.desc(PNSortKeyValue.NAME)]).sync().result

    assert [u["name"] for u in result.data] == ["Eve", "Carol", "Bob"]
    assert result.total_count == 4
    assert result.next is not None and result.prev is None

    rest = alice.get_all_uuid_metadata(
        filter=f'id LIKE "{unique}-*" && custom.n >= 1', limit=3,
        sort_keys=[PNSortKey.desc(PNSortKeyValue.NAME)]).page(result.next).sync().result
    assert [u["name"] for u in rest.data] == ["Alice"]
    assert rest.next is None and rest.prev is not None


def test_get_all_channels_with_a_name_filter(clients, unique):
    alice = clients("alice")
    for name in ["alpha", "beta", "alphabet"]:
        alice.set_channel_metadata(channel=f"{unique}.{name}", name=f"{name} {unique}").sync()

    found = alice.get_all_channel_metadata(
        filter=f'name LIKE "alpha*" && name LIKE "*{unique}"',
        sort_keys=[PNSortKey.asc(PNSortKeyValue.ID)]).sync().result.data

    assert [c["id"] for c in found] == [f"{unique}.alpha", f"{unique}.alphabet"]


def test_a_bad_filter_is_refused_naming_its_position(clients):
    alice = clients("alice")

    with pytest.raises(PubNubException) as error:
        alice.get_all_uuid_metadata(filter='name == ').sync()

    assert error.value.get_status_code() == 400, error.value
    assert "position 8" in str(error.value)


def test_listener_receives_set_and_delete_events(clients, unique):
    # The SDK's own subscription registry fails on the first object event
    # it passes on ('PubNubSubscription' object has no attribute 'uuid'),
    # which stops that client's event thread after our listener got it: so
    # one listening client per event.
    alice = clients("alice")
    uuid, channel = f"user-{unique}", f"room-{unique}"

    def heard(kind, name, change):
        inbox = subscribe(clients(f"listener-{kind}-{change.__name__}"), [name])
        change()
        return inbox.next(kind)

    def set_uuid():
        alice.set_uuid_metadata(uuid=uuid, name="Alice").sync()

    def set_channel():
        alice.set_channel_metadata(channel=channel, name="Room").sync()

    def remove_uuid():
        alice.remove_uuid_metadata(uuid=uuid).sync()

    set_ = heard("uuid", uuid, set_uuid)
    assert (set_.event, set_.data["id"], set_.data["name"]) == ("set", uuid, "Alice")
    assert set_.data["eTag"]
    room = heard("channel", channel, set_channel)
    assert (room.event, room.data["id"], room.data["name"]) == ("set", channel, "Room")
    removed = heard("uuid", uuid, remove_uuid)
    assert (removed.event, removed.data["id"]) == ("delete", uuid)


def test_if_match_with_a_stale_etag_is_412(clients, unique):
    alice = clients("alice")
    uuid = f"user-{unique}"
    first = alice.set_uuid_metadata(uuid=uuid, name="One").sync().result.data
    current = alice.set_uuid_metadata(uuid=uuid, name="Two").sync().result.data
    try:
        with pytest.raises(PubNubException) as error:
            alice.set_uuid_metadata(uuid=uuid, name="Three") \
                .if_matches_etag(first["eTag"]).sync()
        assert error.value.get_status_code() == 412, error.value

        data = alice.set_uuid_metadata(uuid=uuid, name="Three") \
            .if_matches_etag(current["eTag"]).sync().result.data
        assert data["name"] == "Three"
    finally:
        # The SDK keeps If-Match in a dict shared by every objects request
        # of the process; empty it so later tests send none.
        ObjectsEndpoint._custom_headers.clear()
