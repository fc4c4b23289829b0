"""The address of the client of an HTTP request, for rate limits and login throttling.

Behind proxies (an ingress, a load balancer), ``remote_addr`` is the last proxy's address: every
client would share one count. ``TRUSTED_PROXIES`` says how many proxies in front of the process
append to ``X-Forwarded-For``; the client is the entry that many places from its end (entries
further left were written by the client itself and are not believed). 0 (the default): no proxy,
the header is ignored."""

MAX_FORWARDED = 4096  # a longer header is not read (it is the client's own text)


def trusted_proxies(config):
    """``TRUSTED_PROXIES`` of a service's config: a count (0 when unset or not a number)."""
    try:
        return max(0, int(str((config or {}).get("TRUSTED_PROXIES") or 0)))
    except ValueError:
        return 0


def client_address(request, proxies=0):
    """The client's address: ``remote_addr``, or behind ``proxies`` trusted proxies the entry
    they appended to ``X-Forwarded-For`` for it."""
    if proxies > 0:
        header = request.headers.get("X-Forwarded-For", "")
        if len(header) <= MAX_FORWARDED:
            hops = [hop.strip() for hop in header.split(",") if hop.strip()]
            if len(hops) >= proxies:
                return hops[-proxies][:64]
    return request.remote_addr or "unknown"
