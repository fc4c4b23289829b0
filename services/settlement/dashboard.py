"""The sponsor's anonymised dashboard (docs/settlement.md): coupons distributed, redeemed, expired, by month,
venue, category and territory, with no cell that counts fewer than 5 beneficiaries.

A beneficiary is a booklet (one booklet is handed to one person). A cell's beneficiaries are the
distinct booklets behind it. Cells under the threshold are merged into one ``other`` row; if that
row would itself count fewer than the threshold, the smallest shown cells join it until it does
(or everything is merged), so that no small cell can be worked out by subtracting the shown ones
from the totals.

The totals follow the same rule (:func:`anonymised_totals`): a sponsor whose coupons reached fewer
than the threshold of beneficiaries in all sees only what it ordered (coupons and booklets
issued), never how many were handed out, used, expired or still outstanding (each of which,
with what was issued, would give the others away). A table's rows always add up to its total:
every cell is either shown, or in ``other``, or the whole table is one suppressed row.
"""

from collections import defaultdict

MIN_BENEFICIARIES = 5
OTHER = "other"


def anonymised(cells, key_name, threshold=MIN_BENEFICIARIES):
    """``cells``: ``{key: {"beneficiaries": set, measure: int, ...}}`` -> rows sorted by key,
    each ``{key_name: key, "beneficiaries": n, measures...}``, small cells merged into ``other``."""
    shown = {k: c for k, c in cells.items() if len(c["beneficiaries"]) >= threshold}
    merged = {k: c for k, c in cells.items() if k not in shown}
    if merged:
        while shown and len(_union(merged.values())) < threshold:
            smallest = min(shown, key=lambda k: (len(shown[k]["beneficiaries"]), str(k)))
            merged[smallest] = shown.pop(smallest)
    rows = [
        _row(key_name, key, cell) for key, cell in sorted(shown.items(), key=lambda i: str(i[0]))
    ]
    if merged:
        other = _merge(merged.values())
        if len(other["beneficiaries"]) >= threshold:
            rows.append(_row(key_name, OTHER, other))
        else:  # too few in all: nothing can be shown
            rows.append({key_name: OTHER, "suppressed": True})
    return rows


def anonymised_totals(beneficiaries, ordered, measured, threshold=MIN_BENEFICIARIES):
    """The dashboard's totals: ``ordered`` (what the sponsor bought: always shown) and
    ``measured`` (what beneficiaries did), the latter ``None`` each when fewer than
    ``threshold`` ``beneficiaries`` are behind them (none at all is no one's secret: the counts
    are then those of booklets never handed out); ``suppressed`` says so."""
    suppressed = 0 < beneficiaries < threshold
    out = dict(ordered)
    out["beneficiaries"] = None if suppressed else beneficiaries
    out.update({k: (None if suppressed else v) for k, v in measured.items()})
    out["suppressed"] = suppressed
    return out


def _union(cells):
    out = set()
    for cell in cells:
        out |= cell["beneficiaries"]
    return out


def _merge(cells):
    out = defaultdict(int)
    out["beneficiaries"] = set()
    for cell in cells:
        for measure, value in cell.items():
            if measure == "beneficiaries":
                out["beneficiaries"] |= value
            else:
                out[measure] += value
    return out


def _row(key_name, key, cell):
    row = {key_name: key, "beneficiaries": len(cell["beneficiaries"])}
    row.update({k: v for k, v in cell.items() if k != "beneficiaries"})
    return row


def new_cell(*measures):
    cell = {measure: 0 for measure in measures}
    cell["beneficiaries"] = set()
    return cell
