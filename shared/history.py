"""One entry of an audit trail (orders, booklets, venues): every change of state is recorded with
who made it, when and why, so that an operator can answer "who did this, and when"."""


def history_entry(status_from, status_to, actor, at, reason=None, **details):
    """``{from, to, reason, by, at, **details}``: statuses as their values (an enum member or
    its text; ``None`` for a creation), ``actor`` the actor dict, ``at`` an aware UTC datetime.

    >>> entry = history_entry(None, "applied", {"role": "operator"}, None, "registered")
    >>> entry["from"], entry["to"], entry["reason"], entry["by"]
    (None, 'applied', 'registered', {'role': 'operator'})
    """
    return {
        "from": getattr(status_from, "value", status_from),
        "to": getattr(status_to, "value", status_to),
        "reason": reason,
        "by": actor,
        "at": at,
        **details,
    }
