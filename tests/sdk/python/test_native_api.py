"""The PubNub API and the native `/v1/` API share one bus: a message
published through one is received through the other."""

from clients import subscribe


def test_native_publish_reaches_sdk_subscriber(node, clients, unique):
    bob = clients("bob")
    channel = f"bridge-{unique}"
    inbox = subscribe(bob, [channel])

    timetoken = node.native_publish(channel, {"via": "native"}, publisher="carol")

    got = inbox.next("message")
    assert (got.channel, got.message, got.publisher, got.timetoken) == (
        channel, {"via": "native"}, "carol", int(timetoken))


def test_sdk_publish_reaches_native_stream(node, clients, unique):
    alice = clients("alice")
    channel = f"bridge-{unique}"

    with node.native_stream(channel) as stream:
        timetoken = alice.publish().channel(channel).message({"via": "sdk"}).meta({"m": 1}).sync().result.timetoken
        kind, event = stream.next_event()

    assert kind == "message"
    assert event == {"channel": channel, "timetoken": str(timetoken), "message": {"via": "sdk"},
                     "meta": {"m": 1}, "publisher": "alice", "kind": "publish"}
