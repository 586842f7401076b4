"""Message Persistence through the SDK's own calls, on a node with access
control on: message counts, delete messages (signed with the secret key, or
with a token granting `delete`), history v2 (`history()`), and publish with
a `ttl`."""

import pytest
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.v3.channel import Channel
from pubnub.pnconfiguration import PNConfiguration
from pubnub.pubnub import PubNub

from clients import PUBLISH_KEY, SUBSCRIBE_KEY, close_client

SECRET_KEY = "sdk-history-secret"  # the node's (see conftest)


@pytest.fixture
def server(clients):
    """The app's server: a client holding the secret key."""
    return clients("server", secret_key=SECRET_KEY)


@pytest.fixture
def unlocked(node):
    """A server client whose configuration stays unlocked, the SDK's
    default: the SDK's `history()` sets up its crypto lazily, in the
    configuration, which a locked one silently refuses (then it fails with
    `'NoneType' object is not callable` against any server)."""
    config = PNConfiguration()
    config.publish_key, config.subscribe_key = PUBLISH_KEY, SUBSCRIBE_KEY
    config.user_id, config.secret_key = "server", SECRET_KEY
    config.origin, config.ssl, config.daemon = node.origin, False, True
    client = PubNub(config)
    yield client
    close_client(client)


def publish(client, channel, message, **options):
    call = client.publish().channel(channel).message(message)
    if "ttl" in options:
        call = call.ttl(options["ttl"])
    if "store" in options:
        call = call.should_store(options["store"])
    return call.sync().result.timetoken


def fetched(client, channel):
    result = client.fetch_messages().channels(channel).sync().result
    return [m.message for m in result.channels.get(channel, [])]


def token_for(server, channel, **rights):
    permissions = Channel.id(channel)
    for right in rights:
        permissions = getattr(permissions, right)()
    return server.grant_token().channels([permissions]).ttl(15).sync().result.token


def test_message_counts_per_channel(server, unique):
    a, b = f"counted-{unique}", f"other-{unique}"
    first = publish(server, a, "a0")
    publish(server, a, "a1")
    publish(server, a, "a2")
    publish(server, b, "b0")

    # The SDK sends one timetoken as `timetoken`, several as `channelsTimetoken`.
    one = server.message_counts().channel([a]).channel_timetokens([first]).sync().result
    assert one.channels == {a: 2}
    each = server.message_counts().channel([a, b]).channel_timetokens([first, 0]).sync().result
    assert each.channels == {a: 2, b: 1}


def test_delete_messages_signed_with_the_secret_key(server, unique):
    channel = f"deleted-{unique}"
    timetokens = [publish(server, channel, f"m{n}") for n in range(4)]

    # One message: start is its timetoken - 1, end its timetoken.
    server.delete_messages().channel(channel).start(timetokens[1] - 1).end(timetokens[1]).sync()
    assert fetched(server, channel) == ["m0", "m2", "m3"]
    counts = server.message_counts().channel([channel]).channel_timetokens([0]).sync().result
    assert counts.channels == {channel: 3}

    # No range: the whole channel.
    server.delete_messages().channel(channel).sync()
    assert fetched(server, channel) == []


def test_delete_messages_needs_the_delete_permission(server, clients, unique):
    channel = f"guarded-{unique}"
    timetoken = publish(server, channel, "kept")
    alice = clients("alice")

    alice.set_token(token_for(server, channel, read=True, write=True))
    with pytest.raises(PubNubException) as error:
        alice.delete_messages().channel(channel).sync()
    assert error.value.get_status_code() == 403, error.value
    assert fetched(server, channel) == ["kept"]

    alice.set_token(token_for(server, channel, delete=True))
    alice.delete_messages().channel(channel).start(timetoken - 1).end(timetoken).sync()
    assert fetched(server, channel) == []


def test_history_v2(unlocked, unique):
    server = unlocked
    channel = f"v2-{unique}"
    timetokens = [
        server.publish().channel(channel).message({"n": n}).meta({"m": n}).sync().result.timetoken
        for n in range(5)
    ]

    newest = server.history().channel(channel).count(2).sync().result
    assert [m.entry for m in newest.messages] == [{"n": 3}, {"n": 4}]
    assert (newest.start_timetoken, newest.end_timetoken) == (timetokens[3], timetokens[4])

    oldest = server.history().channel(channel).count(2).reverse(True).sync().result
    assert [m.entry for m in oldest.messages] == [{"n": 0}, {"n": 1}]

    detailed = (server.history().channel(channel).count(1)
                .include_timetoken(True).include_meta(True).sync().result)
    [message] = detailed.messages
    assert (message.entry, message.timetoken, message.meta) == ({"n": 4}, timetokens[4], {"m": 4})

    bounded = server.history().channel(channel).start(timetokens[3]).end(timetokens[1]).sync().result
    assert [m.entry for m in bounded.messages] == [{"n": 1}, {"n": 2}]


def test_publish_with_a_ttl(server, unique):
    # Expiry itself is tested end to end with a shortened hour
    # (tests/e2e/history_ops.rs); here the SDK's `ttl` is taken as PubNub
    # takes it.
    channel = f"ttl-{unique}"
    publish(server, channel, "an hour", ttl=1)
    publish(server, channel, "forever", ttl=0)
    publish(server, channel, "not stored", ttl=1, store=False)
    assert fetched(server, channel) == ["an hour", "forever"]
