"""Fixtures: a node per test module, SDK clients closed after each test, and
channel names no other test uses."""

import secrets

import pytest

from clients import close_client, make_client
from edgefn_node import Node


@pytest.fixture(scope="module")
def node(request):
    """A fresh node for the test module. The module may set SECRET_KEY
    (access control on) and FUNCTIONS: {name: {"guest": "moderate", ...rest
    of the deployment}} to deploy from target/guests."""
    node = Node(secret_key=getattr(request.module, "SECRET_KEY", None)).start()
    try:
        for name, spec in getattr(request.module, "FUNCTIONS", {}).items():
            spec = dict(spec)
            node.deploy(name, spec.pop("guest"), **spec)
        yield node
    finally:
        node.stop()


@pytest.fixture
def clients(node):
    """`clients(user_id, secret_key=None, **settings)` makes a client for the
    module's node (see make_client); all are unsubscribed and stopped after
    the test."""
    made = []

    def make(user_id, secret_key=None, **settings):
        client = make_client(node, user_id, secret_key, **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        close_client(client)


@pytest.fixture
def unique():
    """A token to build channel names no other test uses."""
    return secrets.token_hex(4)
