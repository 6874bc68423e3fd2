# shellcheck shell=bash
# Shared helpers for scripts/*. Source it; it does not change shell options.

DVS_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC2034 # used by the scripts that source this file
DVS_SCRIPTS="${DVS_REPO_ROOT}/scripts"

# All diagnostics go to stderr so that stdout stays machine-readable
# (scripts print a tag, a DOCKER_HOST value, ... on stdout).
log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

need_root() {
  [[ ${EUID} -eq 0 ]] || die "must run as root"
}

need_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || die "missing command: $c (apt-get install it)"
  done
}

# wait_until SECONDS CMD...: retry CMD every 0.2 s until it succeeds or time runs out.
wait_until() {
  local limit=$1; shift
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# pid_alive PIDFILE: the process named in PIDFILE exists.
pid_alive() {
  local pid
  [[ -s $1 ]] || return 1
  pid=$(<"$1")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# docker_answers HOST: an engine answers at HOST (unix://... or tcp://...).
docker_answers() {
  timeout 10 docker -H "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# print_header_help: the calling script's leading comment block, as help text.
print_header_help() {
  awk 'NR > 1 && /^#/ { if ($0 !~ /^# shellcheck/) print; next } NR > 1 { exit }' "$0" | sed 's/^# \{0,1\}//'
}
