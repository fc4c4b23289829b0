"""The sponsor's dashboard: anonymised use of its coupons (see ``dashboard``)."""

from collections import defaultdict

from services.settlement import dashboard, periods


# -- the sponsor's dashboard ----------------------------------------------------------------------
def sponsor_dashboard(repo, sponsor_id, threshold=dashboard.MIN_BENEFICIARIES, tz=None):
    """Anonymised use of a sponsor's coupons (see ``services/settlement/dashboard.py``); months
    are those of the operator's timezone ``tz``."""
    tz = tz or periods.zone(periods.DEFAULT_TIMEZONE)

    def month_of(moment):
        return periods.local_date(moment, tz).strftime("%Y-%m")

    booklets = {"issued": 0, "distributed": 0, "cancelled": 0}
    months = {}

    def month_cell(month):
        return months.setdefault(month, dashboard.new_cell("distributed", "redeemed"))

    for booklet in repo.booklets_of_sponsor(sponsor_id):
        booklets["issued"] += 1
        if booklet.get("cancelled_at") is not None:
            booklets["cancelled"] += 1
        if booklet.get("activated_at") is not None:
            booklets["distributed"] += 1
            cell = month_cell(month_of(booklet["activated_at"]))
            cell["distributed"] += 1
            cell["beneficiaries"].add(booklet["serial"])
    by_redemption = defaultdict(list)
    for coupon in repo.redeemed_coupons_of_sponsor(sponsor_id):
        by_redemption[coupon["redemption_id"]].append(coupon["booklet_serial"])
    venues, categories, territories = {}, {}, {}
    lines = list(repo.payables_by_ids(by_redemption)) if by_redemption else []
    known = {v["venue_id"]: v for v in repo.venues_by_ids({p["venue_id"] for p in lines})}
    for line in lines:
        serials = by_redemption[line["id"]]
        venue = known.get(line["venue_id"], {})
        for cells, key in (
            (venues, (line["venue_id"], venue.get("name", line["venue_id"]))),
            (categories, line.get("category") or "unknown"),
            (territories, venue.get("department", "unknown")),
        ):
            cell = cells.setdefault(key, dashboard.new_cell("redeemed"))
            cell["redeemed"] += len(serials)
            cell["beneficiaries"].update(serials)
        cell = month_cell(month_of(line["redeemed_at"]))
        cell["redeemed"] += len(serials)
        cell["beneficiaries"].update(serials)
    counts = repo.coupon_counts_of_sponsor(sponsor_id)
    by_venue = []
    for row in dashboard.anonymised(venues, "venue", threshold):
        if isinstance(row["venue"], tuple):
            row = {**row, "venue_id": row["venue"][0], "venue": row["venue"][1]}
        by_venue.append(row)
    return {
        "sponsor_id": sponsor_id,
        "min_beneficiaries": threshold,
        "totals": {
            "booklets_issued": booklets["issued"],
            "booklets_distributed": booklets["distributed"],
            "booklets_cancelled": booklets["cancelled"],
            "coupons_issued": sum(c for c, _ in counts.values()),
            "coupons_redeemed": counts.get("redeemed", (0, 0))[0],
            "coupons_expired": counts.get("expired", (0, 0))[0],
            "coupons_outstanding": counts.get("outstanding", (0, 0))[0],
            "redeemed_cents": counts.get("redeemed", (0, 0))[1],
            "refunded_cents": counts.get("expired", (0, 0))[1],
        },
        "by_month": dashboard.anonymised(months, "month", threshold),
        "by_venue": by_venue,
        "by_category": dashboard.anonymised(categories, "category", threshold),
        "by_territory": dashboard.anonymised(territories, "territory", threshold),
    }
