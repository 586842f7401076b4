"""Message actions through the SDK's own calls: add, get (paged), remove,
the events a subscriber's listener receives, and history with actions."""

import pytest
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.message_actions import PNMessageAction

from clients import subscribe


def publish(client, channel, message):
    return client.publish().channel(channel).message(message).sync().result.timetoken


def add(client, channel, timetoken, type, value):
    """Adds an action with the SDK; returns what the node answered."""
    action = PNMessageAction().create(type=type, value=value, message_timetoken=str(timetoken))
    return client.add_message_action().channel(channel).message_action(action).sync().result


def fields(action):
    return (action.type, action.value, action.uuid, int(action.message_timetoken))


def test_add_get_and_remove(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    channel = f"chat-{unique}"
    timetoken = publish(alice, channel, {"text": "hi"})

    smile = add(bob, channel, timetoken, "reaction", "smile")
    read = add(alice, channel, timetoken, "receipt", "read")

    assert fields(smile) == ("reaction", "smile", "bob", timetoken)
    assert int(read.action_timetoken) > int(smile.action_timetoken)
    listed = alice.get_message_actions().channel(channel).sync().result.actions
    assert [(fields(a), a.action_timetoken) for a in listed] == [
        (fields(smile), smile.action_timetoken),
        (fields(read), read.action_timetoken),
    ]

    alice.remove_message_action().channel(channel).message_timetoken(timetoken) \
        .action_timetoken(smile.action_timetoken).sync()

    listed = alice.get_message_actions().channel(channel).sync().result.actions
    assert [a.action_timetoken for a in listed] == [read.action_timetoken]


def test_the_same_action_twice_is_a_conflict(clients, unique):
    alice = clients("alice")
    channel = f"chat-{unique}"
    timetoken = publish(alice, channel, "once")
    add(alice, channel, timetoken, "reaction", "smile")

    with pytest.raises(PubNubException) as error:
        add(alice, channel, timetoken, "reaction", "smile")

    assert error.value.get_status_code() == 409, error.value


def test_get_pages_newest_first_by_start_and_limit(clients, unique):
    alice = clients("alice")
    channel = f"chat-{unique}"
    timetoken = publish(alice, channel, "many reactions")
    added = [add(alice, channel, timetoken, "reaction", f"r{n}").action_timetoken for n in range(5)]

    newest = alice.get_message_actions().channel(channel).limit("2").sync().result.actions
    older = alice.get_message_actions().channel(channel).start(newest[0].action_timetoken) \
        .limit("2").sync().result.actions

    assert [a.action_timetoken for a in newest] == added[3:]
    assert [a.action_timetoken for a in older] == added[1:3]


def test_subscriber_receives_added_and_removed_actions(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    channel = f"chat-{unique}"
    inbox = subscribe(bob, [channel])
    timetoken = publish(alice, channel, {"text": "react to me"})
    assert inbox.next("message").message == {"text": "react to me"}

    smile = add(alice, channel, timetoken, "reaction", "smile")
    alice.remove_message_action().channel(channel).message_timetoken(timetoken) \
        .action_timetoken(smile.action_timetoken).sync()

    for _ in ("added", "removed"):
        event = inbox.next("message_action")
        assert (event.channel, event.subscription) == (channel, None)
        assert fields(event) == ("reaction", "smile", "alice", timetoken)
        assert event.action_timetoken == smile.action_timetoken
    # The events were not also delivered as messages.
    publish(alice, channel, "after the actions")
    assert inbox.next("message").message == "after the actions"


def test_fetch_messages_with_actions(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    channel = f"chat-{unique}"
    first = publish(alice, channel, "first")
    second = publish(alice, channel, "second")
    smile = add(bob, channel, first, "reaction", "smile")
    also_smile = add(alice, channel, first, "reaction", "smile")
    read = add(bob, channel, second, "receipt", "read")

    result = alice.fetch_messages().channels([channel]).include_message_actions(True).sync().result

    items = result.channels[channel]
    assert [(i.message, int(i.timetoken)) for i in items] == [("first", first), ("second", second)]
    assert items[0].actions == {"reaction": {"smile": [
        {"uuid": "bob", "actionTimetoken": smile.action_timetoken},
        {"uuid": "alice", "actionTimetoken": also_smile.action_timetoken},
    ]}}
    assert items[1].actions == {"receipt": {"read": [{"uuid": "bob", "actionTimetoken": read.action_timetoken}]}}
