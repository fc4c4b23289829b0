"""The sponsor's space: orders with their quote, payments and documents; booklets to assign, report or block.

Every amount comes from ordering (``quote_order``, the orders' quotes): the pages read the form,
ask, and show. Every call carries the person's own actor, so that ordering, issuance and
settlement check that what is asked is this sponsor's."""

import json
import re
from decimal import InvalidOperation

from werkzeug.wrappers import Response

from services.web import labels
from services.web.accounts import HOME
from services.web.http import environment, page
from services.web.rpc import call, decode_file
from shared.errors import AppError, Forbidden, InvalidInput, NotFound
from shared.money import ORDER_FEE_BP, to_cents

LINES = 2  # order lines on the form (booklets of 5 or 10 coupons, at a face value)
MAX_ORDERS = 500  # listed on the space, the newest first (ordering's largest page)
MAX_BOOKLETS = 1000  # listed per order on the booklets' page (issuance's page)
MAX_SELECTED = 500  # booklets acted on at once
SHOWN_BOOKLETS = ("issued", "confirmed", "dispatched")  # orders whose booklets exist
ACTIONS = ("assign", "block", "lost", "stolen")
MAX_TEXT = 500


# -- the order form -------------------------------------------------------------------------------
def form_values(form):
    """What the order form holds, as typed (kept to show it back)."""
    names = ["cofunding", "skills_pct", "precarity_pct", "area", "partners", "budget"]
    for n in range(1, LINES + 1):
        names += [f"quantity_{n}", f"per_booklet_{n}", f"face_value_{n}"]
    values = {name: (form.get(name) or "").strip()[:2000] for name in names}
    values["cofunding"] = "1" if values["cofunding"] else ""
    values["territories"] = (form.get("territories") or "").strip()[:2000]
    for name, known in (("venue_types", labels.VENUE_TYPES), ("categories", labels.CATEGORIES)):
        picked = form.getlist(name) if hasattr(form, "getlist") else form.get(name) or []
        values[name] = [code for code in picked if code in known]
    return values


def order_rules(values):
    """Where and for what the coupons may be used (ordering's ``RulesInput``): department or
    town codes typed apart by commas or spaces, venue types and categories ticked; ordering checks
    the codes."""
    territories = values.get("territories", "").replace(",", " ").replace(";", " ").split()
    return {
        "territories": [code.upper() for code in territories][:500],
        "venue_types": list(values.get("venue_types") or []),
        "categories": list(values.get("categories") or []),
    }


def _integer(text, low, high):
    try:
        number = int(text.replace(" ", "").replace("\u202f", ""))
    except ValueError:
        return None
    return number if low <= number <= high else None


def _cents(text, low, high):
    try:
        cents = to_cents(text.replace("€", ""))
    except (InvalidOperation, ValueError):
        return None
    return cents if low <= cents <= high else None


def order_lines(values):
    """Ordering's lines from the form, and the fields that are wrong (their error codes)."""
    lines, errors = [], {}
    for n in range(1, LINES + 1):
        quantity = values.get(f"quantity_{n}", "")
        if not quantity and n > 1:
            continue
        if not quantity:
            errors[f"quantity_{n}"] = "quantity_missing"
            continue
        line = {
            "quantity": _integer(quantity, 1, 100_000),
            "coupons_per_booklet": _integer(values.get(f"per_booklet_{n}") or "10", 5, 10),
            "face_value_cents": _cents(values.get(f"face_value_{n}") or "10", 1, 10_000),
        }
        if line["quantity"] is None:
            errors[f"quantity_{n}"] = "quantity"
        if line["coupons_per_booklet"] not in (5, 10):
            errors[f"per_booklet_{n}"] = "per_booklet"
        if line["face_value_cents"] is None:
            errors[f"face_value_{n}"] = "face_value"
        lines.append(line)
    return lines, errors


def cofunding_application(values):
    """The State co-funding application (ordering's ``CofundingApplication``), and what is wrong."""
    errors = {}
    skills = _integer(values.get("skills_pct", ""), 0, 100)
    precarity = _integer(values.get("precarity_pct", ""), 0, 100)
    if skills is None:
        errors["skills_pct"] = "percent"
    if precarity is None:
        errors["precarity_pct"] = "percent"
    if skills is not None and precarity is not None and skills + precarity != 100:
        errors["precarity_pct"] = "percent_total"
    area = values.get("area", "")
    if not 2 <= len(area) <= MAX_TEXT:
        errors["area"] = "area"
    partners = [p.strip() for p in values.get("partners", "").splitlines() if p.strip()]
    if len(partners) > 100 or any(not 2 <= len(p) <= 200 for p in partners):
        errors["partners"] = "partners"
    budget = _cents(values.get("budget", ""), 1, 10_000_000_000)
    if budget is None:
        errors["budget"] = "budget"
    if errors:
        return None, errors
    application = {
        "target_publics": {"skills_plan_priority_pct": skills, "digital_precarity_pct": precarity},
        "geographic_area": area,
        "partners": partners,
        "budget_cents": budget,
    }
    return application, {}


def grouped(number):
    """``1000`` -> ``"1 000"`` (thousands apart by a narrow no-break space, as for money)."""
    return f"{int(number):,}".replace(",", "\u202f")


def rate_text(basis_points):
    """``400`` -> ``"4 %"``, ``1250`` -> ``"12,5 %"`` (as people read a rate)."""
    whole, rest = divmod(int(basis_points), 100)
    text = str(whole) if not rest else f"{whole},{rest:02d}".rstrip("0")
    return f"{text}\u00a0%"


def ordering_field_errors(exc):
    """Ordering's refusal of the form, on the fields it concerns (its codes are ours)."""
    fields = (exc.details or {}).get("fields") or {}
    if "lines" in fields:
        return {"quantity_1": "too_many"}
    if "state_cofunding" in fields:
        return {"cofunding": "application"}
    if "rules" in fields:
        return {"territories": "territories"}
    return {"quantity_1": "invalid"}


_translations = {}


def translate(language, text):
    from services.web.i18n import load_translations

    if language not in _translations:
        _translations[language] = load_translations(language)
    return _translations[language].gettext(text)


class SponsorPages:
    # -- helpers --------------------------------------------------------------------------------
    def _sponsor(self, person):
        return call(self.ordering_rpc.get_sponsor, person.subject_id, person.actor())

    def _orders(self, person):
        """The sponsor's orders, the newest first (the newest MAX_ORDERS)."""
        query = {"sponsor_id": person.subject_id, "limit": 1}
        total = call(self.ordering_rpc.list_orders, query, person.actor())["total"]
        query = {**query, "limit": MAX_ORDERS, "offset": max(0, total - MAX_ORDERS)}
        orders = call(self.ordering_rpc.list_orders, query, person.actor())["orders"]
        return list(reversed(orders)), total

    def _credit_notes(self, person):
        query = {"funder_id": f"sponsor:{person.subject_id}"}
        return call(self.settlement_rpc.list_credit_notes, query)["credit_notes"]

    def _quote(self, person, lines, cofunded):
        """Ordering's quote of these lines, and why co-funding cannot be had (its rule)."""
        payload = {"sponsor_id": person.subject_id, "lines": lines, "state_cofunding": cofunded}
        try:
            return call(self.ordering_rpc.quote_order, payload, person.actor()), None
        except AppError as exc:
            if exc.code != "cofunding_not_eligible":
                raise
            refusal = (exc.details or {}).get("rule") or "not_eligible"
            payload["state_cofunding"] = False
            return call(self.ordering_rpc.quote_order, payload, person.actor()), refusal

    def _priced(self, person, values):
        """The quote of the form (None while a line is wrong), the fields' errors, the
        co-funding refusal."""
        lines, errors = order_lines(values)
        if errors:
            return None, errors, None
        try:
            quote, refusal = self._quote(person, lines, bool(values.get("cofunding")))
        except InvalidInput as exc:
            return None, ordering_field_errors(exc), None
        return quote, {}, refusal

    # -- the space: orders ----------------------------------------------------------------------
    @page("GET", "/espace")
    def space(self, request):
        """Sponsor staff: their orders. Others are sent to their own home."""
        visit = self.web.visit(request)
        person = visit.require()
        if person.role != "sponsor":
            return visit.redirect(HOME[person.role])
        orders, total = self._orders(person)
        notes = self._credit_notes(person)
        for order in orders:
            order["credit_notes"] = [n for n in notes if order["id"] in (n.get("order_ids") or [])]
        done = request.args.get("fait") or ""
        return visit.render(
            "sponsor_orders.html",
            sponsor=self._sponsor(person),
            orders=orders,
            total=total,
            credit_notes=notes,
            statuses=labels.ORDER_STATUSES,
            cofunding_reasons=labels.COFUNDING_REASONS,
            done=done if done in labels.ORDER_DONE else "",
            done_texts=labels.ORDER_DONE,
            done_order=(request.args.get("commande") or "")[:40],
            refusal=labels.order_refusal(request.args.get("refus") or "")
            if request.args.get("refus")
            else None,
            cancellable=labels.CANCELLABLE_ORDERS,
            grouped=grouped,
            venue_types=labels.VENUE_TYPES,
            categories=labels.CATEGORIES,
        )

    @page("GET,POST", "/espace/commande")
    def new_order(self, request):
        """Order booklets: lines, co-funding application, the quote (live, or by "Calculer"
        without JavaScript), then the order made and sent."""
        visit = self.web.visit(request)
        person = visit.require("sponsor")
        values = {"per_booklet_1": "10", "face_value_1": "10,00", "per_booklet_2": "5"}
        values["face_value_2"] = "10,00"
        quote, errors, refusal, status = None, {}, None, 200
        if request.method == "POST":
            visit.check_csrf()
            values = form_values(request.form)
            quote, errors, refusal = self._priced(person, values)
            if request.form.get("action") == "order" and not errors:
                application = None
                if values["cofunding"]:
                    application, errors = cofunding_application(values)
                    if refusal:
                        errors["cofunding"] = "not_eligible"
                if not errors:
                    created, errors = self._place_order(person, values, application)
                    if created is not None:
                        return visit.redirect(f"/espace?fait=ordered&commande={created['id']}")
            status = 422 if errors else 200
        return visit.render(
            "sponsor_order_form.html",
            status=status,
            sponsor=self._sponsor(person),
            values=values,
            errors=errors,
            messages=labels.ORDER_FORM_ERRORS,
            quote=quote,
            refusal=refusal,
            fee_rate=rate_text(ORDER_FEE_BP),
            rate_text=rate_text,
            grouped=grouped,
            cofunding_rules=labels.COFUNDING_RULES,
            lines=range(1, LINES + 1),
            venue_types=labels.VENUE_TYPES,
            categories=labels.CATEGORIES,
        )

    def _place_order(self, person, values, application):
        """The order made and sent, or None and the form's errors."""
        lines, _ = order_lines(values)
        payload = {"sponsor_id": person.subject_id, "lines": lines, "rules": order_rules(values)}
        if application:
            payload["state_cofunding"] = application
        try:
            order = call(self.ordering_rpc.create_order, payload, person.actor())
        except AppError as exc:
            if exc.code == "cofunding_not_eligible":
                return None, {"cofunding": "not_eligible"}
            if not isinstance(exc, InvalidInput):
                raise
            return None, ordering_field_errors(exc)
        return call(self.ordering_rpc.submit_order, order["id"], person.actor()), {}

    @page("GET", "/espace/commande/devis")
    def order_quote(self, request):
        """The quote of the order form as it is filled (``quote.js``): the quote's HTML, as the
        page shows it, and each field's error in words. Reads only."""
        visit = self.web.visit(request)
        person = visit.require("sponsor")
        values = form_values(request.args)
        quote, errors, refusal = self._priced(person, values)
        env = environment(self.web.settings.language)
        html = env.get_template("sponsor_quote.html").render(
            quote=quote,
            refusal=refusal,
            fee_rate=rate_text(ORDER_FEE_BP),
            rate_text=rate_text,
            grouped=grouped,
            cofunding_rules=labels.COFUNDING_RULES,
            cofunding=values["cofunding"],
            errors=errors,
        )
        language = self.web.settings.language
        body = {
            "html": html,
            "errors": {
                field: translate(language, labels.ORDER_FORM_ERRORS.get(code, code))
                for field, code in errors.items()
            },
        }
        response = Response(json.dumps(body), mimetype="application/json")
        response.headers["Cache-Control"] = "no-store"
        return visit.finish(response)

    @page("POST", "/espace/commandes/<order_id>/<action>")
    def order_action(self, request, order_id, action):
        """Send a draft, or cancel an order not yet paid."""
        visit = self.web.visit(request)
        person = visit.require("sponsor")
        visit.check_csrf()
        order_id = order_id[:40]
        try:
            if action == "envoyer":
                call(self.ordering_rpc.submit_order, order_id, person.actor())
                done = "submitted"
            elif action == "annuler":
                reason = {"reason": "annulée par le commanditaire"}
                call(self.ordering_rpc.cancel_order, order_id, reason, person.actor())
                done = "cancelled"
            else:
                raise NotFound("no such action", code="page_not_found")
        except (NotFound, Forbidden):
            raise
        except AppError as exc:
            return visit.redirect(f"/espace?refus={exc.code}&commande={order_id}")
        return visit.redirect(f"/espace?fait={done}&commande={order_id}")

    @page("GET", "/espace/commandes/<order_id>")
    def order(self, request, order_id):
        """One order: its lines, rules, amounts, co-funding application and decision, payments,
        documents, and what happened to it, when, by whom (the sponsor, APTIC, the platform)."""
        visit = self.web.visit(request)
        person = visit.require("sponsor")
        order = call(self.ordering_rpc.get_order, order_id[:40], person.actor())
        notes = self._credit_notes(person)
        order["credit_notes"] = [n for n in notes if order["id"] in (n.get("order_ids") or [])]
        return visit.render(
            "sponsor_order.html",
            sponsor=self._sponsor(person),
            order=order,
            statuses=labels.ORDER_STATUSES,
            cofunding_reasons=labels.COFUNDING_REASONS,
            cancellable=labels.CANCELLABLE_ORDERS,
            grouped=grouped,
            rate_text=rate_text,
            venue_types=labels.VENUE_TYPES,
            categories=labels.CATEGORIES,
            actors=labels.HISTORY_ACTORS,
        )

    @page("GET", "/espace/commandes/<order_id>/facture.pdf")
    def invoice(self, request, order_id):
        """The order's invoice (PDF), as ordering stored it (read as the person)."""
        visit = self.web.visit(request)
        person = visit.require("sponsor")
        actor = person.actor()
        record = call(self.ordering_rpc.invoice_pdf, order_id[:40], actor, timeout=60)
        step = record["chunk_bytes"]
        chunks = [
            decode_file(call(self.ordering_rpc.invoice_file_chunk, record["file_id"], i, actor))
            for i in range(-(-record["size"] // step))
        ]
        return self._pdf(visit, b"".join(chunks), record["filename"])

    @page("GET", "/espace/avoirs/<reference>.pdf")
    def credit_note(self, request, reference):
        """One of the sponsor's credit notes (PDF); another funder's is refused by settlement."""
        visit = self.web.visit(request)
        person = visit.require("sponsor")
        document = call(
            self.settlement_rpc.credit_note_pdf_by_reference,
            reference[:64],
            f"sponsor:{person.subject_id}",
            timeout=120,
        )
        proxy = self.settlement_rpc

        def read_chunk(index):  # a note larger than one chunk comes as its record
            return call(proxy.document_file_chunk, document["file_id"], index)

        return self._pdf(visit, decode_file(document, read_chunk), document.get("filename"))

    def _pdf(self, visit, content, filename):
        filename = "".join(c for c in (filename or "document.pdf") if c.isalnum() or c in "-_.")
        return visit.finish(
            Response(
                content,
                mimetype="application/pdf",
                headers={
                    "Content-Disposition": f'attachment; filename="{filename}"',
                    "Cache-Control": "private, no-store",
                },
            )
        )

    # -- booklets -------------------------------------------------------------------------------
    def _booklets(self, person, orders):
        """The booklets of the sponsor's issued orders (MAX_BOOKLETS per order), with the
        order's label; and the orders that have more than were listed."""
        booklets, cut = [], []
        for order in orders:
            if order["status"] not in SHOWN_BOOKLETS:
                continue
            try:
                found = call(
                    self.issuance_rpc.order_booklets,
                    order["id"],
                    {"limit": MAX_BOOKLETS},
                    person.actor(),
                )
            except NotFound:  # confirmed, not yet issued
                continue
            if found["total"] > len(found["booklets"]):
                cut.append(order)
            for booklet in found["booklets"]:
                booklets.append({**booklet, "order": order})
        return booklets, cut

    @page("GET,POST", "/espace/carnets")
    def booklets(self, request):
        """The sponsor's booklets: assign some to a distributor, report them lost or stolen,
        block those not yet handed out."""
        visit = self.web.visit(request)
        person = visit.require("sponsor")
        outcomes, status, action, chosen = [], 200, "", []
        distributors = call(self.ordering_rpc.list_distributors, person.subject_id, person.actor())[
            "distributors"
        ]
        names = {d["id"]: d["name"] for d in distributors}
        if request.method == "POST":
            visit.check_csrf()
            action = request.form.get("action") or ""
            chosen = [s.strip()[:40] for s in request.form.getlist("serial")][:MAX_SELECTED]
            distributor_id = (request.form.get("distributor_id") or "")[:64]
            if action not in ACTIONS:
                outcomes, status = [(None, False, labels.booklet_refusal("no_action"))], 422
            elif not chosen:
                outcomes, status = [(None, False, labels.booklet_refusal("no_booklet"))], 422
            elif action == "assign" and distributor_id not in names:
                outcomes, status = [(None, False, labels.booklet_refusal("no_distributor"))], 422
            else:
                outcomes = [self._act(person, serial, action, distributor_id) for serial in chosen]
                refused = [code for _, ok, code in outcomes if not ok]
                if any(code in ("not_yours", "booklet_not_found") for code in refused):
                    status = 403
                elif refused:
                    status = 422
                outcomes = [
                    (
                        serial,
                        ok,
                        labels.booklet_done(action) if ok else labels.booklet_refusal(code, action),
                    )
                    for serial, ok, code in outcomes
                ]
        return self._booklets_page(
            visit,
            person,
            status,
            distributors=distributors,
            outcomes=outcomes,
            action=action,
            chosen={serial for serial, ok, _ in outcomes if serial and not ok},
            assigned_to=names.get(request.form.get("distributor_id") or "") if outcomes else None,
        )

    def _booklets_page(self, visit, person, status, distributors=None, **context):
        if distributors is None:
            distributors = call(
                self.ordering_rpc.list_distributors, person.subject_id, person.actor()
            )["distributors"]
        orders, _ = self._orders(person)
        booklets, cut = self._booklets(person, orders)
        wanted = visit.request.args.get("etat") or ""
        if wanted in labels.BOOKLET_STATUSES:
            booklets = [b for b in booklets if b["status"] == wanted]
        context.setdefault("outcomes", [])
        context.setdefault("chosen", set())
        if visit.request.args.get("tout") == "1":  # "tick all" without JavaScript
            context["chosen"] = {b["serial"] for b in booklets}
        return visit.render(
            "sponsor_booklets.html",
            status=status,
            sponsor=self._sponsor(person),
            booklets=booklets,
            cut=cut,
            distributors=distributors,
            distributor_names={d["id"]: d["name"] for d in distributors},
            booklet_statuses=labels.BOOKLET_STATUSES,
            wanted=wanted if wanted in labels.BOOKLET_STATUSES else "",
            added=visit.request.args.get("structure") == "ajoutee",
            new_distributor=context.pop("new_distributor", {}),
            errors=context.pop("errors", {}),
            messages=labels.ORDER_FORM_ERRORS,
            **context,
        )

    @page("POST", "/espace/structures")
    def add_distributor(self, request):
        """The sponsor registers one of its distribution points (ordering tells issuance, which
        then accepts booklets assigned to it)."""
        visit = self.web.visit(request)
        person = visit.require("sponsor")
        visit.check_csrf()
        values = {k: (request.form.get(k) or "").strip()[:200] for k in ("name", "town_code")}
        errors = {}
        if not 2 <= len(values["name"]) <= 200:
            errors["name"] = "distributor_name"
        if not re.fullmatch(r"[0-9]{5}|2[AB][0-9]{3}", values["town_code"].upper()):
            errors["town_code"] = "town_code"
        if not errors:
            payload = {**values, "sponsor_id": person.subject_id}
            payload["town_code"] = payload["town_code"].upper()
            try:
                call(self.ordering_rpc.register_distributor, payload, person.actor())
            except InvalidInput as exc:
                fields = (exc.details or {}).get("fields") or {}
                errors = {
                    f: "town_code" if f == "town_code" else "distributor_name" for f in fields
                }
                errors = errors or {"name": "distributor_name"}
            else:
                return visit.redirect("/espace/carnets?structure=ajoutee")
        return self._booklets_page(visit, person, 422, new_distributor=values, errors=errors)

    def _act(self, person, serial, action, distributor_id):
        """One booklet acted on: ``(serial, done, refusal code)``."""
        try:
            if action == "assign":
                payload = {"distributor_id": distributor_id}
                call(self.issuance_rpc.assign_booklet, serial, payload, person.actor())
            elif action == "block":
                call(self.issuance_rpc.block_booklet, serial, person.actor())
            else:
                payload = {"reason": action}
                call(self.issuance_rpc.cancel_booklet, serial, payload, person.actor())
        except AppError as exc:
            return serial, False, exc.code
        return serial, True, None
