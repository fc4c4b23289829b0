"""The sponsors, distributors and venues that keys are bound to, and dashboards are about, exist.

The gateway keeps no copy of them: it asks the service that owns each (catalog for venues,
ordering for sponsors and distributors). An unknown one is that service's ``404`` (its code:
``venue_not_found``, ``sponsor_not_found``, ``distributor_not_found``); a service that does not
answer is ``503 service_unavailable``, and nothing is done.
"""

from services.gateway.auth import KeyInput
from services.gateway.rpc import call

# who asks, when a caller's own actor is not at hand (``aptic keys create`` calls over RPC)
GATEWAY_OPERATOR = {
    "role": "operator",
    "key_id": None,
    "subject_id": None,
    "label": "gateway: checks the subject of a new key",
}


def require_subject(gateway, role, subject_id, actor=None):
    """The record of the sponsor, distributor or venue ``subject_id`` (as ``role`` names it), as
    its owning service answers an operator; ``None`` for an operator key (bound to nobody)."""
    actor = actor or GATEWAY_OPERATOR
    if role == "venue":
        return call(gateway.catalog_rpc.get_venue, subject_id, public=False)
    if role == "sponsor":
        return call(gateway.ordering_rpc.get_sponsor, subject_id, actor)
    if role == "distributor":
        return call(gateway.ordering_rpc.get_distributor, subject_id, actor)
    return None


def create_bound_key(gateway, payload, actor=None):
    """Validate a key's request, check that its subject exists, then make it: ``(key, record)``.
    A key is never bound to a sponsor, distributor or venue that does not exist."""
    data = KeyInput().load_or_raise(payload)
    require_subject(gateway, data["role"], data["subject_id"], actor)
    return gateway.auth.keys.create(data["role"], data["subject_id"], data["label"])
