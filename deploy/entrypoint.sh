#!/bin/sh
# Run one service of the platform in this container: entrypoint.sh <service>
# A container must be told where RabbitMQ and MongoDB are: the config files' defaults (127.0.0.1)
# would mean the container itself, where neither runs.
set -e
service="${1:?usage: entrypoint.sh <catalog|ordering|issuance|redemption|settlement|gateway>}"
shift
: "${AMQP_URI:?set AMQP_URI (pyamqp://user:password@rabbitmq:5672/)}"
: "${MONGO_URI:?set MONGO_URI (mongodb://user:password@mongodb:27017/?authSource=admin&replicaSet=rs0)}"
exec aptic --config "/app/services/${service}/config.yml" run --service "${service}" "$@"
