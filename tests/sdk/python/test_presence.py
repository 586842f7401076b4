"""Presence: here now, join, state-change and leave events on `{channel}-pnpres`, for channels and through channel groups."""

from clients import subscribe


def test_join_event_and_here_now(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    channel = f"lobby-{unique}"
    watcher = subscribe(bob, [channel], with_presence=True)

    subscribe(alice, [channel])

    join = watcher.next("presence", where=lambda p: p.uuid == "alice")
    assert (join.event, join.channel, join.occupancy) == ("join", channel, 2)
    here = bob.here_now().channels([channel]).include_uuids(True).sync().result
    assert here.total_occupancy == 2
    assert [(c.channel_name, c.occupancy, sorted(o.uuid for o in c.occupants)) for c in here.channels] == [
        (channel, 2, ["alice", "bob"]),
    ]


def test_presence_through_a_channel_group(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    group, room = f"rooms-{unique}", f"room-{unique}"
    bob.add_channel_to_channel_group().channels([room]).channel_group(group).sync()
    watcher = subscribe(bob, [], with_presence=True, groups=[group])

    subscribe(alice, [], groups=[group])

    join = watcher.next("presence", where=lambda p: p.uuid == "alice" and p.event == "join")
    assert (join.channel, join.subscription, join.occupancy) == (room, group, 2)
    here = bob.here_now().channel_groups([group]).include_uuids(True).sync().result
    assert [(c.channel_name, sorted(o.uuid for o in c.occupants)) for c in here.channels] == [
        (room, ["alice", "bob"]),
    ]

    # The SDK sets state through groups only beside a channel: the one
    # named here is outside the group, so the group's room gets it through
    # the group.
    lounge = f"lounge-{unique}"
    alice.set_state().channels([lounge]).channel_groups([group]).state({"mood": "curious"}).sync()
    change = watcher.next("presence", where=lambda p: p.uuid == "alice" and p.event == "state-change")
    assert (change.channel, change.state) == (room, {"mood": "curious"})
    state = bob.get_state().channel_groups([group]).uuid("alice").sync().result
    assert state.channels == {room: {"mood": "curious"}}

    alice.unsubscribe().channel_groups([group]).execute()
    leave = watcher.next("presence", where=lambda p: p.uuid == "alice" and p.event == "leave")
    assert (leave.channel, leave.occupancy) == (room, 1)
