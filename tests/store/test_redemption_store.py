"""Redemption over its store, without a broker, on the test run's MongoDB-wire server: the
round trips of a redemption (counted by the driver's command monitoring), the one read served by
indexes, replays, the crash window between claim and insert, brute-force locks and TTL indexes."""

import json
from datetime import datetime, timedelta

import pytest
from bson.codec_options import CodecOptions
from pymongo import MongoClient, monitoring
from pymongo.errors import DuplicateKeyError

from services.redemption import api, domain
from services.redemption.store import RedemptionRepository
from shared import serials, times
from shared.contracts.errors_redemption import (
    CouponAlreadyRedeemed,
    CouponLocked,
    CouponNotFound,
    IdempotencyKeyReused,
    InvalidSecurityCode,
    RedemptionNotFound,
    RequestInProgress,
    ServiceNotOffered,
    VenueLocked,
    VenueNotAccredited,
)
from shared.mongo import get_client, get_database
from shared.outbox import OutboxHandle
from tests.redemption_support import (
    DIGEST_KEY,
    VENUE_ACTOR,
    VENUE_ID,
    request,
    seed,
    venue_event,
    wrong,
)

HOUSEKEEPING = {"hello", "ismaster", "isMaster", "endSessions"}
TIMEOUT = timedelta(seconds=domain.PENDING_TIMEOUT_SECONDS)


class Commands(monitoring.CommandListener):
    """The commands a client sends, by name (the driver's housekeeping left out)."""

    def __init__(self):
        self.names = []

    def started(self, event):
        if event.command_name not in HOUSEKEEPING:
            self.names.append(event.command_name)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    def take(self):
        names, self.names = self.names, []
        return names


@pytest.fixture
def counted(mongo_config):
    """A repository on a client of its own whose every command is recorded."""
    commands = Commands()
    client = MongoClient(
        mongo_config["MONGO_URI"], tz_aware=True, tzinfo=times.UTC, event_listeners=[commands]
    )
    db = client[mongo_config["MONGO_DB_PREFIX"] + "redemption"]
    RedemptionRepository.ensure_indexes(db)
    yield RedemptionRepository(db), commands
    client.close()


@pytest.fixture
def repo(mongo_config):
    db = get_database(mongo_config, "redemption", tz_aware=True)
    RedemptionRepository.ensure_indexes(db)
    return RedemptionRepository(db)


def now():
    return times.now()


def redeem(repo, coupons, key=None, at=None):
    return api.redeem(repo, DIGEST_KEY, VENUE_ID, request(coupons, key), VENUE_ACTOR, now=at)


class Hooked(RedemptionRepository):
    """The store, with something happening just before a claim or an insert (another request,
    the recovery timer): the windows a slow or interrupted request leaves open."""

    def __init__(self, db, before_claim=None, before_insert=None, stale_statuses=False):
        super().__init__(db)
        self.before_claim, self.before_insert = before_claim, before_insert
        self.stale_statuses = stale_statuses

    def claim(self, *args, **kwargs):
        hook, self.before_claim = self.before_claim, None
        if hook:
            hook()
        return super().claim(*args, **kwargs)

    def insert_redemption(self, redemption):
        hook, self.before_insert = self.before_insert, None
        if hook and redemption["status"] == "accepted":
            hook(redemption)
        return super().insert_redemption(redemption)

    def redemption_statuses(self, redemption_ids):
        return {} if self.stale_statuses else super().redemption_statuses(redemption_ids)


# -- round trips --------------------------------------------------------------------------------
@pytest.mark.parametrize("per_request", [1, 10])
def test_a_redemption_is_four_round_trips(counted, per_request):
    repo, commands = counted
    coupons = list(seed(repo).items())[:per_request]
    outbox = OutboxHandle(repo.db, ("redemptions",), grace_seconds=10)
    published = []
    commands.take()

    redemption, created = redeem(repo, coupons)
    for entry in redemption["outbox"]:  # what the service does next
        outbox.publish_entry(
            lambda *event: published.append(event), "redemptions", {"id": redemption["id"]}, entry
        )

    sent = commands.take()
    one_coupon = ["aggregate", "update", "insert", "update"]
    assert sent == one_coupon, sent  # read, claim, insert with its event, $pull the event
    assert created and redemption["status"] == "accepted"
    assert [event_type for event_type, _ in published] == ["coupons_redeemed"]
    assert len(published[0][1]["coupons"]) == per_request
    stored = repo.db.redemptions.find_one({"id": redemption["id"]})
    assert stored["status"] == "accepted" and stored["outbox"] == []
    held = repo.coupons([s for s, _ in coupons])
    assert {(c["status"], c["redemption_id"]) for c in held} == {("redeemed", redemption["id"])}


def test_guards_cost_the_success_path_nothing_and_a_locked_coupon_is_seen_by_the_read(counted):
    repo, commands = counted
    codes = list(seed(repo).items())
    guessed, locked = codes[0], codes[1]
    t0 = now()
    for serial, code, times_wrong in [(*guessed, 1), (*locked, domain.COUPON_GUARD.limit)]:
        for _ in range(times_wrong):
            with pytest.raises(InvalidSecurityCode):
                redeem(repo, [(serial, wrong(code))], at=t0)
    commands.take()
    redemption, created = redeem(repo, [guessed, codes[2]], at=t0)  # both guards in the one read
    assert created and commands.take() == ["aggregate", "update", "insert"]
    with pytest.raises(CouponLocked) as caught:
        redeem(repo, [codes[3], locked], at=t0)
    assert caught.value.details["serial"] == locked[0]
    assert commands.take() == ["aggregate", "find"]  # the read, the retry's lookup: not counted


def test_a_replay_is_two_round_trips_and_claims_nothing(counted):
    repo, commands = counted
    coupons = list(seed(repo).items())[:3]
    first, _ = redeem(repo, coupons, key="desk-0001-a")
    commands.take()
    again, created = redeem(repo, coupons, key="desk-0001-a")
    assert commands.take() == ["aggregate", "find"]  # the read sees our claim key: by key
    assert not created and again["id"] == first["id"]
    with pytest.raises(IdempotencyKeyReused):
        redeem(repo, coupons[:1], key="desk-0001-a")


def test_the_one_read_and_the_recovery_scan_are_indexed(repo):
    serials = list(seed(repo))[:3]
    pipeline = repo.snapshot_pipeline(VENUE_ID, serials)
    explained = repo.db.command(
        "explain",
        {"aggregate": "coupons", "pipeline": pipeline, "cursor": {}},
        verbosity="executionStats",
    )
    assert_indexed(explained)
    assert "IXSCAN" in json.dumps(explained, default=str)  # the $match: the unique serial
    lookups = [stage["$lookup"] for stage in pipeline if "$lookup" in stage]
    assert [lookup["from"] for lookup in lookups] == ["booklets", "orders", "venues"]
    for lookup in lookups:  # local/foreign fields (no sub-pipeline) on a unique index
        assert set(lookup) == {"from", "localField", "foreignField", "as"}
        indexes = repo.db[lookup["from"]].index_information().values()
        assert any(
            index["key"] == [(lookup["foreignField"], 1)] and index.get("unique")
            for index in indexes
        ), lookup

    # recovery's two queries (single-field: SecantusDB's explain reports any query with two
    # fields as a collection scan, although it runs it on the index)
    for collection, query in [
        ("coupons", repo.claims_query(now() - timedelta(hours=1), now())),
        ("redemptions", repo.ids_query(["red_a", "red_b"])),
    ]:
        explained = repo.db[collection].find(query).explain()
        assert_indexed(explained)
        assert "IXSCAN" in json.dumps(explained, default=str)


def assert_indexed(explained):
    """No collection scan anywhere in an explain (MongoDB also reports how each ``$lookup``
    ran: ``collectionScans``, and for joins pushed down to its engine a ``strategy``)."""
    if isinstance(explained, dict):
        assert explained.get("stage") != "COLLSCAN", explained
        assert explained.get("collectionScans", 0) == 0, explained
        assert explained.get("strategy") not in ("NestedLoopJoin", "HashJoin"), explained
        for value in explained.values():
            assert_indexed(value)
    elif isinstance(explained, list):
        for value in explained:
            assert_indexed(value)


# -- refusals keep their order; replays ---------------------------------------------------------
def test_refusals_of_the_venue_come_before_unknown_coupons(repo):
    codes = seed(repo)
    serial, code = next(iter(codes.items()))
    unknown = serials.coupon_serial(99)  # well formed, never issued
    with pytest.raises(CouponNotFound):
        redeem(repo, [(unknown, code)])
    with pytest.raises(ServiceNotOffered):
        api.redeem(
            repo,
            DIGEST_KEY,
            VENUE_ID,
            request([(unknown, code)], service_id="svc_ffffffffffffffffffff"),
            VENUE_ACTOR,
        )
    with pytest.raises(VenueNotAccredited):
        api.redeem(repo, DIGEST_KEY, "ven_eeeeeeeeeeeeeeeeeeee", request([(unknown, code)]), {})
    guesses = list(codes.items())[1 : domain.VENUE_GUARD.limit]  # + the unknown serial above
    for other, other_code in guesses:  # one wrong code each: only the venue's count fills
        with pytest.raises(InvalidSecurityCode):
            redeem(repo, [(other, wrong(other_code))])
    with pytest.raises(VenueLocked):  # the fallback read of the venue sees the lock too
        redeem(repo, [(unknown, code)])
    with pytest.raises(VenueLocked):
        redeem(repo, [(serial, code)])


def test_a_partly_taken_request_gives_back_what_it_claimed(repo):
    codes = list(seed(repo).items())
    first, taken, third = codes[:3]
    racing = Hooked(repo.db, before_claim=lambda: redeem(repo, [taken]))
    with pytest.raises(CouponAlreadyRedeemed) as caught:
        redeem(racing, [first, taken, third])
    assert caught.value.details["serial"] == taken[0]
    assert caught.value.details["redeemed_at"].endswith("Z")
    held = {c["serial"]: c for c in repo.coupons([first[0], third[0]])}
    assert {c["status"] for c in held.values()} == {"usable"}
    assert not any("claim_key" in c or "redemption_id" in c for c in held.values())


def test_the_same_key_for_other_coupons_loses_the_insert_and_gives_back(repo):
    codes = list(seed(repo).items())
    other = lambda redemption: redeem(repo, [codes[1]], key="desk-0002-a")  # noqa: E731
    with pytest.raises(IdempotencyKeyReused):
        redeem(Hooked(repo.db, before_insert=other), [codes[0]], key="desk-0002-a")
    assert repo.coupon(codes[0][0])["status"] == "usable"
    assert repo.coupon(codes[1][0])["status"] == "redeemed"


def test_a_retried_request_answers_as_the_first_even_after_a_void(repo):
    codes = list(seed(repo).items())
    first, _ = redeem(repo, codes[:1], key="desk-0003-a")
    api.void(repo, first["id"], VENUE_ID, VENUE_ACTOR)
    redeem(repo, codes[:1])  # someone else redeems the coupon again
    again, created = redeem(repo, codes[:1], key="desk-0003-a")
    assert not created and again["id"] == first["id"] and again["status"] == "voided"


# -- the crash window between the claim and the insert -----------------------------------------
def test_claims_without_a_redemption_are_given_back_after_the_timeout(repo):
    codes = list(seed(repo).items())
    crashed = codes[:2]
    t0 = now()
    lost = "red_000000000000000000aa"
    key = domain.claim_key(VENUE_ID, "desk-0004-a")
    assert repo.claim([s for s, _ in crashed], lost, key, t0) == 2  # then the process died

    with pytest.raises(RequestInProgress):  # the client's retry, while it is unknown
        redeem(repo, crashed, key="desk-0004-a", at=t0 + timedelta(seconds=5))
    with pytest.raises(CouponAlreadyRedeemed):
        redeem(repo, crashed[:1], at=t0 + timedelta(seconds=5))
    assert api.recover(repo, now=t0 + TIMEOUT - timedelta(seconds=1)) == []
    assert {c["status"] for c in repo.coupons([s for s, _ in crashed])} == {"redeemed"}

    assert api.recover(repo, now=t0 + TIMEOUT + timedelta(seconds=1)) == [lost]
    assert {c["status"] for c in repo.coupons([s for s, _ in crashed])} == {"usable"}
    assert repo.redemption(lost)["status"] == "abandoned"  # the tombstone keeps the id
    with pytest.raises(RedemptionNotFound):
        api.get_redemption(repo, lost)
    assert repo.list_redemptions() == []

    done, created = redeem(repo, crashed, key="desk-0004-a", at=t0 + TIMEOUT * 2)
    assert created and done["status"] == "accepted"  # the retry now redeems, once
    assert [r["id"] for r in repo.list_redemptions()] == [done["id"]]
    assert api.recover(repo, now=t0 + TIMEOUT * 4) == []  # it has its redemption: left alone


def test_a_late_insert_after_recovery_loses_and_releases_nothing(repo):
    codes = list(seed(repo).items())
    slow, meanwhile = codes[:2], {}
    t0 = now()

    def stalled(redemption):
        """The request stalls after its claim: recovery gives it up, another venue desk
        redeems one of its coupons, then it resumes and inserts."""
        meanwhile["slow"] = redemption["id"]
        assert api.recover(repo, now=t0 + TIMEOUT + timedelta(seconds=1)) == [redemption["id"]]
        meanwhile["other"], _ = redeem(repo, slow[:1], at=t0 + TIMEOUT + timedelta(seconds=2))

    with pytest.raises(RequestInProgress):
        redeem(Hooked(repo.db, before_insert=stalled), slow, key="desk-0005-a", at=t0)
    taken, free = repo.coupon(slow[0][0]), repo.coupon(slow[1][0])
    assert taken["status"] == "redeemed" and taken["redemption_id"] == meanwhile["other"]["id"]
    assert free["status"] == "usable"
    assert [r["id"] for r in repo.list_redemptions()] == [meanwhile["other"]["id"]]
    assert repo.redemption(meanwhile["slow"])["status"] == "abandoned"
    with pytest.raises(RedemptionNotFound):
        api.get_redemption(repo, meanwhile["slow"])
    with pytest.raises(CouponAlreadyRedeemed):  # its retry: one coupon is someone else's now
        redeem(repo, slow, key="desk-0005-a")


def test_a_slow_request_that_inserts_first_keeps_its_coupons(repo):
    codes = list(seed(repo).items())
    t0 = now()
    early = lambda redemption: api.recover(repo, now=t0 + TIMEOUT / 2)  # noqa: E731
    done, created = redeem(Hooked(repo.db, before_insert=early), codes[:1], at=t0)
    assert created
    # recovery sees the claim as orphaned (a stale read) but the tombstone loses on the id
    late = Hooked(repo.db, stale_statuses=True)
    assert api.recover(late, now=t0 + TIMEOUT * 2) == []
    assert repo.coupon(codes[0][0])["redemption_id"] == done["id"]
    assert repo.redemption(done["id"])["status"] == "accepted"


def test_recovery_finishes_a_tombstone_whose_release_was_interrupted(repo):
    codes = list(seed(repo).items())
    t0 = now()
    repo.claim([codes[0][0]], "red_000000000000000000bb", "x:y", t0)
    repo.insert_redemption(
        {"id": "red_000000000000000000bb", "venue_id": None, "idempotency_key": "abandoned:h"}
        | {"status": "abandoned", "created_at": t0}
    )  # the tombstone was written, then recovery died before releasing
    assert api.recover(repo, now=t0 + TIMEOUT * 2) == ["red_000000000000000000bb"]
    assert repo.coupon(codes[0][0])["status"] == "usable"


def test_recovery_rescans_one_timeout_behind_its_watermark(repo):
    codes = list(seed(repo).items())
    t1 = now()
    api.recover(repo, now=t1)
    assert repo.watermark(api.RECOVERY_WATERMARK) == t1 - TIMEOUT
    # a claim stamped behind the watermark (a slower clock, or written late), then a crash
    repo.claim([codes[0][0]], "red_000000000000000000cc", "x:y", t1 - TIMEOUT * 1.5)
    assert api.recover(repo, now=t1 + TIMEOUT) == ["red_000000000000000000cc"]
    assert repo.watermark(api.RECOVERY_WATERMARK) == t1
    with pytest.raises(DuplicateKeyError):  # the tombstone holds the id for good
        repo.insert_redemption({"id": "red_000000000000000000cc", "venue_id": "v"})


# -- brute force: the lock on the venue, TTL on what only lives a while -------------------------
def wrong_codes(repo, coupons, at, venue_id=VENUE_ID):
    """A wrong code for each of ``coupons``, each answered ``invalid_security_code``."""
    for serial, code in coupons:
        with pytest.raises(InvalidSecurityCode):
            api.check(repo, DIGEST_KEY, venue_id, {"serial": serial, "code": wrong(code)}, now=at)


def test_the_lock_is_on_the_venue_and_survives_venue_events(repo):
    codes = seed(repo)
    serial, code = list(codes.items())[-1]
    t0 = now()
    wrong_codes(repo, list(codes.items())[: domain.VENUE_GUARD.limit], t0)
    venue = repo.venue(VENUE_ID)
    assert venue["locked_until"] == t0 + domain.VENUE_GUARD.lock
    assert len(venue["failed_guesses"]) == domain.VENUE_GUARD.limit
    api.on_venue_changed(repo, venue_event(VENUE_ID, version=9))  # a newer snapshot of the venue
    assert repo.venue(VENUE_ID)["version"] == 9
    assert repo.venue(VENUE_ID)["locked_until"] == venue["locked_until"]
    with pytest.raises(VenueLocked) as caught:
        redeem(repo, [(serial, code)], at=t0 + timedelta(minutes=1))
    assert caught.value.details["locked_until"].endswith("Z")
    # over when locked_until has passed, whether or not the server has purged anything yet
    after = t0 + domain.VENUE_GUARD.lock + timedelta(seconds=1)
    assert api.check(repo, DIGEST_KEY, VENUE_ID, {"serial": serial, "code": code}, now=after)


def test_locks_have_a_ttl_index_on_dates_and_guards_stay_small(repo):
    codes = list(seed(repo, booklets=3).items())
    other = "ven_00000000000000000002"
    api.on_venue_changed(repo, venue_event(other))
    t0 = now()
    wrong_codes(repo, codes[: domain.VENUE_GUARD.limit], t0)  # the venue locks
    wrong_codes(repo, [codes[-1]] * domain.COUPON_GUARD.limit, t0, venue_id=other)  # the coupon
    ttl = [
        index
        for index in repo.db.locks.index_information().values()
        if "expireAfterSeconds" in index
    ]
    assert [(index["key"], index["expireAfterSeconds"]) for index in ttl] == [
        ([("expires_at", 1)], 0)
    ]
    locks = {lock["kind"]: lock for lock in repo.db.locks.find()}
    assert set(locks) == {"venue", "coupon"}
    for lock in locks.values():
        assert isinstance(lock["expires_at"], datetime)  # a BSON date, not text
        assert lock["expires_at"] == lock["locked_until"] + timedelta(days=domain.LOCK_HISTORY_DAYS)
    # a guard keeps only the failed guesses of its window, at most its limit
    later = t0 + domain.VENUE_GUARD.lock
    wrong_codes(repo, codes[domain.VENUE_GUARD.limit : domain.VENUE_GUARD.limit + 2], later)
    assert [f["at"] for f in repo.venue(VENUE_ID)["failed_guesses"]] == [later, later]
    guessed = repo.coupon(codes[-1][0])
    assert len(guessed["failed_guesses"]) == domain.COUPON_GUARD.limit
    assert guessed["locked_until"] == t0 + domain.COUPON_GUARD.lock


def test_a_wrong_code_is_counted_without_find_and_modify(counted):
    repo, commands = counted
    (serial, code), *_ = seed(repo).items()
    commands.take()
    with pytest.raises(InvalidSecurityCode):
        redeem(repo, [(serial, wrong(code))])
    sent = commands.take()
    # the read, the retry's lookup by key, then per guard (venue, coupon) one conditional
    # update (checks the lock and counts) and its read back
    assert sent == ["aggregate", "find", "update", "find", "update", "find"], sent
    assert "findAndModify" not in sent


# -- time: aware UTC in Python, BSON dates in the store, ISO 8601 Z on the wire ---------------
def test_dates_are_bson_dates_read_back_aware_and_iso_z_on_the_wire(repo, mongo_config):
    codes = list(seed(repo).items())
    t0 = now()
    redemption, _ = redeem(repo, codes[:1], at=t0)
    event = redemption["outbox"][0]["payload"]
    assert event["redeemed_at"] == t0.isoformat().replace("+00:00", "Z")
    answer = api.out(redemption)
    assert answer["created_at"] == event["redeemed_at"] and answer["created_at"].endswith("Z")

    stored = repo.redemption(redemption["id"])
    assert stored["created_at"] == t0 and stored["created_at"].utcoffset() == timedelta(0)
    claimed = repo.coupon(codes[0][0])
    assert claimed["redeemed_at"] == t0 and claimed["redeemed_at"].tzinfo is not None
    raw = get_client(mongo_config["MONGO_URI"])[repo.db.name]  # BSON dates, not text
    assert isinstance(raw.redemptions.find_one()["created_at"], datetime)
    assert isinstance(raw.booklets.find_one()["valid_until"], datetime)
    assert api.out(repo.redemption(redemption["id"]))["created_at"] == answer["created_at"]


def test_a_repository_built_on_a_naive_client_reads_dates_aware(repo, mongo_config):
    seed(repo)
    plain = get_client(mongo_config["MONGO_URI"])[repo.db.name]
    naive = plain.with_options(codec_options=CodecOptions())  # as a tool's own client reads
    assert naive.codec_options.tz_aware is False
    by_hand = RedemptionRepository(naive)
    assert by_hand.db.codec_options.tz_aware is True
    booklet = by_hand.db.booklets.find_one()
    assert booklet["valid_until"].utcoffset() == timedelta(0)


def test_redemptions_are_listed_a_page_at_a_time_by_the_database(counted):
    repo, commands = counted
    codes = list(seed(repo).items())
    t0 = now()
    made = [redeem(repo, codes[i : i + 1], at=t0 + timedelta(seconds=i))[0]["id"] for i in range(5)]
    commands.take()
    pages = [repo.list_redemptions(VENUE_ID, limit=2, offset=offset) for offset in (0, 2, 4)]
    assert commands.take() == ["find", "find", "find"]  # one query a page, no scan in Python
    assert [[r["id"] for r in page] for page in pages] == [made[:2], made[2:4], made[4:]]
    assert repo.count_redemptions(VENUE_ID) == 5 and repo.count_redemptions("ven_other") == 0
    assert repo.count_redemptions(VENUE_ID, start=t0 + timedelta(seconds=3)) == 2
    assert len(repo.list_redemptions(VENUE_ID)) == 5  # no limit: all of them, no silent cap
    late = repo.list_redemptions(VENUE_ID, start=t0 + timedelta(seconds=3), limit=1, offset=1)
    assert [r["id"] for r in late] == [made[4]]
