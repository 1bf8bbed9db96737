#!/usr/bin/env bash
# Test environment for ownops' Docker-backed tests.
#
#   scripts/test-env.sh install install the Debian packages the tests use, when missing (root)
#   scripts/test-env.sh up      start the engine if needed, build the test image if missing
#   scripts/test-env.sh down    remove every ownops-test-* container and volume (images are kept)
#   scripts/test-env.sh status  exit 0 if the engine answers and the test image exists, 1 otherwise
#
# Everything is offline: the test image is assembled from the host's busybox-static
# with `docker import`; nothing is pulled. PostgreSQL runs from the same image with
# the host's /usr, /lib and /lib64 bind-mounted read-only (see test/helpers/docker.ts).
#
# Environment:
#   DOCKER_HOST                    honoured by every docker call. The script only starts
#                                  dockerd itself when DOCKER_HOST is unset or names the
#                                  default socket, or when OWNOPS_TEST_DOCKERD_ARGS is set.
#   OWNOPS_TEST_DOCKERD_ARGS       extra arguments for a dockerd started by `up`
#                                  (e.g. -H unix:///tmp/x.sock --data-root ... --exec-root ... --pidfile ...).
#   OWNOPS_TEST_DOCKERD_LOG        log file of a dockerd started by `up`
#                                  (default /var/log/ownops-test-dockerd.log).
#   OWNOPS_TEST_DOCKER_WAIT        seconds to wait for a started engine (default 60).
#
# Exit codes: 0 ok, 1 status says "not ready", 2 usage, 69 engine unavailable, 70 build failed.
set -euo pipefail

readonly IMAGE='ownops-test/busybox:1'
# Bump when the root fs layout below changes: `up` rebuilds an image whose label differs.
readonly IMAGE_REV='3'
readonly PREFIX='ownops-test-'
readonly LABEL='ownops-test=1'
readonly PG_UID=999
readonly PG_GID=999
readonly IMAGE_PATH='/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
readonly DEFAULT_SOCKET='/var/run/docker.sock'

log() { printf '%s\n' "$*"; }
err() { printf 'test-env: %s\n' "$*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }

# Is DOCKER_HOST unset or pointing at the socket a plain `dockerd` listens on?
default_host() {
  case "${DOCKER_HOST:-}" in
    '' | "unix://$DEFAULT_SOCKET" | 'unix:///run/docker.sock') return 0 ;;
    *) return 1 ;;
  esac
}

# A dockerd (ours or anybody's) that is alive according to its pid file.
dockerd_pid_alive() {
  local pidfile=/var/run/docker.pid pid
  [[ -r $pidfile ]] || return 1
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

ensure_engine() {
  if engine_answers; then return 0; fi

  if ! command -v docker >/dev/null 2>&1; then
    err 'the docker CLI is not installed; cannot run Docker-backed tests.'
    exit 69
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    err "the Docker engine does not answer (DOCKER_HOST=${DOCKER_HOST:-<unset>}) and dockerd is not installed; start an engine or point DOCKER_HOST at one."
    exit 69
  fi
  local extra_args="${OWNOPS_TEST_DOCKERD_ARGS:-}"
  if [[ -z $extra_args ]] && ! default_host; then
    err "the Docker engine at DOCKER_HOST=$DOCKER_HOST does not answer; not starting dockerd because DOCKER_HOST is not the default socket."
    exit 69
  fi
  if [[ $(id -u) -ne 0 ]]; then
    err 'the Docker engine does not answer and starting dockerd needs root; start it yourself (e.g. `sudo systemctl start docker`).'
    exit 69
  fi

  local wait_s="${OWNOPS_TEST_DOCKER_WAIT:-60}"
  local logfile="${OWNOPS_TEST_DOCKERD_LOG:-/var/log/ownops-test-dockerd.log}"
  local pid=''
  if [[ -z $extra_args ]] && dockerd_pid_alive; then
    # Another dockerd is already starting (or hung); wait for it rather than racing it.
    log "dockerd (pid $(cat /var/run/docker.pid)) is running but not answering yet; waiting up to ${wait_s}s"
  else
    mkdir -p "$(dirname "$logfile")"
    log "starting dockerd (log: $logfile)"
    # setsid + </dev/null: the engine must outlive this script and not die with the
    # caller's process group (Ctrl-C on vitest, CI step end).
    # shellcheck disable=SC2086 # word-splitting of the extra args is intended
    setsid dockerd --iptables=false --ip6tables=false --bridge=none $extra_args \
      </dev/null >>"$logfile" 2>&1 &
    pid=$!
  fi

  local deadline=$((SECONDS + wait_s))
  until engine_answers; do
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      err "dockerd exited during start-up; last lines of $logfile:"
      tail -n 20 "$logfile" >&2 || true
      exit 69
    fi
    if ((SECONDS >= deadline)); then
      err "the Docker engine did not answer within ${wait_s}s; last lines of $logfile:"
      tail -n 20 "$logfile" >&2 || true
      exit 69
    fi
    sleep 0.5
  done
}

image_current() {
  local rev
  rev=$(docker image inspect --format '{{ index .Config.Labels "org.ownops.test-image.rev" }}' "$IMAGE" 2>/dev/null) || return 1
  [[ $rev == "$IMAGE_REV" ]]
}

find_busybox() {
  local c
  for c in /bin/busybox /usr/bin/busybox /usr/lib/busybox/busybox; do
    # Must be the static build: the image has no libc of its own.
    if [[ -x $c ]] && ! ldd "$c" >/dev/null 2>&1; then
      printf '%s\n' "$c"
      return 0
    fi
  done
  return 1
}

build_image() {
  local busybox
  if ! busybox=$(find_busybox); then
    err 'a static busybox is needed to build the test image (Debian: apt-get install busybox-static).'
    exit 70
  fi

  local root
  root=$(mktemp -d /tmp/ownops-test-rootfs.XXXXXX)
  # shellcheck disable=SC2064 # expand now: $root is local
  trap "rm -rf '$root'" EXIT

  mkdir -p "$root"/{bin,sbin,etc,root,home,tmp,run,var/run,var/tmp,var/lib,usr,lib,lib64,proc,sys,dev}
  chmod 1777 "$root/tmp" "$root/var/tmp"
  chmod 0700 "$root/root"
  # /bin, not /usr/bin: the host's /usr may be bind-mounted over /usr.
  cp "$busybox" "$root/bin/busybox"
  chmod 0755 "$root/bin/busybox"
  local applet
  while IFS= read -r applet; do
    [[ -z $applet || $applet == busybox ]] && continue
    ln -sf busybox "$root/bin/$applet"
  done < <("$busybox" --list)

  cat >"$root/etc/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
postgres:x:$PG_UID:$PG_GID:PostgreSQL administrator:/var/lib/postgresql:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat >"$root/etc/group" <<EOF
root:x:0:
postgres:x:$PG_GID:
nogroup:x:65534:
EOF
  cat >"$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
EOF
  # Host glibc binaries (PostgreSQL via the /usr bind mount) resolve users through NSS.
  cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
shadow: files
hosts: files
EOF
  : >"$root/etc/shadow"
  chmod 0640 "$root/etc/shadow"

  # PostgreSQL: the data mount point is owned by postgres so that a fresh named volume
  # mounted there inherits that ownership (Docker copies it on first mount).
  mkdir -p "$root/var/lib/postgresql/data" "$root/var/run/postgresql"
  chown -R "$PG_UID:$PG_GID" "$root/var/lib/postgresql" "$root/var/run/postgresql"
  chmod 0700 "$root/var/lib/postgresql/data"
  chmod 2775 "$root/var/run/postgresql"

  # No ownops-test=1 label on the image: containers inherit image labels, and that
  # label must only mark objects the tests created themselves.
  log "building $IMAGE from $busybox"
  if ! tar --numeric-owner -C "$root" -cf - . |
    docker import \
      --change "ENV PATH=$IMAGE_PATH" \
      --change 'CMD ["/bin/sh"]' \
      --change "LABEL org.ownops.test-image.rev=$IMAGE_REV" \
      --message 'ownops test image (busybox-static)' \
      - "$IMAGE" >/dev/null; then
    err "docker import of $IMAGE failed"
    exit 70
  fi
  rm -rf "$root"
  trap - EXIT
}

cmd_up() {
  ensure_engine
  if image_current; then
    :
  else
    local old_id=''
    if old_id=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null); then
      log "$IMAGE is out of date (want rev $IMAGE_REV); rebuilding"
    fi
    build_image
    # Drop the superseded image (fails harmlessly while a container still uses it).
    if [[ -n $old_id ]]; then docker image rm "$old_id" >/dev/null 2>&1 || true; fi
  fi
  log "docker ok: $(docker version --format '{{.Server.Version}}')"
  log "image $IMAGE: $(docker image inspect --format '{{.Id}}' "$IMAGE")"
}

# Names of containers / volumes with our prefix or our label.
our_containers() {
  {
    docker ps -a --filter "name=$PREFIX" --format '{{.Names}}' | grep "^$PREFIX" || true
    docker ps -a --filter "label=$LABEL" --format '{{.Names}}'
  } | sort -u
}
our_volumes() {
  {
    docker volume ls -q --filter "name=$PREFIX" | grep "^$PREFIX" || true
    docker volume ls -q --filter "label=$LABEL"
  } | sort -u
}

cmd_down() {
  if ! engine_answers; then
    log 'docker engine not reachable; nothing to clean up'
    return 0
  fi
  local -a containers volumes
  mapfile -t containers < <(our_containers)
  if ((${#containers[@]})); then
    docker rm -f -v "${containers[@]}" >/dev/null 2>&1 || true
  fi
  mapfile -t volumes < <(our_volumes)
  if ((${#volumes[@]})); then
    docker volume rm -f "${volumes[@]}" >/dev/null 2>&1 || true
  fi
  log "removed ${#containers[@]} container(s) and ${#volumes[@]} volume(s)"
  local left
  left=$( (our_containers; our_volumes) | wc -l)
  if ((left > 0)); then
    err "$left ownops-test object(s) could not be removed"
    return 1
  fi
}

cmd_status() {
  local rc=0
  if engine_answers; then
    log "engine: ok ($(docker version --format '{{.Server.Version}}'))"
    if docker image inspect "$IMAGE" >/dev/null 2>&1; then
      if image_current; then
        log "image: $IMAGE present"
      else
        log "image: $IMAGE present but out of date (run: scripts/test-env.sh up)"
        rc=1
      fi
    else
      log "image: $IMAGE missing (run: scripts/test-env.sh up)"
      rc=1
    fi
  else
    log "engine: not answering (DOCKER_HOST=${DOCKER_HOST:-<unset>})"
    log 'image: unknown'
    rc=1
  fi
  return "$rc"
}

# Debian packages behind the real components the tests use: the Docker engine, busybox
# for the test image, the PostgreSQL server run from the host's /usr inside containers,
# the MariaDB server run the same way, the sqlite3 / zstd command-line tools, and openssl
# (certificates for the HTTPS checks' tests), systemd's offline tools (systemd-analyze, systemctl
# --root, the environment.d generator that parses env files like EnvironmentFile=), cron's
# crontab command (the user-crontab tests), prometheus for promtool (the textfile and fleet-view tests),
# OpenSSH (DOCKER_HOST=ssh://: the tests run the host's sshd on a loopback port),
# rclone, restic and age (copies off the box, to loopback servers: rclone serve sftp/restic), and
# docker-registry: a registry on loopback for `restart --pull` (the pull of a newer image of the same tag),
# time: GNU time, for the peak memory in the benchmark table (bench/run.mjs, smoke-run by .ci/run),
# the shells the completion scripts are tested in (bash with bash-completion, zsh, fish), and
# groff and man-db, which render the man pages in their test, and qemu-user with the arm64 loader
# and C/C++ libraries, which run the arm64 single executable on an x64 machine (.ci/run).
readonly PACKAGES=(docker.io busybox-static postgresql mariadb-server sqlite3 zstd openssl systemd cron prometheus rclone restic age docker-registry openssh-client openssh-server time bash-completion zsh fish groff-base man-db qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross)

cmd_install() {
  local -a missing=()
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    log "packages: all present (${PACKAGES[*]})"
    return 0
  fi
  if [[ $(id -u) != 0 ]]; then
    err "missing packages: ${missing[*]}; run as root, or: sudo apt-get install -y ${missing[*]}"
    return 69
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "packages: installed ${missing[*]}"
}

main() {
  case "${1:-}" in
    install) cmd_install ;;
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *)
      echo "usage: $0 install|up|down|status" >&2
      exit 2
      ;;
  esac
}

main "$@"
