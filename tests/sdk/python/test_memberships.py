"""App Context memberships and channel members through the SDK's own calls:
set, get, remove and manage from either end (one record seen from both),
include, filter, paging and total count, and the membership events a
listener receives."""

import pytest
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.objects_v2.channel_members import PNUserMember
from pubnub.models.consumer.objects_v2.common import MemberIncludes, MembershipIncludes
from pubnub.models.consumer.objects_v2.memberships import PNChannelMembership

from clients import subscribe


def channel_ids(data):
    return [m["channel"]["id"] for m in data]


def uuid_ids(data):
    return [m["uuid"]["id"] for m in data]


def test_set_get_and_remove_memberships(clients, unique):
    alice = clients("alice")
    uuid, rooms = f"user-{unique}", [f"{unique}.a", f"{unique}.b", f"{unique}.c"]
    alice.set_channel_metadata(channel=rooms[0], name="Room A", custom={"size": 1}).sync()

    set_ = alice.set_memberships(
        uuid=uuid,
        channel_memberships=[
            PNChannelMembership(rooms[0], custom={"lastRead": 5}, status="active", type="owner"),
            PNChannelMembership.channel(rooms[1]),
            PNChannelMembership.channel_with_custom(rooms[2], {"lastRead": 1}),
        ],
        include=MembershipIncludes(custom=True, status=True, type=True, total_count=True,
                                   channel=True, channel_custom=True),
    ).sync().result

    assert channel_ids(set_.data) == rooms
    assert set_.total_count == 3
    first = set_.data[0]
    assert (first["custom"], first["status"], first["type"]) == ({"lastRead": 5}, "active", "owner")
    assert (first["channel"]["name"], first["channel"]["custom"]) == ("Room A", {"size": 1})
    assert first["eTag"] and first["updated"].endswith("Z")
    assert set_.data[1]["channel"] == {"id": rooms[1]}

    got = alice.get_memberships(uuid=uuid, include_custom=True).sync().result.data
    assert [m["custom"] for m in got] == [{"lastRead": 5}, None, {"lastRead": 1}]

    left = alice.remove_memberships(
        uuid=uuid, channel_memberships=[PNChannelMembership.channel(rooms[1])]).sync().result.data
    assert channel_ids(left) == [rooms[0], rooms[2]]


def test_members_are_the_same_records(clients, unique):
    alice = clients("alice")
    room, users = f"room-{unique}", [f"{unique}-u1", f"{unique}-u2"]
    alice.set_uuid_metadata(uuid=users[1], name="Bob").sync()
    alice.set_memberships(uuid=users[0], channel_memberships=[
        PNChannelMembership.channel_with_custom(room, {"role": "admin"})]).sync()

    members = alice.set_channel_members(
        channel=room, uuids=[PNUserMember(users[1], status="invited")],
        include=MemberIncludes(custom=True, status=True, user=True),
    ).sync().result.data

    assert uuid_ids(members) == users
    assert (members[0]["custom"], members[1]["status"]) == ({"role": "admin"}, "invited")
    assert members[1]["uuid"]["name"] == "Bob"
    bobs = alice.get_memberships(uuid=users[1], include=MembershipIncludes(status=True)).sync()
    assert [(m["channel"]["id"], m["status"]) for m in bobs.result.data] == [(room, "invited")]

    got = alice.get_channel_members(channel=room, include_total_count=True).sync().result
    assert (uuid_ids(got.data), got.total_count) == (users, 2)

    after = alice.manage_channel_members(
        channel=room, uuids_to_set=[PNUserMember(users[1], status="joined")],
        uuids_to_remove=[PNUserMember(users[0])],
        include=MemberIncludes(status=True)).sync().result.data
    assert [(m["uuid"]["id"], m["status"]) for m in after] == [(users[1], "joined")]
    assert alice.get_memberships(uuid=users[0]).sync().result.data == []

    alice.remove_channel_members(channel=room, uuids=[PNUserMember(users[1])]).sync()
    assert alice.get_channel_members(channel=room).sync().result.data == []


def test_manage_filters_and_pages(clients, unique):
    alice = clients("alice")
    uuid = f"user-{unique}"
    names = ["Dora", "Bob", "Carol", "Alice"]
    for n, name in enumerate(names):
        alice.set_channel_metadata(channel=f"{unique}.{n}", name=name).sync()
    alice.set_memberships(uuid=uuid, channel_memberships=[
        PNChannelMembership(f"{unique}.{n}", custom={"n": n}) for n in range(4)]).sync()

    managed = alice.manage_memberships(
        uuid=uuid,
        channel_memberships_to_set=[PNChannelMembership(f"{unique}.0", status="muted")],
        channel_memberships_to_remove=[PNChannelMembership.channel(f"{unique}.3")],
        include=MembershipIncludes(status=True),
    ).sync().result.data
    assert [(m["channel"]["id"], m["status"]) for m in managed] == \
        [(f"{unique}.0", "muted"), (f"{unique}.1", None), (f"{unique}.2", None)]

    found = alice.get_memberships(
        uuid=uuid, filter='channel.name LIKE "*o*" && custom.n < 2',
        include=MembershipIncludes(channel=True)).sync().result.data
    assert [m["channel"]["name"] for m in found] == ["Dora", "Bob"]

    first = alice.get_memberships(uuid=uuid, limit=2, include_total_count=True).sync().result
    assert (channel_ids(first.data), first.total_count) == ([f"{unique}.0", f"{unique}.1"], 3)
    rest = alice.get_memberships(uuid=uuid, limit=2).page(first.next).sync().result
    assert channel_ids(rest.data) == [f"{unique}.2"]
    assert rest.next is None and rest.prev is not None


def test_a_bad_membership_is_refused(clients, unique):
    alice = clients("alice")

    with pytest.raises(PubNubException) as error:
        alice.set_memberships(uuid=f"user-{unique}", channel_memberships=[
            PNChannelMembership.channel_with_custom("room", {"nested": {"no": 1}})]).sync()
    assert error.value.get_status_code() == 400, error.value
    assert "flat" in str(error.value)

    with pytest.raises(PubNubException) as error:
        alice.get_memberships(uuid=f"user-{unique}", filter='uuid.name == "x"').sync()
    assert error.value.get_status_code() == 400, error.value


def test_listeners_receive_membership_events(clients, unique):
    # One listening client per event, as in test_objects.py: the SDK's
    # subscription registry fails after passing on an object event.
    alice = clients("alice")
    uuid, room = f"user-{unique}", f"room-{unique}"

    def heard(where, change):
        inbox = subscribe(clients(f"listener-{where}-{change.__name__}"), [where])
        change()
        return inbox.next("membership")

    def join():
        alice.set_memberships(uuid=uuid, channel_memberships=[
            PNChannelMembership.channel_with_custom(room, {"lastRead": 7})]).sync()

    def leave():
        alice.remove_channel_members(channel=room, uuids=[PNUserMember(uuid)]).sync()

    on_room = heard(room, join)
    assert on_room.event == "set"
    assert (on_room.data["uuid"]["id"], on_room.data["channel"]["id"]) == (uuid, room)
    assert on_room.data["custom"] == {"lastRead": 7} and on_room.data["eTag"]
    on_uuid = heard(uuid, join)
    assert (on_uuid.event, on_uuid.data["channel"]["id"]) == ("set", room)
    removed = heard(uuid, leave)
    assert (removed.event, removed.data) == ("delete", {"uuid": {"id": uuid}, "channel": {"id": room}})
