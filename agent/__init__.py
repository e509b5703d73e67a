"""The robot's side of a network of sites: what it records is kept in a local outbox and
forwarded to the network's MQTT broker whenever the link is up (`agent.outbox`,
`agent.forwarder`); the server's side ingests it (`web.inbox`)."""

from potager.errors import PotagerError


class AgentError(PotagerError):
    """A message that cannot be recorded or forwarded as asked."""
