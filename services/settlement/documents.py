"""Settlement's documents: a venue's payout statement, a funder's credit note, a department's
cooperation fund statement, the operator's summary of a run. Each is rendered from the snapshot
stored when it was issued (never from live data), so rendering it again months later gives the
same document; a statement's lines are the run's own lines (a fund statement's, the
contributions the run stated), fixed once the run took them. ``render_*_html`` are pure (testable as text).

Dates are printed as days of the operator's timezone that the snapshot names (``timezone``);
a snapshot made before it was recorded is printed as it was, in UTC."""

from services.settlement import periods
from shared.pdf import html_to_pdf, template_environment

_env = None


def environment():
    global _env
    if _env is None:
        _env = template_environment("services.settlement")
        _env.filters["serial_range"] = serial_range
    return _env


def serial_range(serials):
    """``a`` ; ``a, b`` ; ``first … last`` for longer (the serials of a line are sorted)."""
    serials = list(serials)
    if len(serials) <= 2:
        return ", ".join(serials)
    return f"{serials[0]} … {serials[-1]}"


def _zone(snapshot):
    return periods.zone(snapshot.get("timezone") or "UTC")


def _local(snapshot, tz, *keys):
    """The snapshot with its times ``keys`` (ISO text) as local dates (ISO text)."""
    return {
        **snapshot,
        **{k: periods.local_date(snapshot[k], tz).isoformat() for k in keys if snapshot.get(k)},
    }


def render_statement_html(statement, lines):
    """``lines``: any iterable (a store cursor), read once."""
    tz = _zone(statement)
    return (
        environment()
        .get_template("statement.html")
        .render(
            s=_local(statement, tz, "issued_at"),
            lines=(_local(line, tz, "redeemed_at") for line in lines),
        )
    )


def render_statement_pdf(statement, lines):
    return html_to_pdf(
        render_statement_html(statement, lines),
        title=f"Relevé de paiement {statement['reference']}",
        author=statement["issuer"]["name"],
    )


def render_credit_note_html(note):
    return (
        environment()
        .get_template("credit_note.html")
        .render(n=_local(note, _zone(note), "issued_at"))
    )


def render_credit_note_pdf(note):
    return html_to_pdf(
        render_credit_note_html(note),
        title=f"Avoir {note['reference']}",
        author=note["issuer"]["name"],
    )


def render_fund_statement_html(statement, lines):
    """``lines``: any iterable (a store cursor), read once."""
    tz = _zone(statement)
    return (
        environment()
        .get_template("fund_statement.html")
        .render(
            s=_local(statement, tz, "issued_at"),
            lines=(_local(line, tz, "confirmed_at") for line in lines),
        )
    )


def render_fund_statement_pdf(statement, lines):
    return html_to_pdf(
        render_fund_statement_html(statement, lines),
        title=f"Relevé du fonds de coopération {statement['reference']}",
        author=statement["issuer"]["name"],
    )


def render_run_summary_html(summary):
    return (
        environment()
        .get_template("run_summary.html")
        .render(r=_local(summary, _zone(summary), "issued_at"))
    )


def render_run_summary_pdf(summary):
    return html_to_pdf(
        render_run_summary_html(summary),
        title=f"Synthèse du règlement {summary['reference']}",
        author=summary["issuer"]["name"],
    )
