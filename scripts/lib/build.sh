# shellcheck shell=bash
# Build helpers shared by scripts/install, scripts/push and scripts/upgrade.
# Needs lib/common.sh. All functions talk to the engine that DOCKER_HOST names.
#
# Environment read here:
#   BASE_IMAGE          image for the Dockerfile's stages; default: the Dockerfile's
#                       own default if present or pullable, else built by scripts/base-image
#   DVS_BUILD_CONTEXT   build context holding Dockerfile, package*.json, tsconfig.json,
#                       scripts/build-native,
#                       src/ (default: the repository root)
#   DVS_IMAGE           tag of the built image (default docker-volume-sftp:dev)
#   DVS_ENGINE_ROOT     where the engine's own / is on this machine, for an engine
#                       chrooted in a Debian root (scripts/engine with ENGINE_DEBIAN):
#                       the plugin's data source and socket are paths inside it
#                       (default: empty, the engine sees this machine's /)
#   NPM_EXTRA_CA_FILE   PEM bundle whose certificates npm inside the build must also
#                       trust; default: $NODE_EXTRA_CA_CERTS when set (TLS-intercepting
#                       egress proxies); only certificates unknown to Node are passed.

# The default BASE_IMAGE written in the Dockerfile (single source of truth).
dvs_dockerfile_default_base() {
  sed -n 's/^ARG BASE_IMAGE=\(.*\)$/\1/p' "${DVS_BUILD_CONTEXT:-$DVS_REPO_ROOT}/Dockerfile" | head -n1
}

# Print the base image to build on, making sure it is in the engine.
dvs_resolve_base_image() {
  local want=${BASE_IMAGE:-}
  if [[ -n $want ]]; then
    docker image inspect "$want" >/dev/null 2>&1 || timeout 300 docker pull "$want" >&2 ||
      die "BASE_IMAGE=${want} is neither present nor pullable"
    echo "$want"
    return
  fi
  want=$(dvs_dockerfile_default_base)
  [[ -n $want ]] || die "no 'ARG BASE_IMAGE=' default in the Dockerfile"
  if docker image inspect "$want" >/dev/null 2>&1; then
    echo "$want"
    return
  fi
  log "pulling ${want}"
  if timeout 300 docker pull "$want" >/dev/null 2>&1; then
    echo "$want"
    return
  fi
  log "${want} cannot be pulled (no registry reachable?); building a local stand-in with scripts/base-image"
  "${DVS_SCRIPTS}/base-image" node
}

# Certificates from $1 that Node does not already trust, as PEM on stdout.
dvs_extra_ca_pem() {
  node -e '
    const fs = require("fs"), tls = require("tls");
    const norm = (s) => s.replace(/\s+/g, "");
    const known = new Set(tls.rootCertificates.map(norm));
    const all = fs.readFileSync(process.argv[1], "utf8")
      .match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) || [];
    const extra = all.filter((c) => !known.has(norm(c)));
    if (extra.length) process.stdout.write(extra.join("\n") + "\n");
  ' "$1"
}

# dvs_build_image: docker build the Dockerfile; prints the image tag.
dvs_build_image() {
  local ctx=${DVS_BUILD_CONTEXT:-$DVS_REPO_ROOT} tag=${DVS_IMAGE:-docker-volume-sftp:dev} base
  local -a args=(build --network host --force-rm -f "${ctx}/Dockerfile" -t "$tag")
  [[ -f ${ctx}/Dockerfile && -d ${ctx}/src && -f ${ctx}/package-lock.json ]] ||
    die "build context ${ctx} lacks Dockerfile, src/ or package-lock.json"
  # (a command substitution does not stop on errors by itself)
  base=$(dvs_resolve_base_image) || die "no base image to build on"
  [[ -n $base ]] || die "no base image to build on"
  [[ $base == "$(dvs_dockerfile_default_base)" ]] || args+=(--build-arg "BASE_IMAGE=${base}")
  local ca_file=${NPM_EXTRA_CA_FILE:-${NODE_EXTRA_CA_CERTS:-}} ca=""
  # dvs_extra_ca_pem asks Node which certificates it knows: a host without node of its own
  # (a fresh Debian 13) uses scripts/node-release's.
  if [[ -n $ca_file && -r $ca_file ]] && ! command -v node >/dev/null; then
    PATH="$("${DVS_SCRIPTS}/node-release")/bin:${PATH}"
  fi
  if [[ -n $ca_file && -r $ca_file ]] && command -v node >/dev/null; then
    ca=$(dvs_extra_ca_pem "$ca_file")
    if [[ -n $ca ]]; then
      log "passing $(grep -c 'BEGIN CERT' <<<"$ca") extra CA certificate(s) from ${ca_file} to npm in the build"
      args+=(--build-arg "NPM_EXTRA_CA=${ca}")
    fi
  fi
  log "docker build (base ${base}, context ${ctx}) -> ${tag}"
  local t0=$SECONDS
  # Classic builder: Debian's engine has no BuildKit here and the CLI no buildx.
  DOCKER_BUILDKIT=0 docker "${args[@]}" "$ctx" >&2 || die "docker build failed"
  log "image built in $((SECONDS - t0)) s"
  echo "$tag"
}

# dvs_make_plugin_dir IMAGE DIR: DIR/config.json + DIR/rootfs from IMAGE.
dvs_make_plugin_dir() {
  local image=$1 out=$2 cid
  rm -rf -- "$out"
  mkdir -p "${out}/rootfs"
  cid=$(docker create "$image")
  if ! docker export "$cid" | tar -x --numeric-owner -C "${out}/rootfs"; then
    docker rm -f "$cid" >/dev/null 2>&1 || true
    die "docker export of ${image} failed"
  fi
  docker rm -f "$cid" >/dev/null
  cp "${DVS_BUILD_CONTEXT:-$DVS_REPO_ROOT}/config.json" "${out}/config.json"
  [[ -x ${out}/rootfs/usr/bin/sshfs ]] || die "rootfs lacks /usr/bin/sshfs"
  [[ -f ${out}/rootfs/app/dist/main.js ]] || die "rootfs lacks /app/dist/main.js"
  [[ -d ${out}/rootfs/run/docker/plugins ]] || die "rootfs lacks /run/docker/plugins"
}

# dvs_plugin_exists NAME
dvs_plugin_exists() {
  docker plugin inspect "$1" >/dev/null 2>&1
}

# dvs_plugin_remove NAME: disable (forced) and remove a plugin if it exists.
# Volumes created with it stay in the engine and are served again by a plugin
# re-created under the same name.
dvs_plugin_remove() {
  local name=$1
  dvs_plugin_exists "$name" || return 0
  if [[ $(docker plugin inspect -f '{{.Enabled}}' "$name") == true ]]; then
    log "disabling existing plugin ${name}"
    docker plugin disable -f "$name" >/dev/null
  fi
  log "removing existing plugin ${name}"
  docker plugin rm -f "$name" >/dev/null
}

# dvs_data_source NAME: host directory of the plugin's "data" mount.
dvs_data_source() {
  docker plugin inspect -f '{{range .Settings.Mounts}}{{if eq .Name "data"}}{{.Source}}{{end}}{{end}}' "$1"
}

# dvs_prepare_data_dir DIR: the bind-mount source must exist before enable
# (runc fails with "stat ...: no such file or directory" otherwise). It holds
# state, local volume data and keys: created 0700; existing modes are kept.
dvs_prepare_data_dir() {
  local dir="${DVS_ENGINE_ROOT:-}$1"
  [[ -d $dir ]] || install -d -m 0700 "$dir"
  [[ -d $dir/keys ]] || install -d -m 0700 "$dir/keys"
}

# dvs_plugin_socket NAME: host path of the plugin's socket (local engines only).
dvs_plugin_socket() {
  local id sock
  id=$(docker plugin inspect -f '{{.Id}}' "$1")
  sock=$(docker plugin inspect -f '{{.Config.Interface.Socket}}' "$1")
  # moby: plugin exec root is fixed to /run/docker/plugins on Linux.
  echo "${DVS_ENGINE_ROOT:-}/run/docker/plugins/${id}/${sock}"
}

# dvs_check_plugin NAME: the plugin's socket answers Plugin.Activate and the
# engine can list its volumes.
dvs_check_plugin() {
  local name=$1 sock
  sock=$(dvs_plugin_socket "$name")
  if [[ -S $sock ]] && command -v curl >/dev/null; then
    local reply
    # Relative to its directory: below a chrooted engine's root the full path can pass
    # the 108-byte limit of socket paths.
    reply=$(cd "$(dirname "$sock")" && curl -fsS --max-time 10 --unix-socket "./$(basename "$sock")" -X POST http://plugin/Plugin.Activate) ||
      die "plugin ${name}: no answer on ${sock}"
    grep -q VolumeDriver <<<"$reply" || die "plugin ${name}: unexpected Plugin.Activate reply: ${reply}"
    log "plugin ${name}: socket ${sock} answers ${reply}"
  fi
  docker volume ls -f "driver=${name}" >/dev/null || die "plugin ${name}: docker volume ls failed"
}
