#!/usr/bin/env bash
# Make sure RabbitMQ runs on 127.0.0.1:5672 with the management plugin (the test fixtures make a
# vhost per test through its API on 15672). Installs it with apt on a bare Debian machine.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  echo "RabbitMQ is not installed: installing it with apt"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rabbitmq-server >/dev/null
fi

if ! port_open 5672; then
  echo "starting RabbitMQ"
  $SUDO rabbitmq-server -detached || true
fi
for _ in $(seq 1 60); do port_open 5672 && break; sleep 1; done
port_open 5672 || { echo "RabbitMQ did not start on 5672" >&2; exit 1; }

if ! port_open 15672; then
  $SUDO rabbitmq-plugins enable --quiet rabbitmq_management >/dev/null
  for _ in $(seq 1 60); do port_open 15672 && break; sleep 1; done
fi
port_open 15672 || { echo "RabbitMQ management API did not start on 15672" >&2; exit 1; }
# The API answers a little after the port opens.
for _ in $(seq 1 30); do
  curl -sf -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1 && break; sleep 1
done
echo "RabbitMQ is up (5672, management 15672)"
