"""The operator's console, part one: venues to accredit (decide with a reason, suspend,
reinstate, their history), the services venues added or edited awaiting approval, API keys.

Every decision goes to the service that owns it with the person's own actor (catalog keeps who
decided what, and when, in the venue's or the service's history); keys are the gateway's
(``create_api_key``, ``list_api_keys``, ``revoke_api_key``). See docs/web.md."""

from urllib.parse import urlencode

from services.web import labels
from services.web.http import page
from services.web.rpc import call
from shared.errors import AppError, NotFound


def _(text):
    return text


PAGE_SIZE = 20  # venues, or services, a page
MAX_REASON = 500
MAX_FIELD = 200

VENUE_TABS = {  # catalog's venue statuses, as the tabs of the venues' page name them
    "applied": _("Candidatures à examiner"),
    "accredited": _("Accrédités"),
    "suspended": _("Suspendus"),
    "revoked": _("Refusés ou retirés"),
}

VENUE_STATUSES = {  # one venue's status, in a sentence or its history
    "applied": _("candidature à examiner"),
    "accredited": _("accrédité"),
    "suspended": _("suspendu"),
    "revoked": _("refusé ou retiré"),
}

SERVICE_STATUSES = {
    "pending": _("à vérifier"),
    "approved": _("validé"),
    "refused": _("refusé"),
}

# what the operator may decide, by the venue's status (catalog's transitions, docs/catalog.md)
DECISIONS = {
    "applied": ("accredit", "revoke"),
    "accredited": ("suspend", "revoke"),
    "suspended": ("accredit", "revoke"),
    "revoked": (),
}

DECISION_BUTTONS = {  # (status of the venue, decision): the button's words
    ("applied", "accredit"): _("Accréditer"),
    ("applied", "revoke"): _("Refuser la candidature"),
    ("accredited", "suspend"): _("Suspendre"),
    ("accredited", "revoke"): _("Retirer définitivement"),
    ("suspended", "accredit"): _("Rétablir l'accréditation"),
    ("suspended", "revoke"): _("Retirer définitivement"),
}

DONE = {  # the decision taken: what it did, said once the page comes back
    "accredit": _("%(name)s est accrédité : il apparaît sur la carte publique."),
    "suspend": _("%(name)s est suspendu : il n'apparaît plus sur la carte et n'encaisse plus."),
    "revoke": _("%(name)s est refusé : il n'encaissera pas de chèques."),
    "approve": _("Le service « %(name)s » est validé : il est proposé et payable en chèques."),
    "refuse": _("Le service « %(name)s » est refusé : il n'est pas proposé."),
}

REFUSALS = {  # catalog's and the gateway's stable codes, in the operator's words
    "validation_error": _("Donnez une raison de 3 à 500 caractères."),
    "invalid_venue_transition": _(
        "Cette décision ne s'applique plus : le lieu a changé d'état entre-temps."
    ),
    "venue_revoked": _("Ce lieu est retiré définitivement : aucune décision ne peut le changer."),
    "invalid_service_transition": _(
        "Cette décision ne s'applique plus : le service a changé d'état entre-temps."
    ),
    "venue_not_found": _("Aucun lieu ne porte cet identifiant."),
    "sponsor_not_found": _("Aucun commanditaire ne porte cet identifiant."),
    "distributor_not_found": _("Aucune structure distributrice ne porte cet identifiant."),
    "key_not_found": _("Cette clé est déjà révoquée, ou n'existe pas."),
    "service_unavailable": _("Un service de la plateforme ne répond pas : réessayez."),
}
HISTORY_REASONS = {  # the reasons catalog writes itself in a history (the others are people's)
    "registered": _("inscrit par l'équipe APTIC"),
    "applied": _("candidature déposée par le lieu"),
    "added": _("ajouté par le lieu"),
    "edited": _("modifié"),
    "added and approved by the operator": _("ajouté et validé par l'équipe APTIC"),
}

UNKNOWN_REFUSAL = _("La décision n'a pas pu être enregistrée.")

KEY_ROLES = {  # the gateway's roles, for a key
    "operator": _("Équipe APTIC (opérateur)"),
    "sponsor": _("Commanditaire"),
    "distributor": _("Structure distributrice"),
    "venue": _("Lieu (guichet)"),
}

KEY_ERRORS = {
    "validation_error": _(
        "Vérifiez les champs : un rôle, et l'identifiant du lieu, du commanditaire ou de la "
        "structure (aucun pour l'équipe APTIC)."
    ),
}


def refusal(code):
    return REFUSALS.get(code, UNKNOWN_REFUSAL)


def _page_number(text):
    try:
        return max(1, min(int(text or 1), 10_000))
    except ValueError:
        return 1


def _text(form, name, limit=MAX_FIELD):
    return (form.get(name) or "").strip()[:limit]


class ConsolePages:
    # -- venues and services ------------------------------------------------------------------
    @page("GET", "/operateur/lieux")
    def console_venues(self, request):
        """The venues of one status (applied first), a page at a time, each with its details,
        history and the decisions it allows; the services awaiting approval below."""
        visit = self.web.visit(request)
        visit.require("operator")
        notice = None
        done, name = request.args.get("fait"), request.args.get("nom")
        if done in DONE and name:
            notice = {"text": DONE[done], "name": name[:MAX_FIELD]}
        return self._venues_page(visit, request.args, notice=notice)

    def _venues_page(self, visit, args, status=200, failed=None, notice=None):
        """The page; ``failed``: the form that was refused (its venue or service, its reason
        kept, the refusal's code) shown again next to that venue or service."""
        tab = args.get("statut") if args.get("statut") in VENUE_TABS else "applied"
        number = _page_number(args.get("page"))
        services_number = _page_number(args.get("page_services"))
        offset = (number - 1) * PAGE_SIZE
        listing = call(
            self.catalog_rpc.list_venues, {"status": tab, "limit": PAGE_SIZE, "offset": offset}
        )
        counts = {tab: listing["total"]}
        for other in VENUE_TABS:
            if other != tab:
                counts[other] = call(self.catalog_rpc.list_venues, {"status": other, "limit": 1})[
                    "total"
                ]
        services = call(
            self.catalog_rpc.list_services,
            {
                "status": "pending",
                "limit": PAGE_SIZE,
                "offset": (services_number - 1) * PAGE_SIZE,
            },
        )
        return visit.render(
            "console_venues.html",
            status=status,
            tab=tab,
            tabs=VENUE_TABS,
            counts=counts,
            venues=listing["venues"],
            pages=_pages(listing["total"]),
            number=number,
            services=services["services"],
            services_total=services["total"],
            services_pages=_pages(services["total"]),
            services_number=services_number,
            decisions=DECISIONS,
            buttons=DECISION_BUTTONS,
            venue_statuses=VENUE_STATUSES,
            service_statuses=SERVICE_STATUSES,
            failed=failed,
            refusal=refusal,
            notice=notice,
            link=lambda **changes: (
                "/operateur/lieux?"
                + urlencode(
                    {k: v for k, v in {"statut": tab, "page": number, **changes}.items() if v}
                )
            ),
            max_reason=MAX_REASON,
            history_reasons=HISTORY_REASONS,
            categories=labels.CATEGORIES,
            venue_types=labels.VENUE_TYPES,
        )

    @page("POST", "/operateur/lieux/<venue_id>/decision")
    def console_venue_decision(self, request, venue_id):
        """Accredit, refuse (revoke), suspend or reinstate a venue, with a reason."""
        visit = self.web.visit(request)
        person = visit.require("operator")
        visit.check_csrf()
        form = request.form
        decision = form.get("decision") or ""
        reason = _text(form, "reason", MAX_REASON)
        back = {"statut": form.get("statut") or "", "page": form.get("page") or ""}
        try:
            venue = call(
                self.catalog_rpc.decide_accreditation,
                venue_id,
                {"decision": decision, "reason": reason},
                person.actor(),
            )
        except NotFound:
            raise
        except AppError as exc:
            failed = {"venue_id": venue_id, "reason": reason, "code": exc.code}
            status = 409 if exc.code.startswith("invalid_") else 400
            return self._venues_page(visit, back, status=status, failed=failed)
        self.web.forget_features()  # the map's places, read again with this venue's news
        target = venue["status"] if decision == "accredit" else back["statut"]
        query = {"statut": target, "fait": decision, "nom": venue["name"]}
        if target == back["statut"]:
            query["page"] = back["page"]
        return visit.redirect(
            "/operateur/lieux?" + urlencode({k: v for k, v in query.items() if v})
        )

    @page("POST", "/operateur/services/<venue_id>/<service_id>")
    def console_service_decision(self, request, venue_id, service_id):
        """Approve a venue's service (offered and redeemable from then on) or refuse it, with
        a reason (required to refuse)."""
        visit = self.web.visit(request)
        person = visit.require("operator")
        visit.check_csrf()
        form = request.form
        decision = form.get("decision")
        reason = _text(form, "reason", MAX_REASON)
        back = {
            "statut": form.get("statut") or "",
            "page": form.get("page") or "",
            "page_services": form.get("page_services") or "",
        }
        if decision not in ("approve", "refuse"):
            failed = {"service_id": service_id, "reason": reason, "code": "validation_error"}
            return self._venues_page(visit, back, status=400, failed=failed)
        method = (
            self.catalog_rpc.approve_service
            if decision == "approve"
            else (self.catalog_rpc.refuse_service)
        )
        payload = {"reason": reason} if reason or decision == "refuse" else {}
        try:
            service = call(method, venue_id, service_id, payload, person.actor())
        except NotFound:
            raise
        except AppError as exc:
            failed = {"service_id": service_id, "reason": reason, "code": exc.code}
            status = 409 if exc.code.startswith("invalid_") else 400
            return self._venues_page(visit, back, status=status, failed=failed)
        self.web.forget_features()
        query = {**back, "fait": decision, "nom": service["title"]}
        url = "/operateur/lieux?" + urlencode({k: v for k, v in query.items() if v})
        return visit.redirect(url + "#services-title")

    # -- API keys -----------------------------------------------------------------------------
    @page("GET,POST", "/operateur/cles")
    def console_keys(self, request):
        """Every API key (never the key itself); making one (shown once, on this answer only)."""
        visit = self.web.visit(request)
        visit.require("operator")
        values, error, created, status = {}, None, None, 200
        if request.method == "POST":
            visit.check_csrf()
            values = {k: _text(request.form, k) for k in ("role", "subject_id", "label")}
            try:
                created = call(
                    self.gateway_rpc.create_api_key,
                    values["role"],
                    values["subject_id"] or None,
                    values["label"] or None,
                )
                values = {}
                status = 201
            except AppError as exc:
                error, status = exc.code, 404 if isinstance(exc, NotFound) else 400
        revoked = request.args.get("revoquee")
        return visit.render(
            "console_keys.html",
            status=status,
            keys=list(reversed(call(self.gateway_rpc.list_api_keys))),  # the newest first
            roles=KEY_ROLES,
            values=values,
            error=error,
            error_text=KEY_ERRORS.get(error) or refusal(error) if error else None,
            created=created,
            revoked=revoked[:64] if revoked else None,
        )

    @page("POST", "/operateur/cles/<key_id>/revocation")
    def console_revoke_key(self, request, key_id):
        """Revoke a key: it authenticates nothing any more, at once."""
        visit = self.web.visit(request)
        visit.require("operator")
        visit.check_csrf()
        call(self.gateway_rpc.revoke_api_key, key_id)  # key_not_found: the 404 page
        return visit.redirect("/operateur/cles?" + urlencode({"revoquee": key_id}))


def _pages(total):
    """How many pages ``total`` rows make (1 at least)."""
    return max(1, -(-total // PAGE_SIZE))
