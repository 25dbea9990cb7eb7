#!/usr/bin/env bash
# The servers the tests talk to, on 127.0.0.1: PostgreSQL (5432), Redis (6379) and RabbitMQ (5672).
# Starts each one that is installed and not running (Debian's commands), names the package of one that
# is not installed, then waits up to a minute for what it started. Exit 0 when all three answer.
#
#   scripts/services.sh             start what is down
#   scripts/services.sh --dry-run   only say what it would do
#
# .ci/run calls it before the tests, and so does the test suite itself (tests/conftest.py) when a port
# is closed, so `python -m pytest` works on a machine where the servers are installed but stopped.
# POSTGRES_PORT, REDIS_PORT and RABBITMQ_PORT change the ports it checks (not the ones it starts on).
set -uo pipefail

dry_run=false
[ "${1:-}" = "--dry-run" ] && dry_run=true

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_postgres() {
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] && command -v pg_ctlcluster >/dev/null || return 3
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
}

start_redis() {
  command -v redis-server >/dev/null || return 3
  local dir=/var/lib/redis log=/var/log/redis/ci.log
  [ -w "$dir" ] || dir=${TMPDIR:-/tmp}
  [ -w "$(dirname "$log")" ] || log="$dir/redis-ci.log"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir "$dir" --logfile "$log"
}

start_rabbitmq() {
  command -v rabbitmq-server >/dev/null || return 3
  rabbitmq-server -detached
}

# name, port, starter, the Debian package that provides it
services=(
  "PostgreSQL ${POSTGRES_PORT:-5432} start_postgres postgresql"
  "Redis ${REDIS_PORT:-6379} start_redis redis-server"
  "RabbitMQ ${RABBITMQ_PORT:-5672} start_rabbitmq rabbitmq-server"
)

waiting=()
missing=()
for entry in "${services[@]}"; do
  read -r name port starter package <<<"$entry"
  if port_open "$port"; then
    continue
  fi
  if $dry_run; then
    echo "services: $name is not running on 127.0.0.1:$port: would start it"
    continue
  fi
  echo "services: starting $name (nothing answers on 127.0.0.1:$port)"
  "$starter"
  status=$?
  if [ "$status" -eq 3 ]; then
    echo "services: $name is not installed: apt-get install $package (or start it yourself on 127.0.0.1:$port)" >&2
    missing+=("$package")
  elif [ "$status" -ne 0 ]; then
    echo "services: could not start $name (exit status $status): start it on 127.0.0.1:$port" >&2
  else
    waiting+=("$name:$port")
  fi
done
$dry_run && exit 0

for _ in $(seq 1 60); do
  down=()
  for entry in "${services[@]}"; do
    read -r name port _ <<<"$entry"
    port_open "$port" || down+=("$name")
  done
  [ "${#down[@]}" -eq 0 ] && exit 0
  # Only what was started now may still come up; anything else will not.
  [ "${#waiting[@]}" -eq 0 ] && break
  sleep 1
done
echo "services: still not running: ${down[*]}${missing:+ (install: apt-get install ${missing[*]})}" >&2
exit 1
