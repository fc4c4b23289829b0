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


def _html(template, name, snapshot, lines=(), line_time=None):
    """``template`` rendered with the snapshot as ``name`` and its ``lines`` (any iterable, a store
    cursor: read once), their times (``issued_at``, each line's ``line_time``) as local days."""
    tz = _zone(snapshot)
    return (
        environment()
        .get_template(template)
        .render(
            {name: _local(snapshot, tz, "issued_at")},
            lines=(_local(line, tz, line_time) for line in lines),
        )
    )


def _pdf(html, title, snapshot):
    """The PDF of ``html``, titled with the document's kind and reference, by its issuer."""
    reference = snapshot["reference"]
    return html_to_pdf(html, title=f"{title} {reference}", author=snapshot["issuer"]["name"])


def render_statement_html(statement, lines):
    return _html("statement.html", "s", statement, lines, "redeemed_at")


def render_statement_pdf(statement, lines):
    return _pdf(render_statement_html(statement, lines), "Relevé de paiement", statement)


def render_credit_note_html(note):
    return _html("credit_note.html", "n", note)


def render_credit_note_pdf(note):
    return _pdf(render_credit_note_html(note), "Avoir", note)


def render_fund_statement_html(statement, lines):
    return _html("fund_statement.html", "s", statement, lines, "confirmed_at")


def render_fund_statement_pdf(statement, lines):
    title = "Relevé du fonds de coopération"
    return _pdf(render_fund_statement_html(statement, lines), title, statement)


def render_run_summary_html(summary):
    return _html("run_summary.html", "r", summary)


def render_run_summary_pdf(summary):
    return _pdf(render_run_summary_html(summary), "Synthèse du règlement", summary)
