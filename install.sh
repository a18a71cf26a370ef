#!/usr/bin/env bash
# Installs Ferry on a Debian-based gateway (docs/install.md).
#
#   sudo bash install.sh --from ferry-VERSION-linux-ARCH.tar.gz
#                                        install or upgrade from a release tarball: no
#                                        network, no Node.js or npm on the host
#   sudo bash install.sh                 install or upgrade from this directory: an
#                                        unpacked release tarball, or a source tree
#   bash install.sh --root DIR           write everything under DIR, touch nothing else
#                                        (no apt, no useradd, no chown, no systemctl)
#   sudo bash install.sh --uninstall     remove what was installed; keep data and edits
#
# What it does, each step skipped when already done (a second run changes nothing):
#   - a release: checks that the Node.js it carries runs here. A source tree: checks
#     Node.js 20+ and npm. Installs nftables and iproute2 with apt when missing
#   - creates the `ferry` system user
#   - /opt/ferry: a release's app/ as it is (the compiled code, its Node.js in node/, the
#     production node_modules); from a source tree the built dist/, bin/, docs/,
#     package.json, package-lock.json, and the production dependencies only (npm ci
#     --omit=dev --ignore-scripts). install/paths.json makes the installed ferry default
#     to /etc/ferry and /var/lib/ferry
#   - /etc/ferry: the rule files. A file the operator edited is never overwritten; the
#     new version goes beside it as FILE.dist. devices.yaml is installed with no device
#     (the example devices' demo passwords are public), gateway.yaml reads its payment
#     secret from /etc/ferry/payment.secret (a random placeholder, made once)
#   - /var/lib/ferry: the data directory (store, channel socket)
#   - systemd units ferry-netns, ferry-firewall, ferry-inner, ferry-outer, ferry.target;
#     a sysctl drop-in that switches IP forwarding off
# A fresh install starts and enables nothing: configure first (docs/install.md), then
#   systemctl enable --now ferry.target
# An upgrade stops the sides that run, replaces the files, and starts them again.
set -euo pipefail
umask 022

readonly APP=/opt/ferry
readonly ETC=/etc/ferry
readonly DATA=/var/lib/ferry
readonly UNIT_DIR=/etc/systemd/system
readonly SYSCTL_FILE=/etc/sysctl.d/60-ferry.conf
readonly BIN_LINK=/usr/local/bin/ferry
readonly USER_NAME=ferry
readonly NODE_MAJOR_MIN=20
readonly UNITS=(ferry-netns.service ferry-firewall.service ferry-inner.service ferry-outer.service ferry.target)
# The record of the rule files as installed, to tell an operator's edit from an old
# version on the next upgrade or on --uninstall.
readonly CONF_MANIFEST=$APP/install/conffiles.sha256
# gateway.yaml keys whose example value is a public DEMO-ONLY string, and the file in
# /etc/ferry that holds the value instead (KEYFile: FILE), made once with a random value.
readonly SECRET_KEYS=(secret:payment.secret token:management.token adminToken:management-admin.token)

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=""
MODE=install
FROM=""
STAGE_DIR=""
# A release tarball has app/ (what goes to /opt/ferry, ready to run) and release.json;
# a source tree has neither.
RELEASE=0
[ -f "$SRC/release.json" ] && [ -d "$SRC/app" ] && RELEASE=1
# The Node.js the units and install.sh run: the release's own, or the host's.
BUNDLED_NODE=$APP/node/bin/node
RESTART_UNITS=()
CHANGED=0
WORK=""

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,31p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
at() { printf '%s%s' "$ROOT" "$1"; } # a host path, under --root when given
on_host() { [ -z "$ROOT" ]; }

parse_args() {
  while [ $# -gt 0 ]; do
    case $1 in
      --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
      --root=*) ROOT=${1#--root=}; shift ;;
      --uninstall) MODE=uninstall; shift ;;
      --from) [ $# -ge 2 ] || die "--from needs a release tarball (ferry-VERSION-linux-ARCH.tar.gz)"; FROM=$2; shift 2 ;;
      --from=*) FROM=${1#--from=}; shift ;;
      # For npm run release: the rule files a fresh installation gets, into DIR (the
      # .deb ships them as conffiles); prints the secret files gateway.yaml then reads.
      --stage-rules) [ $# -ge 2 ] || die "--stage-rules needs a directory"; MODE=stage-rules; STAGE_DIR=$2; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
  done
  if [ -n "$ROOT" ]; then
    mkdir -p "$ROOT"
    ROOT=$(cd "$ROOT" && pwd)
    [ "$ROOT" != / ] || ROOT=""
  fi
}

# ---------------------------------------------------------------- file helpers

sha() { sha256sum "$1" | cut -d' ' -f1; }

# Copies SRC to DEST with MODE unless DEST already has that content (then only the
# mode is fixed): unchanged files keep their mtime. The rename makes the switch atomic.
put_file() {
  local src=$1 dest=$2 mode=$3
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    [ "$(stat -c %a "$dest")" = "$mode" ] || chmod "$mode" "$dest"
    return 0
  fi
  mkdir -p "$(dirname "$dest")"
  install -m "$mode" "$src" "$dest.ferry-new"
  mv -f "$dest.ferry-new" "$dest"
  CHANGED=$((CHANGED + 1))
}

put_dir() {
  local dir=$1 mode=$2
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    CHANGED=$((CHANGED + 1))
  fi
  [ "$(stat -c %a "$dir")" = "$mode" ] || chmod "$mode" "$dir"
}

# Makes DEST a copy of the tree SRC: changed files replaced, stale ones removed.
sync_tree() {
  local src=$1 dest=$2 mode f
  while IFS= read -r -d '' f; do
    mode=644
    [ -x "$src/$f" ] && mode=755
    put_file "$src/$f" "$dest/$f" "$mode"
  done < <(cd "$src" && find . -type f -print0 | sort -z)
  while IFS= read -r -d '' f; do
    if [ ! -e "$src/$f" ]; then rm -f "$dest/$f"; CHANGED=$((CHANGED + 1)); fi
  done < <(cd "$dest" && find . -type f -print0)
  find "$dest" -mindepth 1 -type d -empty -delete
}

# Makes DEST a copy of the tree SRC when it is not one already (contents, links and the
# executable bits compared), by copying beside it and swapping the two.
replace_tree() {
  local src=$1 dest=$2
  if [ -d "$dest" ] && diff -rq --no-dereference "$src" "$dest" >/dev/null 2>&1 && same_modes "$src" "$dest"; then return 0; fi
  rm -rf "$dest.ferry-new" "$dest.ferry-old"
  mkdir -p "$(dirname "$dest")"
  if [ -n "${FERRY_UNPACKED_ARCHIVE:-}" ]; then
    mv "$src" "$dest.ferry-new" # a tarball unpacked by --from, thrown away afterwards
  else
    cp -R --preserve=mode,timestamps,links "$src" "$dest.ferry-new"
  fi
  [ ! -e "$dest" ] || mv "$dest" "$dest.ferry-old"
  mv "$dest.ferry-new" "$dest"
  rm -rf "$dest.ferry-old"
  CHANGED=$((CHANGED + 1))
}

same_modes() {
  cmp -s <(cd "$1" && find . -printf '%p %m\n' | sort) <(cd "$2" && find . -printf '%p %m\n' | sort)
}

# ---------------------------------------------------------------- checks

check_node() {
  if [ "$RELEASE" -eq 1 ]; then check_bundled_node; return; fi
  NODE=$(command -v node || true)
  [ -n "$NODE" ] || die "Node.js ${NODE_MAJOR_MIN} or later is required, and no 'node' is on PATH.
  Install it system-wide first, e.g. Debian 13: apt-get install nodejs npm;
  older Debian: the NodeSource packages (https://github.com/nodesource/distributions). Then run install.sh again."
  local major
  major=$("$NODE" -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge "$NODE_MAJOR_MIN" ] || die "Node.js ${NODE_MAJOR_MIN} or later is required; $NODE is $("$NODE" --version).
  Install a newer Node.js system-wide and run install.sh again."
  command -v npm >/dev/null || die "npm is required to install the production dependencies (Debian: apt-get install npm)"
  case $NODE in
    /home/*|/root/*) die "node is at $NODE, in a home directory; the units run with ProtectHome=yes and cannot reach it. Install Node.js system-wide (/usr/bin or /usr/local/bin)." ;;
  esac
}

# A release runs on its own Node.js; this checks that it runs on this machine (the
# architecture, the C library) before anything is installed.
check_bundled_node() {
  local arch want version
  want=$(release_field arch)
  case $(uname -m) in x86_64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  if [ "$arch" != "$want" ]; then
    if on_host; then die "this release is for linux-$want, and this machine is $(uname -m): use the ferry-$(release_field version)-linux-$arch artifact"; fi
    say "--root: a linux-$want release on a $(uname -m) machine; its Node.js is not run here"
    NODE=$BUNDLED_NODE
    return
  fi
  version=$("$SRC/app/node/bin/node" --version 2>&1) || die "the Node.js this release carries does not run on this machine: $version"
  NODE=$BUNDLED_NODE
}

release_field() {
  sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" "$SRC/release.json" | head -1
}

check_root() {
  if on_host && [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo bash install.sh), or give --root DIR to write under DIR only"
  fi
}

# ---------------------------------------------------------------- install steps

install_packages() {
  if ! on_host; then say "--root: apt skipped (nftables, iproute2)"; return; fi
  if dpkg -s nftables iproute2 >/dev/null 2>&1; then return; fi
  command -v apt-get >/dev/null || die "apt-get not found: install nftables and iproute2 by hand, then run install.sh again"
  say "installing nftables and iproute2 with apt"
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nftables iproute2
}

create_user() {
  if ! on_host; then return; fi
  getent passwd "$USER_NAME" >/dev/null && return
  say "creating system user $USER_NAME"
  useradd --system --user-group --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
}

build_if_needed() {
  [ "$RELEASE" -eq 1 ] && return
  [ -f "$SRC/dist/runtime/cli/main.js" ] && return
  say "dist/ is missing: building in $SRC (npm run build)"
  (cd "$SRC" && npm run build) || die "the build failed; run npm install (or npm ci) in $SRC first"
}

install_app() {
  local app
  app=$(at "$APP")
  put_dir "$app" 755
  if [ "$RELEASE" -eq 1 ]; then install_release_app "$app"; else install_source_app "$app"; fi
  put_dir "$app/install" 755
  printf '{"rules":"%s","data":"%s"}\n' "$ETC" "$DATA" > "$WORK/paths.json"
  put_file "$WORK/paths.json" "$app/install/paths.json" 644
  local target=$APP/bin/ferry.js
  [ "$RELEASE" -eq 1 ] && target=$APP/bin/ferry
  if [ "$(readlink "$(at "$BIN_LINK")" 2>/dev/null || true)" != "$target" ]; then
    mkdir -p "$(dirname "$(at "$BIN_LINK")")"
    ln -sfn "$target" "$(at "$BIN_LINK")"
    CHANGED=$((CHANGED + 1))
  fi
}

# A release's app/ goes in as it is. Each part that differs is replaced whole (node_modules
# has thousands of files; one comparison is quicker than one per file).
install_release_app() {
  local app=$1 part
  for part in bin node dist node_modules docs deploy; do
    [ -d "$SRC/app/$part" ] || die "$SRC/app/$part is missing: the release tarball is incomplete"
    replace_tree "$SRC/app/$part" "$app/$part"
  done
  put_file "$SRC/app/package.json" "$app/package.json" 644
  put_file "$SRC/app/release.json" "$app/release.json" 644
  # Left by an install from a source tree: npm's stamp and lock file.
  [ ! -e "$app/package-lock.json" ] || { rm -f "$app/package-lock.json"; CHANGED=$((CHANGED + 1)); }
}

install_source_app() {
  local app=$1
  for part in runtime devices sim; do
    [ -d "$SRC/dist/$part" ] || die "$SRC/dist/$part is missing: run npm run build in $SRC"
    put_dir "$app/dist/$part" 755
    sync_tree "$SRC/dist/$part" "$app/dist/$part"
  done
  # The commit for `ferry --version` (npm run build writes it; a tree built otherwise
  # reports "unknown").
  if [ -f "$SRC/dist/build-info.json" ]; then put_file "$SRC/dist/build-info.json" "$app/dist/build-info.json" 644; fi
  put_dir "$app/bin" 755
  sync_tree "$SRC/bin" "$app/bin"
  put_dir "$app/docs" 755
  sync_tree "$SRC/docs" "$app/docs"
  # For a box of an active/standby pair: keepalived's example file and check script
  # (docs/ha.md). Nothing runs them unless the operator sets keepalived up.
  put_dir "$app/deploy/keepalived" 755
  sync_tree "$SRC/deploy/keepalived" "$app/deploy/keepalived"
  put_file "$SRC/package.json" "$app/package.json" 644
  put_file "$SRC/package-lock.json" "$app/package-lock.json" 644
  # Left by an install from a release: its own Node.js and release record.
  [ ! -e "$app/node" ] || { rm -rf "$app/node"; CHANGED=$((CHANGED + 1)); }
  [ ! -e "$app/release.json" ] || { rm -f "$app/release.json"; CHANGED=$((CHANGED + 1)); }
  install_dependencies "$app"
}

# npm ci replaces node_modules whole; run it only when the lock file changed.
install_dependencies() {
  local app=$1 stamp sum
  stamp="$app/node_modules/.ferry-installed"
  sum=$(cat "$app/package.json" "$app/package-lock.json" | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then return; fi
  say "installing production dependencies in $app (npm ci --omit=dev --ignore-scripts)"
  (cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
  printf '%s\n' "$sum" > "$stamp"
  CHANGED=$((CHANGED + 1))
}

# The rule files as a fresh installation gets them, in $WORK/rules.
stage_rules() {
  mkdir -p "$WORK/rules"
  local f
  for f in "$SRC"/rules/*.yaml; do cp "$f" "$WORK/rules/"; done
  # devices.yaml: its instructions, and no device at all.
  {
    sed -n '/^devices:/q; /!!!/d; p' "$SRC/rules/devices.yaml"
    printf '%s\n' \
      '# A fresh installation has no device: nothing can log in until you add one, e.g.' \
      '#   ferry devices add kiosk-01 --role kiosk --rules /etc/ferry   (prints its password)' \
      '#   systemctl reload ferry-inner' \
      'devices: []'
  } > "$WORK/rules/devices.yaml"
  # gateway.yaml: each public demo secret is replaced by a file of its own.
  local pair key file
  for pair in "${SECRET_KEYS[@]}"; do
    key=${pair%%:*} file=${pair#*:}
    sed -i "s|^\\( *\\)$key: DEMO-ONLY.*\$|\\1${key}File: $file   # $ETC/$file (a random placeholder made by install.sh)|" "$WORK/rules/gateway.yaml"
  done
  sed -i '/!!!/d' "$WORK/rules/gateway.yaml"
  if grep -q 'DEMO-ONLY' "$WORK/rules/gateway.yaml"; then
    die "rules/gateway.yaml has a DEMO-ONLY value that install.sh does not know how to replace (add it to SECRET_KEYS)"
  fi
  cp "$SRC/deploy/etc/netns.env" "$WORK/rules/netns.env"
}

# One rule file into /etc/ferry. NEW_MANIFEST gets the hash of what we ship, so that
# next time an unedited file can be upgraded and an edited one kept.
install_conffile() {
  local name=$1 src=$2 mode=$3 dest recorded
  dest=$(at "$ETC/$name")
  recorded=$(awk -v n="$name" '$2 == n { print $1 }' "$WORK/old-manifest")
  if [ ! -e "$dest" ] || { [ -n "$recorded" ] && [ "$(sha "$dest")" = "$recorded" ]; }; then
    put_file "$src" "$dest" "$mode" # new, or the old version as we left it
  elif ! cmp -s "$src" "$dest"; then
    put_file "$src" "$dest.dist" "$mode"
    say "kept your $ETC/$name; the new version is beside it: $ETC/$name.dist"
  fi
  if cmp -s "$src" "$dest" && [ -e "$dest.dist" ]; then rm -f "$dest.dist"; CHANGED=$((CHANGED + 1)); fi
  if on_host; then chgrp "$USER_NAME" "$dest"; fi
  printf '%s  %s\n' "$(sha "$src")" "$name" >> "$WORK/new-manifest"
}

# A secret gateway.yaml reads from a file: a random placeholder, made once and never
# replaced. The manifest keeps the placeholder's hash, so that --uninstall removes it
# only while nobody has put a real secret in it.
install_secret() {
  local name=$1 file
  file=$(at "$ETC/$name")
  if [ ! -e "$file" ]; then
    (umask 027 && { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; echo; } > "$file")
    CHANGED=$((CHANGED + 1))
    say "made a random placeholder $ETC/$name; replace it with the real secret (docs/install.md)"
  fi
  if on_host; then chgrp "$USER_NAME" "$file"; fi
  if grep -q "  $name\$" "$WORK/old-manifest"; then
    grep "  $name\$" "$WORK/old-manifest" >> "$WORK/new-manifest"
  else
    printf '%s  %s\n' "$(sha "$file")" "$name" >> "$WORK/new-manifest"
  fi
}

install_rules() {
  local etc f
  etc=$(at "$ETC")
  put_dir "$etc" 750
  put_dir "$etc/tls" 750
  if on_host; then chgrp "$USER_NAME" "$etc" "$etc/tls"; fi
  cp "$(at "$CONF_MANIFEST")" "$WORK/old-manifest" 2>/dev/null || : > "$WORK/old-manifest"
  : > "$WORK/new-manifest"
  stage_rules
  for f in "$WORK"/rules/*; do install_conffile "$(basename "$f")" "$f" 640; done
  local pair
  for pair in "${SECRET_KEYS[@]}"; do
    if grep -q "File: ${pair#*:} " "$WORK/rules/gateway.yaml"; then install_secret "${pair#*:}"; fi
  done
  put_file "$WORK/new-manifest" "$(at "$CONF_MANIFEST")" 644
}

install_data() {
  # store/ exists before the first start, so that ferry-outer can hide it.
  put_dir "$(at "$DATA")" 750
  put_dir "$(at "$DATA/store")" 750
  if on_host; then chown "$USER_NAME:$USER_NAME" "$(at "$DATA")" "$(at "$DATA/store")"; fi
  return 0
}

install_units() {
  local unit src units_before=$CHANGED
  put_dir "$(at "$UNIT_DIR")" 755
  for unit in "${UNITS[@]}"; do
    src="$SRC/deploy/systemd/$unit"
    if [ -f "$src.in" ]; then
      sed "s|@NODE@|$NODE|g" "$src.in" > "$WORK/$unit"
      src="$WORK/$unit"
    fi
    put_file "$src" "$(at "$UNIT_DIR/$unit")" 644
  done
  put_dir "$(dirname "$(at "$SYSCTL_FILE")")" 755
  put_file "$SRC/deploy/sysctl/60-ferry.conf" "$(at "$SYSCTL_FILE")" 644
  if on_host; then
    sysctl -q -p "$SYSCTL_FILE" >/dev/null 2>&1 || say "warning: could not apply $SYSCTL_FILE now (it applies at boot)"
    if [ "$CHANGED" -ne "$units_before" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
  fi
}

# An upgrade on a running host: the sides stop before their files are replaced (a side
# must not load part of one release and part of another) and start again afterwards.
stop_running_sides() {
  on_host && [ -d /run/systemd/system ] || return 0
  local unit
  for unit in ferry-inner.service ferry-outer.service; do
    if systemctl is-active --quiet "$unit"; then RESTART_UNITS+=("$unit"); fi
  done
  [ "${#RESTART_UNITS[@]}" -gt 0 ] || return 0
  say "stopping ${RESTART_UNITS[*]} for the upgrade"
  systemctl stop ferry-outer.service ferry-inner.service
}

# Whether installing replaces code that may be running.
app_differs() {
  local app
  app=$(at "$APP")
  [ -d "$app/dist" ] || return 1 # a fresh install: nothing runs yet
  if [ "$RELEASE" -eq 1 ]; then
    ! cmp -s "$SRC/app/release.json" "$app/release.json" || ! diff -rq "$SRC/app/dist" "$app/dist" >/dev/null 2>&1
  else
    ! diff -rq "$SRC/dist/runtime" "$app/dist/runtime" >/dev/null 2>&1
  fi
}

restart_stopped_sides() {
  [ "${#RESTART_UNITS[@]}" -gt 0 ] || return 0
  systemctl try-restart ferry-firewall.service
  systemctl start "${RESTART_UNITS[@]}"
  say "started ${RESTART_UNITS[*]} again"
}

do_install() {
  check_root
  check_node
  install_packages
  create_user
  build_if_needed
  if app_differs; then stop_running_sides; fi
  install_app
  install_rules
  install_data
  install_units
  restart_stopped_sides
  if [ "$CHANGED" -eq 0 ]; then say "already installed; nothing changed"; return; fi
  say "installed ($CHANGED changes)${ROOT:+ under $ROOT}. Next steps (docs/install.md):"
  cat <<EOF
  1. NICs and namespaces: $ETC/netns.env, and interfaces in $ETC/firewall.yaml
  2. the payment server: payment.url in $ETC/gateway.yaml, the key in $ETC/payment.secret
  3. devices: ferry devices add ID --role ROLE --rules $ETC
  4. check:   ferry rules check $ETC  and  ferry firewall plan --rules $ETC
  5. start:   systemctl enable --now ferry.target
EOF
}

# ---------------------------------------------------------------- uninstall

do_uninstall() {
  check_root
  local unit etc name sum kept=0 note=
  if on_host && [ -d /run/systemd/system ]; then
    systemctl disable --now "${UNITS[@]}" 2>/dev/null || true
  fi
  for unit in "${UNITS[@]}"; do rm -f "$(at "$UNIT_DIR/$unit")"; done
  rm -f "$(at "$SYSCTL_FILE")"
  case $(readlink "$(at "$BIN_LINK")" 2>/dev/null || true) in
    "$APP/bin/ferry.js"|"$APP/bin/ferry") rm -f "$(at "$BIN_LINK")" ;;
  esac
  etc=$(at "$ETC")
  if [ -f "$(at "$CONF_MANIFEST")" ]; then
    while read -r sum name; do
      [ -n "$name" ] || continue
      rm -f "$etc/$name.dist"
      if [ -f "$etc/$name" ] && [ "$(sha "$etc/$name")" = "$sum" ]; then
        rm -f "$etc/$name"
      elif [ -e "$etc/$name" ]; then
        kept=$((kept + 1))
      fi
    done < "$(at "$CONF_MANIFEST")"
  fi
  rmdir "$etc/tls" 2>/dev/null || true
  rmdir "$etc" 2>/dev/null || true
  rm -rf "$(at "$APP")"
  if on_host && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
  if [ "$kept" -gt 0 ]; then note=", $kept edited file(s) in $ETC"; fi
  say "uninstalled${ROOT:+ from $ROOT}. Kept: $DATA (the store and audit log)$note, and the $USER_NAME user that owns the data."
}

# --from: unpack the tarball and run the install.sh it carries, which knows its release.
install_from() {
  local archive=$1 top
  shift
  [ -f "$archive" ] || die "--from $archive: no such file"
  top=$(tar -tzf "$archive" 2>/dev/null | head -1 | cut -d/ -f1) || true
  [ -n "$top" ] || die "--from $archive: not a gzip tarball (expected ferry-VERSION-linux-ARCH.tar.gz)"
  tar -xzf "$archive" -C "$WORK" || die "--from $archive: could not unpack it"
  [ -f "$WORK/$top/install.sh" ] && [ -f "$WORK/$top/release.json" ] || die "--from $archive: not a Ferry release (no install.sh and release.json at its top)"
  say "installing $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$WORK/$top/release.json" | head -1) from $archive"
  FERRY_UNPACKED_ARCHIVE=1 bash "$WORK/$top/install.sh" "$@"
}

# The args without --from and its value, for the unpacked install.sh.
without_from() {
  local out=() skip=0 a
  for a in "$@"; do
    if [ "$skip" -eq 1 ]; then skip=0; continue; fi
    case $a in --from) skip=1 ;; --from=*) ;; *) out+=("$a") ;; esac
  done
  printf '%s\0' "${out[@]}"
}

do_stage_rules() {
  stage_rules
  mkdir -p "$STAGE_DIR"
  cp "$WORK"/rules/* "$STAGE_DIR/"
  local pair
  for pair in "${SECRET_KEYS[@]}"; do
    if grep -q "File: ${pair#*:} " "$WORK/rules/gateway.yaml"; then printf '%s\n' "${pair#*:}"; fi
  done
}

main() {
  parse_args "$@"
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  if [ -n "$FROM" ]; then
    local rest=()
    mapfile -d '' rest < <(without_from "$@")
    install_from "$FROM" "${rest[@]}"
    return
  fi
  case $MODE in
    uninstall) do_uninstall ;;
    stage-rules) do_stage_rules ;;
    *) do_install ;;
  esac
}

main "$@"
