"""Publish, subscribe, signal and history through the SDK's own calls."""

from clients import subscribe


def publish(client, channel, message, **options):
    """Publishes with the SDK; returns the timetoken the node answered."""
    builder = client.publish().channel(channel).message(message)
    for option, value in options.items():
        builder = getattr(builder, option)(value)
    return builder.sync().result.timetoken


def test_publish_then_subscribe_receives_it(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    channel = f"room-{unique}"
    inbox = subscribe(bob, [channel])

    timetoken = publish(alice, channel, {"text": "hello"}, meta={"lang": "en"})

    got = inbox.next("message")
    assert (got.channel, got.subscription, got.message) == (channel, None, {"text": "hello"})
    assert (got.publisher, got.timetoken, got.user_metadata) == ("alice", timetoken, {"lang": "en"})


def test_subscribe_to_several_channels(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    channels = [f"news-{unique}", f"sport-{unique}", f"weather-{unique}"]
    inbox = subscribe(bob, channels)

    for channel in channels:
        publish(alice, channel, {"on": channel})

    received = [inbox.next("message") for _ in channels]
    assert [(m.channel, m.message) for m in received] == [(c, {"on": c}) for c in channels]


def test_wildcard_subscription_receives_matching_channels(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    pattern = f"a{unique}.*"
    inbox = subscribe(bob, [pattern])

    publish(alice, f"a{unique}.one", 1)
    publish(alice, f"a{unique}.two", 2)

    received = [inbox.next("message") for _ in range(2)]
    assert [(m.channel, m.subscription, m.message) for m in received] == [
        (f"a{unique}.one", pattern, 1),
        (f"a{unique}.two", pattern, 2),
    ]


def test_publish_by_post(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    channel = f"room-{unique}"
    inbox = subscribe(bob, [channel])

    publish(alice, channel, {"text": "by post"}, use_post=True)

    assert inbox.next("message").message == {"text": "by post"}


def test_signal_is_received_as_a_signal(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    channel = f"room-{unique}"
    inbox = subscribe(bob, [channel])

    timetoken = alice.signal().channel(channel).message({"typing": True}).sync().result.timetoken
    publish(alice, channel, "after the signal")

    signal = inbox.next("signal")
    assert (signal.channel, signal.message, signal.publisher) == (channel, {"typing": True}, "alice")
    assert int(signal.timetoken) == int(timetoken)  # the SDK keeps the signal's as a string
    # The signal did not also come as a message: the next message is the one after it.
    assert inbox.next("message").message == "after the signal"


def test_history_fetch_with_meta_and_uuid(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    channel = f"log-{unique}"
    sent = [
        (publish(alice, channel, {"n": 1}, meta={"level": "info"}), {"n": 1}, {"level": "info"}),
        (publish(bob, channel, {"n": 2}, meta={"level": "warn"}), {"n": 2}, {"level": "warn"}),
    ]

    result = alice.fetch_messages().channels([channel]).include_meta(True).include_uuid(True).sync().result

    items = result.channels[channel]
    assert [(int(i.timetoken), i.message, i.meta, i.uuid) for i in items] == [
        (timetoken, message, meta, uuid) for (timetoken, message, meta), uuid in zip(sent, ["alice", "bob"])
    ]
