"""The sponsor's dashboard (k-anonymous), its CSV exports and the read-only link shared with partners.

The numbers are settlement's (``sponsor_dashboard``: no cell under 5 beneficiaries, the totals
too); the page draws each table as a chart (Chart.js, from npm) beside the table itself, which is
the accessible source. The 30-day expiry alerts (settlement's ``expiry_alerts``) come with the
action to block the booklets not yet handed out (issuance's ``block_booklet``, as the sponsor).
A shared link (``services/web/shares.py``) shows the same dashboard, read-only, without login."""

import csv
import io
import re

from werkzeug.wrappers import Response

from services.web import labels, shares
from services.web.http import error_page, page
from services.web.i18n import load_translations
from services.web.rpc import call
from shared.errors import AppError, NotFound


def _(text):
    return text


SUPPRESSED = _("moins de 5")  # what a hidden cell reads, on the page and in the CSV


# the dashboard's columns: settlement's key, its heading
COLUMNS = {
    "beneficiaries": _("Bénéficiaires"),
    "distributed": _("Carnets remis"),
    "booklets": _("Carnets émis"),
    "coupons": _("Chèques émis"),
    "handed_out": _("Chèques remis"),
    "redeemed": _("Chèques encaissés"),
    "expired": _("Chèques expirés"),
    "outstanding": _("Chèques en circulation"),
}
COUPONS = ("handed_out", "redeemed", "expired", "outstanding")  # a coupon's life
USE = ("beneficiaries", "redeemed")  # where and how the coupons were used

# the dashboard's tables: (name in the address, settlement's key, the row's key, title, columns)
TABLES = (
    (
        "mois",
        "by_month",
        "month",
        _("Par mois"),
        ("beneficiaries", "distributed", "handed_out", "redeemed"),
    ),
    (
        "emissions",
        "issued_by_month",
        "month",
        _("Émis par mois (vos commandes)"),
        ("booklets", "coupons"),
    ),
    ("lieux", "by_venue", "venue", _("Par lieu"), USE),
    ("ateliers", "by_category", "category", _("Par type d'atelier"), USE),
    ("territoires", "by_territory", "territory", _("Par territoire (département du lieu)"), USE),
    (
        "ages",
        "by_age_band",
        "age_band",
        _("Par tranche d'âge des bénéficiaires"),
        ("beneficiaries", *COUPONS),
    ),
    (
        "publics",
        "by_public_category",
        "public_category",
        _("Par public"),
        ("beneficiaries", *COUPONS),
    ),
)
TOTALS = (
    ("coupons_issued", _("Chèques émis")),
    ("coupons_handed_out", _("Chèques remis aux bénéficiaires")),
    ("coupons_redeemed", _("Chèques encaissés")),
    ("coupons_expired", _("Chèques expirés")),
    ("coupons_outstanding", _("Chèques en circulation")),
    ("booklets_issued", _("Carnets émis")),
    ("booklets_distributed", _("Carnets remis")),
    ("booklets_cancelled", _("Carnets bloqués, perdus ou volés")),
    ("beneficiaries", _("Bénéficiaires")),
)
OTHER = _("Autres (lignes de moins de 5 bénéficiaires, regroupées)")
UNKNOWN = _("Non renseigné")
GONE = _(
    "Ce lien de partage n'existe pas, a expiré ou a été révoqué : demandez-en un nouveau à "
    "celui qui vous l'a donné."
)
EVERYONE = _("Toutes les lignes (moins de 5 bénéficiaires en tout)")
MONTHS = (
    _("janvier"),
    _("février"),
    _("mars"),
    _("avril"),
    _("mai"),
    _("juin"),
    _("juillet"),
    _("août"),
    _("septembre"),
    _("octobre"),
    _("novembre"),
    _("décembre"),
)
MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_catalogs = {}  # language: its gettext, compiled once per process


def key_label(key_name, key, gettext):
    """What people read for a row's key."""
    if key == "other":
        return gettext(OTHER)
    if key == "unknown":
        return gettext(UNKNOWN)
    if key_name == "month" and MONTH.fullmatch(key or ""):
        year, month = MONTH.fullmatch(key).groups()
        return f"{gettext(MONTHS[int(month) - 1])} {year}"
    if key_name == "category":
        return gettext(labels.CATEGORIES.get(key, key))
    if key_name == "territory":
        return gettext(_("Département %(code)s")) % {"code": key}
    if key_name == "age_band":
        return gettext(labels.AGE_BANDS.get(key, key))
    if key_name == "public_category":
        return gettext(labels.PUBLIC_CATEGORIES.get(key, key))
    return key


def tables(board, gettext):
    """The dashboard's tables, ready to show or export: ``[{name, title, columns, rows}]``, a
    row ``{label, cells, suppressed}`` (``cells`` None each when suppressed)."""
    out = []
    for name, source, key_name, title, columns in TABLES:
        rows = []
        for row in board.get(source) or []:
            suppressed = bool(row.get("suppressed"))
            rows.append(
                {
                    "label": (
                        gettext(EVERYONE)
                        if suppressed
                        else key_label(key_name, row.get(key_name), gettext)
                    ),
                    "cells": [None if suppressed else row.get(c, 0) for c in columns],
                    "suppressed": suppressed,
                }
            )
        out.append(
            {
                "name": name,
                "title": gettext(title),
                "columns": [gettext(COLUMNS[c]) for c in columns],
                "rows": rows,
            }
        )
    return out


def totals_rows(board, gettext):
    totals = board.get("totals") or {}
    return [{"label": gettext(label), "value": totals.get(key)} for key, label in TOTALS]


def csv_bytes(header, rows):
    """A CSV for spreadsheets as French Excel opens them: UTF-8 with a BOM, ``;`` between
    fields; a hidden cell reads "moins de 5"."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


class DashboardPages:
    def _shares(self):
        return shares.ShareRepository.of(self.web.repo.db)

    def _gettext(self):
        language = self.web.settings.language
        if language not in _catalogs:
            _catalogs[language] = load_translations(language).gettext
        return _catalogs[language]

    def _board(self, sponsor_id):
        return call(self.settlement_rpc.sponsor_dashboard, sponsor_id)

    def _venue_points(self, board):
        """The shown venues where the sponsor's coupons were used, placed on the map (the
        catalog's accredited venues; a venue no longer accredited is in the table only)."""
        shown = {r["venue_id"]: r for r in board.get("by_venue") or [] if r.get("venue_id")}
        if not shown:
            return []
        points = []
        for feature in self.web.features(self.catalog_rpc):
            props = feature.get("properties") or {}
            venue_id = props.get("id") or props.get("venue_id") or feature.get("id")
            if venue_id in shown:
                lon, lat = feature["geometry"]["coordinates"][:2]
                points.append(
                    {
                        "name": shown[venue_id]["venue"],
                        "lat": lat,
                        "lon": lon,
                        "redeemed": shown[venue_id].get("redeemed", 0),
                    }
                )
        return points

    def _render(self, visit, sponsor_id, shared=None, **extra):
        gettext = self._gettext()
        board = self._board(sponsor_id)
        alerts = None if shared else call(self.settlement_rpc.expiry_alerts, sponsor_id, {})
        extra.setdefault("blocked", None)
        extra.setdefault("revoked", False)
        return visit.render(
            "dashboard.html",
            board=board,
            tables=tables(board, gettext),
            totals=totals_rows(board, gettext),
            suppressed_text=SUPPRESSED,
            points=self._venue_points(board),
            tile_url=self.web.settings.tile_url,
            alerts=alerts,
            shared=shared,
            links=[] if shared else self._shares().of_sponsor(sponsor_id),
            durations=shares.DURATIONS,
            csv_base=(f"/partage/{shared['token']}" if shared else "/espace/tableau-de-bord"),
            **extra,
        )

    @page("GET", "/espace/tableau-de-bord")
    def dashboard(self, request):
        visit = self.web.visit(request)
        person = visit.require("sponsor")
        blocked = request.args.get("bloques")
        return self._render(
            visit,
            person.subject_id,
            blocked=int(blocked) if (blocked or "").isdigit() else None,
            revoked=request.args.get("revoque") is not None,
        )

    @page("POST", "/espace/tableau-de-bord/bloquer")
    def block_expiring(self, request):
        """Block the booklets not yet handed out whose validity ends on ``valid_until`` (one
        of the alerts): issuance decides each, with the person's own actor."""
        visit = self.web.visit(request)
        person = visit.require("sponsor")
        visit.check_csrf()
        end = (request.form.get("valid_until") or "")[:10]
        alerts = call(self.settlement_rpc.expiry_alerts, person.subject_id, {})
        blocked = 0
        for row in alerts["expiring"]:
            if row["valid_until"] != end:
                continue
            for serial in row.get("blockable") or []:
                try:
                    call(self.issuance_rpc.block_booklet, serial, person.actor())
                    blocked += 1
                except AppError as exc:  # handed out meanwhile, or already blocked
                    if exc.code not in ("invalid_booklet_transition", "booklet_not_found"):
                        raise
        return visit.redirect(f"/espace/tableau-de-bord?bloques={blocked}#alertes")

    @page("POST", "/espace/tableau-de-bord/partages")
    def create_share(self, request):
        visit = self.web.visit(request)
        person = visit.require("sponsor")
        visit.check_csrf()
        try:
            days = int(request.form.get("days") or 0)
        except ValueError:
            days = 0
        sponsor = call(self.ordering_rpc.get_sponsor, person.subject_id, person.actor())
        token, record = self._shares().create(
            person.subject_id, request.form.get("label"), days, person.user_id, sponsor["name"]
        )
        link = f"{self.web.settings.public_url.rstrip('/')}/partage/{token}"
        return self._render(visit, person.subject_id, new_link=link, new_share=record)

    @page("POST", "/espace/tableau-de-bord/partages/<share_id>/revoquer")
    def revoke_share(self, request, share_id):
        visit = self.web.visit(request)
        person = visit.require("sponsor")
        visit.check_csrf()
        self._shares().revoke(person.subject_id, share_id)  # another sponsor's: 404
        return visit.redirect("/espace/tableau-de-bord?revoque#partage")

    @page("GET", "/espace/tableau-de-bord/<name>.csv")
    def dashboard_csv(self, request, name):
        visit = self.web.visit(request)
        person = visit.require("sponsor")
        return visit.finish(self._csv(person.subject_id, name))

    @page("GET", "/partage/<token>")
    def shared_dashboard(self, request, token):
        """The dashboard as a partner sees it: read-only, no login, no action."""
        visit = self.web.visit(request)
        link = self._shares().live(token)
        if link is None:
            return self._gone()
        return self._render(visit, link["sponsor_id"], shared={**link, "token": token})

    @page("GET", "/partage/<token>/<name>.csv")
    def shared_csv(self, request, token, name):
        link = self._shares().live(token)
        if link is None:
            return self._gone()
        return self._csv(link["sponsor_id"], name)

    def _gone(self):
        """A link unknown, revoked or expired: 404, saying so."""
        return error_page(self.web.settings.language, 404, GONE)

    def _csv(self, sponsor_id, name):
        gettext = self._gettext()
        board = self._board(sponsor_id)
        if name == "totaux":
            header = [gettext(_("Indicateur")), gettext(_("Valeur"))]
            rows = [
                [r["label"], gettext(SUPPRESSED) if r["value"] is None else r["value"]]
                for r in totals_rows(board, gettext)
            ]
        else:
            found = [t for t in tables(board, gettext) if t["name"] == name]
            if not found:
                raise NotFound("no such table", code="file_not_found")
            (table,) = found
            header = ["", *table["columns"]]
            rows = [
                [r["label"], *[gettext(SUPPRESSED) if v is None else v for v in r["cells"]]]
                for r in table["rows"]
            ]
        response = Response(csv_bytes(header, rows), mimetype="text/csv")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="tableau-de-bord-{name}.csv"'
        )
        response.headers["Cache-Control"] = "no-store"
        return response
