#!/bin/sh
# Run one service of the platform in this container: entrypoint.sh <service>
set -e
service="${1:?usage: entrypoint.sh <catalog|ordering|issuance|redemption|settlement|gateway>}"
shift
exec aptic --config "/app/services/${service}/config.yml" run --service "${service}" "$@"
