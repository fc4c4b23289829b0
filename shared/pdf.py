"""Documents in two steps: a pure ``render_<doc>_html(context)`` (Jinja2, testable as text) in the
service that owns the document, and this one shared :func:`html_to_pdf` (WeasyPrint)."""

from datetime import date, datetime

import jinja2

from shared.money import format_eur


def format_date_fr(value):
    """``2026-11-22`` -> ``22/11/2026``."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime | date):
        return value.strftime("%d/%m/%Y")
    return ""


def format_percent(basis_points):
    """``400`` -> ``4 %``; ``250`` -> ``2,5 %`` (French typography, no-break space)."""
    whole, rest = divmod(basis_points, 100)
    text = str(whole) if not rest else f"{whole},{rest:02d}".rstrip("0")
    return f"{text}\u00a0%"


def format_iban(iban):
    """Groups of four characters, as printed on a RIB."""
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def template_environment(package, folder="templates"):
    """A Jinja2 environment over ``<package>/<folder>`` with the money and date filters."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, folder),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["eur"] = format_eur
    env.filters["date_fr"] = format_date_fr
    env.filters["pct"] = format_percent
    env.filters["iban"] = format_iban
    return env


def html_to_pdf(html, title=None, author="APTIC platform", base_url=None):
    """Render HTML to PDF bytes with WeasyPrint (imported here: it is slow to import)."""
    from weasyprint import HTML

    document = HTML(string=html, base_url=base_url).render()
    if title:
        document.metadata.title = title
    document.metadata.authors = [author]
    return document.write_pdf()
