"""What the issuance service does, as plain functions over its repository (called by the
service class).

Issuing an order is a resumable state machine on its ``issues`` record (``IssueStatus``): a
redelivered ``order_confirmed``, a second instance, or the timer taking up a stalled issue all
continue from where it stands, and none of the steps can do its work twice."""

import array
import hashlib
import hmac
import json
import logging
import os
import tempfile
import threading
import time
from datetime import timedelta

from services.issuance import domain
from services.issuance.domain import (
    BOOKLETS,
    COUPONS,
    Action,
    BookletStatus,
    IssueStatus,
    next_status,
)
from shared import serials
from shared.contracts.errors_issuance import (
    BookletNotFound,
    DistributorNotFound,
    DistributorOfAnotherSponsor,
    InvalidBookletTransition,
    InvalidSerial,
    IssueInProgress,
    OrderNotIssued,
)
from shared.errors import InvalidInput, NotFound
from shared.events import BookletActivated, BookletCancelled, BookletsIssued
from shared.history import history_entry
from shared.ids import new_id
from shared.outbox import outbox_entry
from shared.schemas import SYSTEM_ACTOR
from shared.times import iso, now, parse

log = logging.getLogger(__name__)


# -- issuing an order ---------------------------------------------------------------------------
def new_issue(event, at):
    """The issue record of a confirmed order: what printing and the events need, kept from the
    event (issuance never asks ordering), and the validity of booklets never activated.
    ``at``: now (an aware UTC datetime), the time of issue."""
    booklets, coupons = domain.order_needs(event["lines"])
    valid_until = domain.one_year_after(at)
    return {
        "order_id": event["order_id"],
        "sponsor_id": event["sponsor_id"],
        "sponsor_name": event["sponsor_name"],
        "territory": event["territory"],
        "rules": event["rules"],
        "cofunded": event["cofunded"],
        "state_rate_bp": event["state_rate_bp"],
        "lines": event["lines"],
        "confirmed_at": parse(event["confirmed_at"]),
        "booklet_count": booklets,
        "coupon_count": coupons,
        "status": IssueStatus.RECEIVED.value,
        "blocks": None,
        "issued_at": at,
        "valid_from": at,
        "valid_until": valid_until,
        "batch_count": None,
        "published_batches": [],
        "updated_at": at,
    }


def issue_order(repo, settings, event, dispatch):
    """``ordering.order_confirmed``: issue the order's booklets once, however often it comes."""
    issue = repo.insert_issue(new_issue(event, now()))
    if issue["status"] == IssueStatus.PUBLISHED:
        log.info("order %s already issued: nothing to do", issue["order_id"])
        return issue
    return resume(repo, settings, issue, dispatch)


def resume(repo, settings, issue, dispatch):
    """Take the issue from its status to ``published``; every step is idempotent."""
    order_id = issue["order_id"]
    if issue["status"] == IssueStatus.RECEIVED:
        issue = _allocate(repo, issue)
    if issue["status"] == IssueStatus.ALLOCATED:
        issue = _create_booklets(repo, issue)
    if issue["status"] == IssueStatus.CREATED:
        issue = _publish(repo, settings, issue, dispatch)
    if issue["status"] == IssueStatus.PUBLISHED:
        log.info(
            "order %s issued: %s booklets, %s coupons",
            order_id,
            issue["booklet_count"],
            issue["coupon_count"],
        )
    return issue


def _advance(repo, issue, status_to, changes):
    updated = repo.advance_issue(
        issue["order_id"],
        issue["status"],
        {**changes, "status": status_to.value, "updated_at": now()},
    )
    # None: another instance moved it meanwhile; continue from where it now stands
    return updated or repo.get_issue(issue["order_id"])


def _allocate(repo, issue):
    """One block of booklet numbers and one of coupon numbers for the order (the same blocks
    however often this runs), recorded on the issue."""
    blocks = {}
    for sequence, size in ((BOOKLETS, issue["booklet_count"]), (COUPONS, issue["coupon_count"])):
        block = repo.allocate_block(sequence, issue["order_id"], size, domain.next_block)
        blocks[sequence] = {"first": block["first"], "last": block["last"]}
    return _advance(repo, issue, IssueStatus.ALLOCATED, {"blocks": blocks})


def _blocks(issue):
    return (
        domain.Block(**issue["blocks"][BOOKLETS]),
        domain.Block(**issue["blocks"][COUPONS]),
    )


def issued_booklet_fields(issue):
    """What every booklet of an issue starts with, its serials, line and coupons apart."""
    at = issue["issued_at"]
    return {
        "order_id": issue["order_id"],
        "sponsor_id": issue["sponsor_id"],
        "sponsor_name": issue["sponsor_name"],
        "status": BookletStatus.ISSUED.value,
        "distributor_id": None,
        "issued_at": at,
        "valid_from": issue["valid_from"],
        "valid_until": issue["valid_until"],
        "activated_at": None,
        "profile": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "history": [history_entry(None, BookletStatus.ISSUED, SYSTEM_ACTOR, at)],
        "version": 1,
    }


def _create_booklets(repo, issue):
    planned = domain.plan_booklets(issue["lines"], *_blocks(issue))
    common = issued_booklet_fields(issue)
    for chunk in domain.batches(planned, 1000):
        repo.insert_booklets([{**booklet, **common} for booklet in chunk])
    return _advance(repo, issue, IssueStatus.CREATED, {})


def issued_coupons(settings, booklet):
    """What redemption needs of a booklet's coupons: serial, value, digest of the code (the
    code is made from the operator's secret here and never leaves issuance but on paper)."""
    coupons = []
    for serial in booklet["coupon_serials"]:
        code = serials.security_code(settings.operator_secret, serial)
        digest = serials.code_digest(settings.code_digest_key, serial, code)
        coupons.append(
            {
                "serial": serial,
                "face_value_cents": booklet["face_value_cents"],
                "code_digest": digest,
            }
        )
    return coupons


def _publish(repo, settings, issue, dispatch):
    """Dispatch the ``booklets_issued`` batches not yet dispatched, then mark the issue done.

    One instance at a time publishes an order (two instances given the same event would
    otherwise both dispatch every batch): it takes the right for ``resume_after_seconds``, so
    that if it dies the timer of another instance takes the issue up once the right lapses. A
    batch dispatched just before a crash is dispatched again on the retry: its consumers are
    idempotent per (order, batch)."""
    at = now()
    holder = new_id("pub")
    until = at + timedelta(seconds=settings.resume_after_seconds)
    if not repo.take_publishing(issue["order_id"], holder, at, until):
        log.info("order %s: another instance publishes its booklets", issue["order_id"])
        return repo.get_issue(issue["order_id"])
    try:
        groups = _dispatch_batches(repo, settings, issue, dispatch, holder)
    except Exception:
        # the broker out of reach, say: the event is retried, and may publish again at once
        # rather than wait for the right to lapse (resume_after_seconds)
        try:
            repo.release_publishing(issue["order_id"], holder)
        except Exception:  # the store out of reach too: the right lapses by itself
            log.warning("order %s: the publishing right is left to lapse", issue["order_id"])
        raise
    changes = {"published_at": now(), "batch_count": len(groups)}
    return _advance(repo, issue, IssueStatus.PUBLISHED, changes)


def _dispatch_batches(repo, settings, issue, dispatch, holder):
    booklets = repo.booklets_of_order(issue["order_id"], history=False)
    groups = domain.batches(booklets, settings.batch_booklets)
    for number, group in enumerate(groups, start=1):
        if number in issue["published_batches"]:
            continue
        payload = {
            **{key: issue[key] for key in ("order_id", "sponsor_id", "sponsor_name", "territory")},
            **{key: issue[key] for key in ("rules", "cofunded", "state_rate_bp")},
            "issued_at": iso(issue["issued_at"]),
            "valid_from": iso(issue["valid_from"]),
            "valid_until": iso(issue["valid_until"]),
            "booklets": [
                {"serial": b["serial"], "coupons": issued_coupons(settings, b)} for b in group
            ],
            "batch": number,
            "batch_count": len(groups),
        }
        dispatch("booklets_issued", BookletsIssued().dump(payload))
        repo.mark_batch_published(issue["order_id"], number, now())
        if number < len(groups):  # a long order: keep the right to publish while it goes on
            at = now()
            until = at + timedelta(seconds=settings.resume_after_seconds)
            repo.take_publishing(issue["order_id"], holder, at, until)
        log.info(
            "order %s: booklets_issued batch %s/%s dispatched",
            issue["order_id"],
            number,
            len(groups),
        )
    return groups


def resume_stalled(repo, settings, dispatch):
    """Take up issues left unfinished (a crash, a broker outage) for a while."""
    before = now() - timedelta(seconds=settings.resume_after_seconds)
    done = 0
    for issue in repo.stalled_issues(before):
        log.warning("taking up the unfinished issue of order %s", issue["order_id"])
        resume(repo, settings, issue, dispatch)
        done += 1
    return done


# -- reading --------------------------------------------------------------------------------------
def parse_booklet_serial(serial):
    """The normalised serial, or 400 ``invalid_serial`` (a typo is never a lookup)."""
    try:
        return serials.booklet_serial(serials.parse_booklet_serial(serial))
    except (serials.InvalidSerial, TypeError) as exc:
        raise InvalidSerial(str(exc), details={"serial": str(serial)[:40]}) from None


def booklet_by_serial(repo, serial):
    booklet = repo.get_booklet(parse_booklet_serial(serial))
    if booklet is None:
        raise BookletNotFound(details={"serial": serial})
    return booklet


def get_booklet(repo, serial, actor):
    booklet = booklet_by_serial(repo, serial)
    domain.require_viewer(actor, booklet)
    return booklet


def issue_of(repo, order_id, actor):
    issue = repo.get_issue(order_id) if isinstance(order_id, str) and len(order_id) < 80 else None
    if issue is None:
        raise OrderNotIssued(details={"order_id": str(order_id)[:80]})
    domain.require_sponsor_or_operator(actor, issue["sponsor_id"])
    return issue


def order_booklets(repo, order_id, query, actor):
    """The issue of an order with a page of its booklets (serials, coupon range, status)."""
    issue = issue_of(repo, order_id, actor)
    page = repo.booklets_of_order(
        order_id, history=False, offset=query["offset"], limit=query["limit"]
    )
    blocks = issue.get("blocks")
    coupon_range = None
    if blocks:
        coupon_range = {
            "first": serials.coupon_serial(blocks[COUPONS]["first"]),
            "last": serials.coupon_serial(blocks[COUPONS]["last"]),
        }
    total = repo.count_booklets(order_id)
    return {**issue, "coupon_range": coupon_range, "total": total, "booklets": page}


def distributor_booklets(repo, distributor_id, query, actor):
    """A page of the booklets assigned to a distributor (the operator, its sponsor or itself)."""
    distributor = repo.get_distributor(distributor_id) if isinstance(distributor_id, str) else None
    if distributor is None:
        raise DistributorNotFound(details={"distributor_id": str(distributor_id)[:80]})
    domain.require_distributor_viewer(actor, distributor)
    page, total = repo.booklets_of_distributor(distributor_id, query["offset"], query["limit"])
    return {
        "distributor_id": distributor_id,
        "sponsor_id": distributor["sponsor_id"],
        "total": total,
        "limit": query["limit"],
        "offset": query["offset"],
        "booklets": page,
    }


# -- the booklet lifecycle ------------------------------------------------------------------------
def _change(repo, booklet, action, actor, changes=None, event=None, **details):
    """Move a booklet by ``action`` in one conditional update (tried again on a fresh read if it
    changed meanwhile), with its audit entry and its event."""
    while True:
        status_to = next_status(booklet["status"], action)
        at = now()
        extra = changes(booklet, at) if changes else {}
        entry = history_entry(booklet["status"], status_to, actor, at, **details)
        events = [outbox_entry(*event(booklet, extra, at))] if event else []
        updated = repo.update_booklet(
            booklet["serial"],
            booklet["version"],
            {"status": status_to.value, **extra},
            entry,
            events,
        )
        if updated is not None:
            return updated
        booklet = booklet_by_serial(repo, booklet["serial"])


def dispatch_booklet(repo, serial, actor):
    """The operator sent this booklet to its sponsor."""
    booklet = booklet_by_serial(repo, serial)
    domain.require_operator(actor)
    return _change(repo, booklet, Action.DISPATCH, actor)


def dispatch_order(repo, order_id, actor):
    """The operator sent every booklet of the order still ``issued`` to its sponsor."""
    domain.require_operator(actor)
    issue = issue_of(repo, order_id, actor)
    entry = history_entry(BookletStatus.ISSUED, BookletStatus.DISPATCHED, actor, now())
    return {"order_id": issue["order_id"], "dispatched": repo.dispatch_issued(order_id, entry)}


def assign(repo, serial, distributor_id, actor):
    """The sponsor hands a booklet to one of its distributors."""
    booklet = booklet_by_serial(repo, serial)
    domain.require_own_sponsor(actor, booklet)
    distributor = repo.get_distributor(distributor_id)
    if distributor is None:
        raise DistributorNotFound(details={"distributor_id": distributor_id})
    if distributor["sponsor_id"] != booklet["sponsor_id"]:
        raise DistributorOfAnotherSponsor(details={"distributor_id": distributor_id})
    return _change(
        repo,
        booklet,
        Action.ASSIGN,
        actor,
        changes=lambda b, at: {"distributor_id": distributor_id},
        distributor_id=distributor_id,
    )


def _activation(booklet, at, profile):
    domain.require_valid(booklet, at)
    until = domain.one_year_after(at)
    return {"activated_at": at, "valid_from": at, "valid_until": until, "profile": profile}


def activate(repo, serial, profile, actor):
    """The assigned distributor hands the booklet to a beneficiary: validity restarts, one
    year from now; emits ``issuance.booklet_activated``."""
    booklet = booklet_by_serial(repo, serial)
    domain.require_assigned_distributor(actor, booklet)
    if profile is not None:
        profile = {key: value for key, value in profile.items() if value is not None} or None

    def event(b, extra, at):
        payload = {
            "booklet_serial": b["serial"],
            "order_id": b["order_id"],
            "sponsor_id": b["sponsor_id"],
            "distributor_id": b.get("distributor_id"),
            "coupon_serials": b["coupon_serials"],
            "activated_at": iso(at),
            "valid_from": iso(extra["valid_from"]),
            "valid_until": iso(extra["valid_until"]),
            "profile": extra["profile"],
        }
        return "booklet_activated", BookletActivated().dump(payload)

    return _change(
        repo,
        booklet,
        Action.ACTIVATE,
        actor,
        changes=lambda b, at: _activation(b, at, profile),
        event=event,
    )


def cancel(repo, serial, reason, actor, action=Action.CANCEL):
    """Its sponsor (or the operator) reports a booklet lost or stolen; emits
    ``issuance.booklet_cancelled`` with every coupon serial (redemption knows which were used)."""
    booklet = booklet_by_serial(repo, serial)
    domain.require_sponsor_or_operator(actor, booklet["sponsor_id"])
    return _cancel(repo, booklet, reason, actor, action)


def block(repo, serial, actor):
    """Its sponsor (or the operator) withdraws a booklet not yet handed out to a beneficiary
    (before its validity ends, docs/issuance.md): cancelled with reason ``blocked``, its coupons refunded by
    the next expiry run."""
    return cancel(repo, serial, "blocked", actor, Action.BLOCK)


def block_order(repo, order_id, actor):
    """Block every booklet of the order not yet handed out; the serials blocked by this call."""
    issue_of(repo, order_id, actor)
    blocked = []
    for booklet in repo.booklets_of_order(order_id, history=False):
        if BookletStatus(booklet["status"]) not in domain.blockable():
            continue
        try:
            _cancel(repo, booklet, "blocked", actor, Action.BLOCK)
        except InvalidBookletTransition:  # handed out meanwhile
            continue
        blocked.append(booklet["serial"])
    return {"order_id": order_id, "blocked": len(blocked), "serials": blocked}


def _cancel(repo, booklet, reason, actor, action):

    def event(b, extra, at):
        payload = {
            "booklet_serial": b["serial"],
            "order_id": b["order_id"],
            "sponsor_id": b["sponsor_id"],
            "coupon_serials": b["coupon_serials"],
            "reason": reason,
            "cancelled_at": iso(at),
        }
        return "booklet_cancelled", BookletCancelled().dump(payload)

    return _change(
        repo,
        booklet,
        action,
        actor,
        changes=lambda b, at: {"cancelled_at": at, "cancel_reason": reason},
        event=event,
        reason=reason,
    )


# -- distributors -------------------------------------------------------------------------------
def record_distributor(repo, event):
    """``ordering.distributor_registered``: who may receive a sponsor's booklets."""
    repo.upsert_distributor(
        {key: event[key] for key in ("distributor_id", "sponsor_id", "name", "town_code")}
    )


# -- print files ----------------------------------------------------------------------------------
def _printable_issue(repo, order_id, actor):
    domain.require_operator(actor)
    issue = issue_of(repo, order_id, actor)
    if issue["status"] not in (IssueStatus.CREATED, IssueStatus.PUBLISHED):
        raise IssueInProgress(details={"order_id": order_id, "status": issue["status"]})
    return issue


def booklets_to_print(repo, order_id, actor):
    """Every booklet of an order, in serial order, as a list (operator only: the print shop's
    file). ``print_order`` reads them a chunk at a time instead (:func:`order_to_print`)."""
    _printable_issue(repo, order_id, actor)
    booklets = repo.booklets_of_order(order_id, history=False)
    _record_prints(repo, booklets, actor, order_id)
    return booklets


def order_to_print(repo, order_id, actor, step=None):
    """The booklets of an order to print (operator only), as an :class:`OrderBooklets`: one
    streaming pass over the order now (count, kinds, digest), each chunk read from the store
    when the print file needs it. Every booklet's audit trail records the print."""
    _printable_issue(repo, order_id, actor)
    source = OrderBooklets(repo, order_id, step or OrderBooklets.STEP)
    at = now()
    entries = {status: domain.print_entry(status, actor, at) for status in source.statuses}
    repo.record_order_prints(order_id, entries)
    return source


def print_inputs(booklet):
    """What one booklet brings to its print file (and to the file's key): serial, sponsor,
    value, coupons."""
    return json.dumps(
        [
            booklet["serial"],
            booklet["sponsor_name"],
            booklet["face_value_cents"],
            booklet["coupon_serials"],
        ]
    ).encode()


def print_digest(booklets):
    """The sha256 of the booklets' :func:`print_inputs`, in order."""
    digest = hashlib.sha256()
    for booklet in booklets:
        digest.update(print_inputs(booklet))
    return digest.digest()


class OrderBooklets:
    """The booklets of an order, in serial order, for its print file, without holding them:
    what the file needs of the whole order (``len``, ``coupon_count``, :meth:`firsts` of each
    kind, :meth:`digest`, ``statuses``, ``sponsor_id``) comes from one pass over an indexed
    cursor (a batch in memory at a time), and :meth:`chunk` reads a chunk of booklets from the
    store when the file is drawn (``documents.write_print_file``). Memory: one booklet per kind
    and one sequence number per ``step`` booklets, whatever the size of the order.

    A chunk starts at a known booklet sequence (every ``step``-th one is kept by the pass) and
    is read by the ``(order_id, sequence)`` index, never by skipping from the start."""

    STEP = 50  # documents.CHUNK_BOOKLETS: the chunk the print workers draw

    def __init__(self, repo, order_id, step=STEP):
        self.repo, self.order_id, self.step = repo, order_id, step
        self.count = self.coupon_count = 0
        self.sponsor_id = None
        self.statuses, self.kinds = set(), {}
        self.bounds = array.array("q")  # the sequence of booklet 0, step, 2 * step, ...
        digest = hashlib.sha256()
        for booklet in repo.scan_order_for_print(order_id):
            if self.count % step == 0:
                self.bounds.append(booklet["sequence"])
            if self.sponsor_id is None:
                self.sponsor_id = booklet["sponsor_id"]
            kind = (
                booklet["sponsor_name"],
                booklet["face_value_cents"],
                len(booklet["coupon_serials"]),
            )
            self.kinds.setdefault(kind, booklet)
            self.statuses.add(booklet["status"])
            self.count += 1
            self.coupon_count += len(booklet["coupon_serials"])
            digest.update(print_inputs(booklet))
        self._digest = digest.digest()

    def __len__(self):
        return self.count

    def firsts(self):
        """The first booklet of each kind (sponsor, value, coupons), in order of appearance."""
        return list(self.kinds.values())

    def digest(self):
        return self._digest

    def chunk_query(self, start, stop):
        """What the store is asked for booklets ``start`` to ``stop`` (``0 <= start < stop <=
        len``): ``(from sequence, limit, skip, before sequence or None)``, the range of the
        blocks of ``step`` booklets the chunk spans, no more."""
        block, skip = divmod(start, self.step)
        after = (stop - 1) // self.step + 1  # the first block past the chunk, if there is one
        before = self.bounds[after] if after < len(self.bounds) else None
        return self.bounds[block], stop - start, skip, before

    def chunk(self, start, stop):
        """Booklets ``start`` to ``stop`` (excluded) of the order, read from the store now."""
        stop = min(stop, self.count)
        if not 0 <= start < stop:
            return []
        found = self.repo.order_booklets_from(self.order_id, *self.chunk_query(start, stop))
        if len(found) != stop - start:  # booklets of an issued order are never removed
            raise RuntimeError(f"order {self.order_id}: booklets changed while printing")
        return found


def booklet_to_print(repo, serial, actor):
    """One booklet to print again: the operator, or its sponsor while it still holds it (not
    once assigned or handed out). Recorded in the booklet's audit trail."""
    booklet = booklet_by_serial(repo, serial)
    domain.require_may_print(actor, booklet)
    _record_prints(repo, [booklet], actor)
    return booklet


def _record_prints(repo, booklets, actor, order_id=None):
    at = now()
    entries = {b["serial"]: domain.print_entry(b["status"], actor, at) for b in booklets}
    repo.record_prints([b["serial"] for b in booklets], entries, order_id)


# -- stored print files ---------------------------------------------------------------------------
PRINT_WAIT_SECONDS = 1  # how often a request waits for a file another one is making
PRINT_STALE_SECONDS = 900  # a file "in progress" untouched this long was left by a crash
PRINT_BEAT_SECONDS = 60  # how often the maker of a file says it is still at work


def print_file_id(settings, booklets, name, title):
    """The key of a print file: its name and a digest of everything it is made of (each booklet's
    serial, sponsor, value and coupons, the title, the map's address), keyed with the operator's
    secret (the codes come from it, and the key tells nothing of it). The same inputs give the
    same file: it is made once and read again."""
    inputs = hashlib.sha256()
    inputs.update(json.dumps([title, settings.map_url]).encode())
    # an :class:`OrderBooklets` made its digest in its one pass; a list is digested here
    inputs.update(booklets.digest() if hasattr(booklets, "digest") else print_digest(booklets))
    key = hmac.new(settings.operator_secret.encode(), inputs.digest(), hashlib.sha256)
    return f"{name}-{key.hexdigest()[:32]}"


def stored_print_file(repo, settings, booklets, name, title, owner, make):
    """The record of the print file of ``booklets``, made now (``make(booklets, path)`` writes
    it to ``path`` and answers its pages) unless it is stored already; its bytes are in the
    store's file bucket (:meth:`IssuanceRepository.store_print_file`), never in a message.

    ``owner``: who may read it (``sponsor_id``, ``order_id``, ``serial`` of a one-booklet file).
    A request for a file another request is making waits for it."""
    file_id = print_file_id(settings, booklets, name, title)
    holder = new_id("prt")
    started = time.monotonic()
    while True:
        found = repo.get_print_file(file_id)
        if found is None:
            record = {
                "file_id": file_id,
                "filename": f"{name}.pdf",
                "status": "in_progress",
                "holder": holder,
                "started_at": now(),
                "booklet_count": len(booklets),
                "coupon_count": booklets.coupon_count
                if hasattr(booklets, "coupon_count")
                else sum(len(b["coupon_serials"]) for b in booklets),
                **owner,
            }
            if repo.claim_print_file(record):
                break
            continue
        if found["status"] == "ready":
            return found
        stale = now() - timedelta(seconds=PRINT_STALE_SECONDS)
        if repo.take_over_print_file(file_id, holder, stale, now()):
            break
        if time.monotonic() - started > PRINT_STALE_SECONDS:
            raise IssueInProgress(
                "the print file is still being made", details={"file_id": file_id}
            )
        time.sleep(PRINT_WAIT_SECONDS)
    began = time.perf_counter()
    # a large order takes longer than PRINT_STALE_SECONDS to draw: its maker refreshes
    # ``started_at`` while at work, so only a maker that died is taken over
    done = threading.Event()

    def beat():
        while not done.wait(PRINT_BEAT_SECONDS):
            repo.touch_print_file(file_id, holder, now())

    threading.Thread(target=beat, name=f"beat-{file_id}", daemon=True).start()
    try:
        with tempfile.TemporaryDirectory(prefix="aptic-printfile-") as folder:
            path = os.path.join(folder, "file.pdf")
            pages = make(booklets, path)
            with open(path, "rb") as source:
                size, sha256 = repo.store_print_file(file_id, f"{name}.pdf", source)
    except BaseException:
        repo.drop_print_file(file_id, holder)
        raise
    finally:
        done.set()
    changes = {
        "pages": pages,
        "size": size,
        "sha256": sha256,
        "chunk_bytes": repo.CHUNK_BYTES,
        "seconds": round(time.perf_counter() - began, 3),
        "ready_at": now(),
    }
    log.info("print file %s stored: %s pages, %s bytes", file_id, pages, size)
    # None: a request took the production over meanwhile (this one was thought dead)
    return repo.mark_print_file_ready(file_id, holder, changes) or repo.get_print_file(file_id)


def print_file_of(repo, file_id, actor):
    """The record of a stored print file, to the operator, or to the sponsor of a one-booklet
    file while it still holds that booklet (as when it was made)."""
    found = (
        repo.get_print_file(file_id) if isinstance(file_id, str) and len(file_id) < 120 else None
    )
    if found is None:
        raise NotFound("no such print file", details={"file_id": str(file_id)[:120]})
    if actor["role"] != "operator":
        if found.get("serial") is None:
            domain.require_operator(actor)
        domain.require_may_print(actor, booklet_by_serial(repo, found["serial"]))
    return found


def print_file_chunk(repo, file_id, index, actor):
    """Chunk ``index`` (0-based, ``CHUNK_BYTES`` each) of a ready print file."""
    found = print_file_of(repo, file_id, actor)
    if found["status"] != "ready":
        raise IssueInProgress("the print file is being made", details={"file_id": file_id})
    if not isinstance(index, int) or index < 0 or index * repo.CHUNK_BYTES >= max(found["size"], 1):
        raise InvalidInput("no such chunk", details={"index": str(index)[:20]})
    return repo.read_print_chunk(file_id, index)


def purge_print_files(repo, settings):
    """Delete the stored print files older than ``PRINT_FILE_HOURS`` (they hold security codes);
    the next request for one makes it again."""
    return repo.purge_print_files(now() - timedelta(hours=settings.print_file_hours))
