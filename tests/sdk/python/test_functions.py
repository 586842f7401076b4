"""Messages pass through the node's functions: the examples `moderate`
(before publish) and `counter` (after publish, and its endpoint), both on
`chat.*`."""

import pytest
from pubnub.exceptions import PubNubException

from clients import subscribe, wait_until

# The before-publish deadline is generous so that a slow machine cannot turn
# a timing hiccup into a rejected publish: these tests are about the protocol.
FUNCTIONS = {
    "moderate": {"guest": "moderate", "before_publish": ["chat.*"],
                 "config": {"banned_words": "spam"}, "timeout_ms": 2000},
    "counter": {"guest": "counter", "after_publish": ["chat.*"], "endpoint": True},
}


def count(node, channel):
    """What the `counter` function counted on `channel`."""
    return node.endpoint("counter", f"/{channel}")["count"]


def test_message_arrives_transformed_by_before_publish(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    channel = f"chat.{unique}"
    inbox = subscribe(bob, [channel])

    alice.publish().channel(channel).message({"text": "  hello \n  world "}).sync()

    assert inbox.next("message").message == {"text": "hello world", "moderated": True}


def test_rejected_publish_is_an_error_carrying_the_reason(clients, unique):
    alice, bob = clients("alice"), clients("bob")
    channel = f"chat.{unique}"
    inbox = subscribe(bob, [channel])

    with pytest.raises(PubNubException) as refused:
        alice.publish().channel(channel).message({"text": "buy spam now"}).sync()

    reason = str(refused.value)  # the SDK's text: status code and the node's answer
    assert "rejected the message: message contains banned word" in reason and "spam" in reason
    alice.publish().channel(channel).message({"text": "fine"}).sync()
    # Nothing came before the accepted message: the rejected one was never delivered.
    assert inbox.next("message").message == {"text": "fine", "moderated": True}


def test_fire_reaches_functions_but_no_subscriber(node, clients, unique):
    alice, bob = clients("alice"), clients("bob")
    channel = f"chat.{unique}"
    inbox = subscribe(bob, [channel])

    alice.fire().channel(channel).message({"text": "fired"}).sync()
    wait_until(lambda: count(node, channel) == 1, "the after-publish function counting the fire")
    alice.publish().channel(channel).message({"text": "published"}).sync()

    # The first message the subscriber gets is the one published after the fire.
    assert inbox.next("message").message == {"text": "published", "moderated": True}
    wait_until(lambda: count(node, channel) == 2, "the after-publish function counting the publish")
