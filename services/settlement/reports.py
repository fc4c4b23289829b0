"""The sponsor's dashboard: anonymised use of its coupons (see ``dashboard``).

Every table counts beneficiaries (a booklet handed out is one person) and shows no cell under the
threshold, small cells merged so that none can be worked out by subtraction
(:func:`dashboard.anonymised`); the totals follow the same rule (:func:`dashboard.anonymised_totals`):
under the threshold in all, only what the sponsor ordered (coupons and booklets issued) is shown.

Tables: what the sponsor's orders issued by month (its own purchases, about no one: shown as they
are), by month (booklets handed out, their coupons, coupons redeemed), by venue, by service
category, by territory (the venue's department; coupons redeemed), and by the beneficiary's
anonymous profile recorded at activation (age band, public category; ``unknown`` when not given):
coupons handed out, redeemed, expired, outstanding."""

from collections import defaultdict

from services.settlement import dashboard, periods

UNKNOWN = "unknown"  # a profile field not given at activation, a venue's department not known
PROFILE_TABLES = (("age_band", "by_age_band"), ("public_category", "by_public_category"))


# -- the sponsor's dashboard ----------------------------------------------------------------------
def sponsor_dashboard(repo, sponsor_id, threshold=dashboard.MIN_BENEFICIARIES, tz=None):
    """Anonymised use of a sponsor's coupons (see ``services/settlement/dashboard.py``); months
    are those of the operator's timezone ``tz``."""
    tz = tz or periods.zone(periods.DEFAULT_TIMEZONE)

    def month_of(moment):
        return periods.local_date(moment, tz).strftime("%Y-%m")

    booklets = {"issued": 0, "distributed": 0, "cancelled": 0, "handed_out": 0}
    beneficiaries = set()
    months = {}
    profiles = {field: {} for field, _ in PROFILE_TABLES}
    handed = {}  # serial -> (coupon count, profile) of the booklets handed out
    issued = {}  # month -> [booklets, coupons] issued (the sponsor's purchases: no one's secret)

    def month_cell(month):
        return months.setdefault(month, dashboard.new_cell("distributed", "handed_out", "redeemed"))

    for booklet in repo.booklets_of_sponsor(sponsor_id):
        booklets["issued"] += 1
        if booklet.get("issued_at") is not None:
            month = issued.setdefault(month_of(booklet["issued_at"]), [0, 0])
            month[0] += 1
            month[1] += booklet.get("coupon_count") or 0
        if booklet.get("cancelled_at") is not None:
            booklets["cancelled"] += 1
        if booklet.get("activated_at") is not None:
            serial = booklet["serial"]
            coupons = booklet.get("coupon_count") or 0
            booklets["distributed"] += 1
            booklets["handed_out"] += coupons
            beneficiaries.add(serial)
            handed[serial] = (coupons, booklet.get("profile") or {})
            cell = month_cell(month_of(booklet["activated_at"]))
            cell["distributed"] += 1
            cell["handed_out"] += coupons
            cell["beneficiaries"].add(serial)
    by_redemption = defaultdict(list)
    redeemed_of = defaultdict(int)  # booklet serial -> its coupons redeemed
    for coupon in repo.redeemed_coupons_of_sponsor(sponsor_id):
        by_redemption[coupon["redemption_id"]].append(coupon["booklet_serial"])
        redeemed_of[coupon["booklet_serial"]] += 1
    expired_of = defaultdict(int)
    for coupon in repo.expired_coupons_of_sponsor(sponsor_id):
        expired_of[coupon["booklet_serial"]] += 1
    venues, categories, territories = {}, {}, {}
    lines = list(repo.payables_by_ids(by_redemption)) if by_redemption else []
    known = {v["venue_id"]: v for v in repo.venues_by_ids({p["venue_id"] for p in lines})}
    for line in lines:
        serials = by_redemption[line["id"]]
        beneficiaries.update(serials)
        venue = known.get(line["venue_id"], {})
        for cells, key in (
            (venues, (line["venue_id"], venue.get("name", line["venue_id"]))),
            (categories, line.get("category") or UNKNOWN),
            (territories, venue.get("department") or UNKNOWN),
        ):
            cell = cells.setdefault(key, dashboard.new_cell("redeemed"))
            cell["redeemed"] += len(serials)
            cell["beneficiaries"].update(serials)
        cell = month_cell(month_of(line["redeemed_at"]))
        cell["redeemed"] += len(serials)
        cell["beneficiaries"].update(serials)
    for serial, (coupons, profile) in handed.items():
        redeemed, expired = redeemed_of.get(serial, 0), expired_of.get(serial, 0)
        for field, _ in PROFILE_TABLES:
            cell = profiles[field].setdefault(
                profile.get(field) or UNKNOWN,
                dashboard.new_cell("handed_out", "redeemed", "expired", "outstanding"),
            )
            cell["handed_out"] += coupons
            cell["redeemed"] += redeemed
            cell["expired"] += expired
            cell["outstanding"] += max(coupons - redeemed - expired, 0)
            cell["beneficiaries"].add(serial)
    counts = repo.coupon_counts_of_sponsor(sponsor_id)
    by_venue = []
    for row in dashboard.anonymised(venues, "venue", threshold):
        if isinstance(row["venue"], tuple):
            row = {**row, "venue_id": row["venue"][0], "venue": row["venue"][1]}
        by_venue.append(row)
    totals = dashboard.anonymised_totals(
        len(beneficiaries),
        {
            "booklets_issued": booklets["issued"],
            "coupons_issued": sum(c for c, _ in counts.values()),
        },
        {
            "booklets_distributed": booklets["distributed"],
            "booklets_cancelled": booklets["cancelled"],
            "coupons_handed_out": booklets["handed_out"],
            "coupons_redeemed": counts.get("redeemed", (0, 0))[0],
            "coupons_expired": counts.get("expired", (0, 0))[0],
            "coupons_outstanding": counts.get("outstanding", (0, 0))[0],
            "redeemed_cents": counts.get("redeemed", (0, 0))[1],
            "refunded_cents": counts.get("expired", (0, 0))[1],
        },
        threshold,
    )
    board = {
        "sponsor_id": sponsor_id,
        "min_beneficiaries": threshold,
        "totals": totals,
        "by_month": dashboard.anonymised(months, "month", threshold),
        "by_venue": by_venue,
        "by_category": dashboard.anonymised(categories, "category", threshold),
        "by_territory": dashboard.anonymised(territories, "territory", threshold),
    }
    for field, table in PROFILE_TABLES:
        board[table] = dashboard.anonymised(profiles[field], field, threshold)
    board["issued_by_month"] = [
        {"month": month, "booklets": n, "coupons": c} for month, (n, c) in sorted(issued.items())
    ]
    return board
