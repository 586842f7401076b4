"""Presence: here now, and join events on `{channel}-pnpres`."""

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
