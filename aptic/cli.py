"""``aptic``: the operator's command-line tool. ``aptic run`` starts the platform (the embedded
storage server unless ``MONGO_URI`` names a MongoDB, then one supervised process per service);
the other commands act on the running platform over AMQP."""

import json
import os
import signal
import sys
import warnings
from pathlib import Path

import click

from shared.config import load_config

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "config.yml"

# eventlet, monkey-patched: only `aptic run` has it (_green_threads), for the nameko services it
# runs in its process and the supervisor's green threads. The other commands talk to the platform
# with the pika client (shared/amqp_client.py) and never import nameko or eventlet.
eventlet = None


def _green_threads():
    """Monkey-patch the process for nameko, before anything of nameko is imported."""
    global eventlet
    if eventlet is None:
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        import eventlet as green

        green.monkey_patch()
        eventlet = green


def _config(path):
    return load_config(path or os.environ.get("APTIC_CONFIG") or DEFAULT_CONFIG)


def _rpc(config):
    """The pika client (no nameko): one connection, calls time out after RPC_TIMEOUT seconds;
    one correlation id for every call of this command, to follow it through the logs."""
    import uuid

    from shared.amqp_client import AmqpClient

    return AmqpClient(
        config["AMQP_URI"],
        timeout=float(config.get("RPC_TIMEOUT", 30)),
        name="aptic",
        correlation_id=f"aptic-{uuid.uuid4().hex}",
    )


def _call(ctx, service, method, *args, **kwargs):
    from shared.amqp_client import AppError

    try:
        with _rpc(ctx.obj["config"]) as client:
            return client.call(service, method, *args, **kwargs)
    except AppError as exc:  # a refusal of the service, of its kind, with its stable code
        raise click.ClickException(f"{exc.code}: {exc.message} {json.dumps(exc.details)}") from None
    except Exception as exc:  # broker down, service not running, time-out
        raise click.ClickException(f"could not reach the {service} service: {exc!r}") from None


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML configuration (default: deploy/config.yml, or $APTIC_CONFIG).",
)
@click.pass_context
def main(ctx, config_path):
    """Operate the APTIC voucher platform."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["config"] = _config(config_path)


@main.command()
@click.option(
    "--service",
    "services",
    multiple=True,
    help="Run only these services, in this one process (MONGO_URI must name the server). "
    "Without it: the whole platform, one supervised process per service.",
)
@click.pass_context
def run(ctx, services):
    """Run the platform (or the named services) until Ctrl-C."""
    _green_threads()  # first: nameko runs in this process (and the supervisor in green threads)
    from aptic.registry import SERVICES
    from shared.logs import setup_logging

    config = ctx.obj["config"]
    unknown = set(services) - set(SERVICES)
    if unknown:
        raise click.BadParameter(f"unknown services: {', '.join(sorted(unknown))}")
    setup_logging(config.get("LOG_LEVEL", "INFO"))
    if services:
        _run_in_this_process(config, services)
    else:
        _run_supervised(ctx, config)


def _run_in_this_process(config, services):
    from nameko.runners import ServiceRunner

    from aptic.registry import all_service_classes

    if not config.get("MONGO_URI"):
        raise click.UsageError("MONGO_URI names no server: run `aptic run` (it starts one)")
    runner = ServiceRunner(config)
    for cls in all_service_classes(list(services)):
        runner.add_service(cls)
    _serve_metrics(config)

    def stop(signum, frame):
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, stop)
    runner.start()
    try:
        runner.wait()
    except KeyboardInterrupt:
        try:
            runner.stop()
        except KeyboardInterrupt:
            runner.kill()


def _serve_metrics(config):
    """The process's metrics endpoint (METRICS_ADDRESS; under `aptic run`, moved on by the
    child's APTIC_METRICS_OFFSET so that each process has its port). docs/operations.md."""
    from shared import metrics

    offset = int(os.environ.get("APTIC_METRICS_OFFSET") or 0)
    try:
        bound = metrics.serve(config, offset)
    except OSError as exc:  # the port is taken: the services run, without metrics
        raise click.ClickException(f"could not serve the metrics: {exc}") from None
    if bound is not None:
        click.echo(f"metrics: http://{bound[0]}:{bound[1]}/metrics", err=True)


def _metrics_ports(config, children):
    """Each supervised process its own metrics port: METRICS_ADDRESS's, then the next ones."""
    from shared.metrics import metrics_address

    address = metrics_address(config)
    if address is None:
        return
    for offset, child in enumerate(children):
        child.env["APTIC_METRICS_OFFSET"] = str(offset)
        click.echo(
            f"metrics of {child.name}: http://{address[0]}:{address[1] + offset}/metrics",
            err=True,
        )


def _gateway_url(config):
    host, _, port = str(config["WEB_SERVER_ADDRESS"]).rpartition(":")
    host = "127.0.0.1" if host in ("", "0.0.0.0") else host
    return f"http://{host}:{port}/api/v1"


def _pages_url(config):
    host, _, port = str(config.get("WEB_PAGES_ADDRESS") or "127.0.0.1:8001").rpartition(":")
    host = "127.0.0.1" if host in ("", "0.0.0.0") else host
    return f"http://{host}:{port}"


def _announce_when_up(config, storage, supervisor):
    """Print how to start once the gateway answers (in a green thread)."""
    import requests

    url = _gateway_url(config)
    while not supervisor.stopping:
        try:
            if requests.get(url + "/health", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        eventlet.sleep(0.5)
    else:
        return
    click.echo(
        f"\nAPTIC platform running: {url}  (storage: {storage}; processes: "
        f"{', '.join(child.name for child in supervisor.children)})\n"
        "Create the first operator key in another terminal:\n"
        "  KEY=$(.venv/bin/aptic keys create --role operator --label me | tail -1)\n"
        f'  curl -H "Authorization: Bearer $KEY" {url}/health\n'
        f"Web pages: {_pages_url(config)}  (public map: /carte; first operator account:\n"
        "  .venv/bin/aptic users create --email you@example.org --role operator)\n"
        "Stop with Ctrl-C.\n",
        err=True,
    )


def _run_supervised(ctx, config):
    from aptic.dbserver import DEFAULT_DATA_DIR, EmbeddedServer, ServerError
    from aptic.registry import SERVICES
    from aptic.supervisor import Supervisor, plan, redemption_instances

    uri, server = config.get("MONGO_URI"), None
    if not uri:
        data_dir = Path(os.environ.get("APTIC_DATA_DIR") or DEFAULT_DATA_DIR)
        try:
            server = EmbeddedServer(data_dir).start()
        except ServerError as exc:
            raise click.ClickException(str(exc)) from None
        uri = server.uri
        storage = f"embedded server {uri}, data in {data_dir}"
    else:
        storage = uri.split("@")[-1]  # never print credentials
    env = {**os.environ, "MONGO_URI": uri}
    children = plan(list(SERVICES), redemption_instances(config), ctx.obj["config_path"], env)
    _metrics_ports(config, children)
    supervisor = Supervisor(children, sleep=eventlet.sleep)

    def stop(signum, frame):
        supervisor.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        supervisor.start()
        eventlet.spawn_n(_announce_when_up, config, storage, supervisor)
        supervisor.watch()
        click.echo("stopping...", err=True)
    finally:
        supervisor.stop()
        if server is not None:
            server.stop()
    click.echo("stopped.", err=True)


@main.command()
def catalogue():
    """Print docs/catalogue.md: RPC methods, events and error codes, from the code."""
    from aptic.catalogue import render

    click.echo(render(), nl=False)


@main.command("repair-text")
@click.option("--dry-run", is_flag=True, help="Count what would change; write nothing.")
@click.pass_context
def repair_text(ctx, dry_run):
    """Replace lone surrogates and control characters in stored text by U+FFFD, in every
    service's database (MONGO_URI, MONGO_DB_PREFIX); keys holding some are reported, not renamed."""
    from aptic.repair import run as repair

    config = ctx.obj["config"]
    uri = config.get("MONGO_URI")
    if not uri:
        raise click.UsageError("MONGO_URI names no server: set it to the platform's storage server")
    try:
        repair(uri, config.get("MONGO_DB_PREFIX"), dry_run, echo=click.echo)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def keys():
    """API keys (stored hashed; a key is shown once, when created)."""


@keys.command("create")
@click.option(
    "--role", required=True, type=click.Choice(["operator", "sponsor", "distributor", "venue"])
)
@click.option("--sponsor-id", default=None)
@click.option("--distributor-id", default=None)
@click.option("--venue-id", default=None)
@click.option("--label", default=None, help="Who holds the key (free text).")
@click.pass_context
def keys_create(ctx, role, sponsor_id, distributor_id, venue_id, label):
    """Create a key. The key alone is printed on the last line: KEY=$(aptic keys create ... | tail -1)."""
    subject_id = {"sponsor": sponsor_id, "distributor": distributor_id, "venue": venue_id}.get(role)
    record = _call(ctx, "gateway", "create_api_key", role, subject_id, label)
    click.echo(f"key_id: {record['key_id']}")
    click.echo(f"role: {record['role']}" + (f" (bound to {subject_id})" if subject_id else ""))
    click.echo("Keep this key: it is shown once and stored only hashed.")
    click.echo(record["api_key"])


@keys.command("list")
@click.pass_context
def keys_list(ctx):
    """List keys (ids, roles, bindings; never the keys)."""
    for record in _call(ctx, "gateway", "list_api_keys"):
        state = "revoked " + record["revoked_at"] if record.get("revoked_at") else "active"
        click.echo(
            f"{record['key_id']}  {record['role']:<11} {record.get('subject_id') or '-':<26} "
            f"{state}  {record.get('label') or ''}"
        )


@keys.command("revoke")
@click.argument("key_id")
@click.pass_context
def keys_revoke(ctx, key_id):
    """Revoke a key at once."""
    _call(ctx, "gateway", "revoke_api_key", key_id)
    click.echo(f"revoked {key_id}")


@main.group()
def users():
    """People's accounts for the web pages (operator, venue, sponsor, distributor staff)."""


@users.command("create")
@click.option("--email", required=True, help="The person's e-mail: their login.")
@click.option(
    "--role", required=True, type=click.Choice(["operator", "venue", "sponsor", "distributor"])
)
@click.option(
    "--subject",
    "subject_id",
    default=None,
    help="The venue, sponsor or distributor the account is bound to (its id); none for operator.",
)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="APTIC_USER_PASSWORD",
    help="12 characters at least (asked if not given; or $APTIC_USER_PASSWORD).",
)
@click.pass_context
def users_create(ctx, email, role, subject_id, password):
    """Create an account (the first operator's, typically). The web service must be running."""
    record = _call(ctx, "web", "create_user", email, role, subject_id, password)
    bound = f" (bound to {record['subject_id']})" if record.get("subject_id") else ""
    click.echo(f"{record['user_id']}: {record['email']}, {record['role']}{bound}")


@users.command("list")
@click.pass_context
def users_list(ctx):
    """List accounts (never a password)."""
    for record in _call(ctx, "web", "list_users"):
        click.echo(
            f"{record['user_id']}  {record['role']:<11} {record.get('subject_id') or '-':<26} "
            f"{record['email']}"
        )


# -- settlement and expiry runs, with a progress bar ----------------------------------------------
def _run_with_progress(ctx, start, payload, read, run_id):
    """Start a run (a long RPC, its reply awaited up to an hour) and show its progress, read
    from the run's document by other calls on the same connection, until it answers."""
    from tqdm import tqdm

    from shared.amqp_client import AppError

    config = ctx.obj["config"]
    try:
        with _rpc(config) as client:
            actor = {"role": "operator", "label": f"aptic {start} ({os.environ.get('USER', '?')})"}
            running = client.request("settlement", start, (payload, actor), timeout=3600)
            with tqdm(desc=run_id, unit=" lines", file=sys.stderr) as bar:
                while not running.ready(timeout=0.5):
                    try:
                        progress = client.call("settlement", read, run_id).get("progress") or {}
                    except AppError:
                        continue  # not created yet
                    bar.set_description(f"{run_id} {progress.get('phase', '')}")
                    bar.total = progress.get("total")
                    bar.n = progress.get("done", 0)
                    bar.refresh()
            return running.result()
    except AppError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message} {json.dumps(exc.details)}") from None
    except Exception as exc:  # broker down, service not running
        raise click.ClickException(f"could not reach the settlement service: {exc!r}") from None


def _euros(cents):
    return f"{cents / 100:,.2f} EUR".replace(",", " ")


def _day_option(flag, text):
    """A required day (YYYY-MM-DD) of the operator's timezone."""
    return click.option(flag, required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help=text)


@main.command()
@_day_option(
    "--period-end",
    "Last day paid, a day of the operator's timezone (OPERATOR_TIMEZONE, Europe/Paris by "
    "default): every redemption before the next local midnight.",
)
@click.pass_context
def settle(ctx, period_end):
    """Run the settlement of everything redeemed up to PERIOD_END (idempotent), with progress."""
    day = period_end.date().isoformat()
    run = _run_with_progress(
        ctx, "run_settlement", {"period_end": day}, "get_settlement_run", f"SR-{day}"
    )
    totals = run.get("totals") or {}
    click.echo(
        f"{run['id']} {run['status']}: {len(run['payouts'])} payouts, gross "
        f"{_euros(totals.get('gross_cents', 0))}, fee {_euros(totals.get('fee_cents', 0))}, net "
        f"{_euros(totals.get('net_cents', 0))}; refunds {_euros(run.get('refunds_total_cents', 0))}; "
        f"{len(run.get('carried_forward') or [])} carried forward; summary "
        f"{run.get('summary_reference')}"
    )


@main.command()
@_day_option(
    "--as-of",
    "Expire coupons whose validity and grace month ended before this day began (local "
    "midnight, operator's timezone).",
)
@click.pass_context
def expire(ctx, as_of):
    """Run the expiry of unused coupons as of AS_OF (idempotent), with progress."""
    day = as_of.date().isoformat()
    run = _run_with_progress(ctx, "run_expiry", {"as_of": day}, "get_expiry_run", f"EXP-{day}")
    click.echo(
        f"{run['id']} {run['status']}: {run.get('coupon_count', 0)} coupons expired "
        f"({run.get('cancelled_coupon_count', 0)} of cancelled booklets), refunded "
        f"{_euros(run.get('refunded_cents', 0))}; credit notes: "
        + (", ".join(n["reference"] for n in run.get("credit_notes") or []) or "none")
    )


# -- poison events: the dead-letter queue (docs/operations.md) ------------------------------------
@main.group()
def events():
    """Events the services gave up on (the dead-letter queue)."""


def _dead_letters(ctx):
    from shared.amqp_client import DeadLetters

    return DeadLetters(ctx.obj["config"]["AMQP_URI"], name="aptic events")


@events.command("dead")
@click.option("--json", "as_json", is_flag=True, help="Every field and the whole payload, as JSON.")
@click.option("--width", default=80, show_default=True, help="Characters of payload shown.")
@click.pass_context
def events_dead(ctx, as_json, width):
    """List the dead-lettered events (read, not taken): id, when, consumer, event, why, payload."""
    try:
        with _dead_letters(ctx) as dead:
            letters = dead.list()
    except Exception as exc:  # broker down
        raise click.ClickException(f"could not read the dead-letter queue: {exc!r}") from None
    if as_json:
        click.echo(json.dumps([letter.to_dict() for letter in letters], indent=2, default=str))
        return
    click.echo(f"{len(letters)} dead-lettered event{'' if len(letters) == 1 else 's'}")
    for letter in letters:
        replays = f", replayed {letter.replays}x before" if letter.replays else ""
        click.echo(
            f"{letter.id}  {letter.at}  {letter.consumer}  {letter.source}.{letter.event_type}  "
            f"({letter.deliveries} deliveries{replays})\n"
            f"    why: {letter.error}\n    payload: {letter.summary(width)}"
        )


@events.command("replay")
@click.option("--id", "ids", multiple=True, help="A dead letter's id (repeat for several).")
@click.option("--all", "replay_all", is_flag=True, help="Every dead-lettered event.")
@click.pass_context
def events_replay(ctx, ids, replay_all):
    """Send dead-lettered events again to the queue of the handler that gave them up (fix the
    handler first); each leaves the dead-letter queue once the broker has taken it back."""
    if bool(ids) == replay_all:
        raise click.UsageError("give --id ID (one or more) or --all")
    try:
        with _dead_letters(ctx) as dead:
            replayed, missing = dead.replay(None if replay_all else set(ids))
    except Exception as exc:  # broker down
        raise click.ClickException(f"could not replay: {exc!r}") from None
    for letter in replayed:
        click.echo(f"sent again: {letter.id} to {letter.queue}")
    for letter in missing:
        click.echo(f"kept: {letter.id}: its queue {letter.queue} no longer exists", err=True)
    unknown = set(ids) - {letter.id for letter in replayed + missing}
    for letter_id in sorted(unknown):
        click.echo(f"no dead letter {letter_id}", err=True)
    click.echo(f"{len(replayed)} event(s) sent again" if replayed else "nothing replayed")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
