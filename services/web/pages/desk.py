"""The venue desk: check and redeem coupons (typed or scanned), the confirmation with the
beneficiary's rating slip, the venue's redemptions (void until paid), statements, services."""

import eventlet
from werkzeug.wrappers import Response

from services.web import basket, labels, ratings
from services.web.http import page
from services.web.rpc import call, decode_file
from shared.errors import AppError, InvalidInput, NotFound

VENUE_WIDE = {"too_many_attempts", "venue_not_accredited", "service_not_offered"}
LATEST = 100  # redemptions listed on the venue's page
IN_PROGRESS_RETRIES = 20  # x 0.25 s: a double tap waits for the first request's answer


class DeskPages:
    def _venue(self, person):
        return call(self.catalog_rpc.get_venue, person.subject_id, public=False)

    def _desk(self, visit, venue, lines, key, status=200, **context):
        return visit.render(
            "desk.html",
            status=status,
            venue=venue,
            lines=lines,
            idempotency_key=key,
            refusal=labels.refusal,
            categories=labels.CATEGORIES,
            **context,
        )

    @page("GET,POST", "/guichet")
    def desk(self, request):
        visit = self.web.visit(request)
        person = visit.require("venue")
        venue = self._venue(person)
        if venue["status"] != "accredited":  # applied (waits for the operator), suspended, revoked
            if request.method == "POST":
                visit.check_csrf()
            return visit.render(
                "application_waiting.html",
                status=200 if request.method == "GET" else 403,
                venue=venue,
            )
        if request.method == "GET":
            return self._desk(visit, venue, basket.blank_lines(), basket.new_idempotency_key())
        visit.check_csrf()
        form = request.form
        lines = basket.read_lines(form)
        service_id = form.get("service_id") or ""
        key = form.get("idempotency_key")
        action = form.get("action")
        if action == "add" and len(lines) < basket.MAX_ROWS:
            lines.append(basket.Line(len(lines), "", ""))
            return self._desk(visit, venue, lines, key, service_id=service_id)
        filled = [line for line in lines if line.filled]
        problem = None
        if not filled:
            problem = "empty"
        elif not service_id and action == "redeem":
            problem = "no_service"
        elif not basket.well_formed_key(key):
            problem = "expired"
        if problem:
            return self._desk(visit, venue, lines, key, 400, service_id=service_id, problem=problem)
        if action == "redeem":
            return self._redeem(visit, person, venue, lines, filled, service_id, key)
        venue_error = self._check(person, filled, service_id, skip=None)
        return self._desk(
            visit, venue, lines, key, service_id=service_id, checked=True, venue_error=venue_error
        )

    def _check(self, person, lines, service_id, skip):
        """Each coupon's outcome (``line.outcome``); a refusal of the venue itself, if any."""
        for line in lines:
            if line is skip:
                continue
            query = {"serial": line.serial, "code": line.code}
            if service_id:
                query["service_id"] = service_id
            try:
                answer = call(self.redemption_rpc.check_coupon, person.subject_id, query)
            except InvalidInput as exc:
                line.outcome = exc.code if exc.code != "validation_error" else "validation_error"
                continue
            except AppError as exc:
                if exc.code in VENUE_WIDE:
                    return exc.code
                line.outcome = exc.code
                continue
            line.outcome = "ok"
            line.face_value_cents = answer["face_value_cents"]
        return None

    def _redeem(self, visit, person, venue, lines, filled, service_id, key):
        payload = {
            "service_id": service_id,
            "coupons": [{"serial": line.serial, "code": line.code} for line in filled],
            "idempotency_key": key,
        }
        for _ in range(IN_PROGRESS_RETRIES):
            try:
                answer = call(
                    self.redemption_rpc.redeem, person.subject_id, payload, person.actor()
                )
                redemption_id = answer["redemption"]["id"]
                return visit.redirect(f"/guichet/encaissements/{redemption_id}?nouveau=1")
            except AppError as exc:
                if exc.code == "request_in_progress":
                    eventlet.sleep(0.25)
                    continue
                refusal = exc
                break
        else:
            refusal = AppError(code="request_in_progress")
        # nothing was redeemed: say why, next to each coupon (the one refused first is known)
        serial = (refusal.details or {}).get("serial")
        refused = next((line for line in filled if serial and line.key() == serial), None)
        if refused is not None:
            refused.outcome = refusal.code
        if refusal.code in VENUE_WIDE:  # the venue is locked, or the service not its own
            venue_error = refusal.code
        else:
            venue_error = self._check(person, filled, service_id, skip=refused)
            if refused is None and venue_error is None:
                venue_error = refusal.code
        return self._desk(
            visit,
            venue,
            lines,
            basket.new_idempotency_key(),
            422,
            service_id=service_id,
            checked=True,
            refused=True,
            venue_error=venue_error,
        )

    @page("GET", "/guichet/encaissements/<redemption_id>")
    def redemption_done(self, request, redemption_id):
        """The confirmation: what was redeemed, and the beneficiary's rating slip (link, QR)."""
        visit = self.web.visit(request)
        person = visit.require("venue")
        redemption = call(self.redemption_rpc.get_redemption, redemption_id, person.subject_id)
        venue = self._venue(person)
        link = ratings.link(self.web.settings, redemption_id)
        return visit.render(
            "redeemed.html",
            venue=venue,
            redemption=redemption,
            service=next(
                (s for s in venue["services"] if s["id"] == redemption["service_id"]), None
            ),
            rating_link=link,
            rating_qr=ratings.qr_svg(link),
            fresh=request.args.get("nouveau") == "1",
            statuses=labels.STATUSES,
        )

    @page("GET", "/guichet/encaissements")
    def redemptions(self, request):
        visit = self.web.visit(request)
        person = visit.require("venue")
        found = self._latest_redemptions(person.subject_id)
        venue = self._venue(person)
        services = {s["id"]: s["title"] for s in venue["services"]}
        return visit.render(
            "redemptions.html",
            venue=venue,
            redemptions=found,
            services=services,
            statuses=labels.STATUSES,
            voided=request.args.get("annule"),
            error=request.args.get("erreur"),
        )

    def _latest_redemptions(self, venue_id):
        """The venue's latest redemptions, newest first (redemption pages them oldest first)."""
        query = {"venue_id": venue_id, "limit": LATEST}
        found = call(self.redemption_rpc.list_redemptions, query)
        if found.get("total", 0) > LATEST:  # older than the last page: read the last page
            query["offset"] = found["total"] - LATEST
            found = call(self.redemption_rpc.list_redemptions, query)
        return sorted(found["redemptions"], key=lambda r: r["created_at"], reverse=True)

    @page("POST", "/guichet/encaissements/<redemption_id>/annuler")
    def void(self, request, redemption_id):
        visit = self.web.visit(request)
        person = visit.require("venue")
        visit.check_csrf()
        try:
            call(self.redemption_rpc.void, redemption_id, person.subject_id, person.actor())
        except AppError as exc:
            if isinstance(exc, NotFound):
                raise
            return visit.redirect("/guichet/encaissements?erreur=" + exc.code)
        return visit.redirect(f"/guichet/encaissements?annule={redemption_id}")

    @page("GET", "/guichet/releves")
    def statements(self, request):
        visit = self.web.visit(request)
        person = visit.require("venue")
        mine = call(self.settlement_rpc.list_venue_statements, {"venue_id": person.subject_id})[
            "statements"
        ]
        return visit.render("statements.html", venue=self._venue(person), statements=mine)

    @page("GET", "/guichet/releves/<run_id>/pdf")
    def statement_pdf(self, request, run_id):
        visit = self.web.visit(request)
        person = visit.require("venue")
        document = call(self.settlement_rpc.statement_pdf, run_id, person.subject_id)
        proxy = self.settlement_rpc

        def read_chunk(index):
            return call(proxy.document_file_chunk, document["file_id"], index)

        filename = document.get("filename") or f"{run_id}.pdf"
        return visit.finish(
            Response(
                decode_file(document, read_chunk),
                mimetype="application/pdf",
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        )

    @page("GET,POST", "/guichet/services")
    def services(self, request):
        """The venue's services; adding one (the operator checks it before coupons pay for it)."""
        visit = self.web.visit(request)
        person = visit.require("venue")
        values, errors, added = {}, {}, None
        if request.method == "POST":
            visit.check_csrf()
            values = service_values(request.form)
            payload, errors = service_payload(values)
            if not errors:
                try:
                    added = call(self.catalog_rpc.add_service, person.subject_id, payload)
                    values = {}
                except InvalidInput as exc:
                    errors = catalog_errors(exc)
        return self._services(visit, person, values=values, errors=errors, added=added)

    @page("POST", "/guichet/services/<service_id>")
    def edit_service(self, request, service_id):
        """One of the venue's services changed: checked again by the operator before coupons pay
        for it (pending until then)."""
        visit = self.web.visit(request)
        person = visit.require("venue")
        visit.check_csrf()
        values = service_values(request.form)
        payload, errors = service_payload(values)
        edited = None
        if not errors:
            try:
                edited = call(
                    self.catalog_rpc.edit_service,
                    person.subject_id,
                    service_id[:64],
                    payload,
                    person.actor(),
                )
            except InvalidInput as exc:
                errors = catalog_errors(exc)
        return self._services(
            visit,
            person,
            edited=edited,
            editing=None if edited else service_id,
            edit_values=values,
            edit_errors=errors,
        )

    @page("POST", "/guichet/horaires")
    def opening_hours(self, request):
        """The venue's opening information, shown on its public page (blank: none)."""
        visit = self.web.visit(request)
        person = visit.require("venue")
        visit.check_csrf()
        # a browser sends a textarea's line breaks as CRLF
        hours = (request.form.get("opening_hours") or "").replace("\r\n", "\n").strip()
        if len(hours) > MAX_OPENING_HOURS:
            return self._services(visit, person, hours_error=True, hours=hours)
        try:
            call(
                self.catalog_rpc.set_opening_hours,
                person.subject_id,
                {"opening_hours": hours or None},
                person.actor(),
            )
        except InvalidInput:
            return self._services(visit, person, hours_error=True, hours=hours)
        return self._services(visit, person, hours_saved=True)

    def _services(self, visit, person, values=None, errors=None, **context):
        failed = errors or context.get("edit_errors") or context.get("hours_error")
        return visit.render(
            "services.html",
            status=400 if failed else 200,
            venue=self._venue(person),
            categories=labels.CATEGORIES,
            values=values or {},
            errors=errors or {},
            **context,
        )


MAX_OPENING_HOURS = 500  # the catalog's limit


def service_values(form):
    return {k: (form.get(k) or "").strip()[:200] for k in SERVICE_FIELDS}


def catalog_errors(exc):
    """The form's fields the catalog refused (the name when it does not say which)."""
    errors = {field: "invalid" for field in (exc.details or {}).get("fields", {})}
    return errors or {"title": "invalid"}


SERVICE_FIELDS = ("title", "category", "duration_minutes", "price_coupons")


def service_payload(values):
    """The catalog's ``ServiceInput`` from the form, or the fields that are wrong."""
    errors = {}
    title = values.get("title", "")
    if not 2 <= len(title) <= 200:
        errors["title"] = "invalid"
    if values.get("category") not in labels.CATEGORIES:
        errors["category"] = "invalid"
    numbers = {}
    for field, low, high in (("duration_minutes", 15, 480), ("price_coupons", 1, 20)):
        try:
            numbers[field] = int(values.get(field, ""))
        except ValueError:
            errors[field] = "invalid"
            continue
        if not low <= numbers[field] <= high:
            errors[field] = "invalid"
    if errors:
        return None, errors
    return {"title": title, "category": values["category"], **numbers}, {}
