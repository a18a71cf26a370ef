#!/usr/bin/env bash
# Installs Ferry on a Debian-based gateway (docs/install.md).
#
#   sudo bash install.sh                 install or upgrade on this host
#   bash install.sh --root DIR           write everything under DIR, touch nothing else
#                                        (no apt, no useradd, no chown, no systemctl)
#   sudo bash install.sh --uninstall     remove what was installed; keep data and edits
#
# What it does, each step skipped when already done (a second run changes nothing):
#   - checks Node.js 20+ and npm; installs nftables and iproute2 with apt
#   - creates the `ferry` system user
#   - /opt/ferry: the built dist/, bin/, docs/, package.json, package-lock.json, and the
#     production dependencies only (npm ci --omit=dev --ignore-scripts); install/paths.json
#     makes the installed ferry default to /etc/ferry and /var/lib/ferry
#   - /etc/ferry: the rule files. A file the operator edited is never overwritten; the
#     new version goes beside it as FILE.dist. devices.yaml is installed with no device
#     (the example devices' demo passwords are public), gateway.yaml reads its payment
#     secret from /etc/ferry/payment.secret (a random placeholder, made once)
#   - /var/lib/ferry: the data directory (store, channel socket)
#   - systemd units ferry-netns, ferry-firewall, ferry-inner, ferry-outer, ferry.target;
#     a sysctl drop-in that switches IP forwarding off
# It does not start or enable anything: configure first (docs/install.md), then
#   systemctl enable --now ferry.target
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
CHANGED=0
WORK=""

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
at() { printf '%s%s' "$ROOT" "$1"; } # a host path, under --root when given
on_host() { [ -z "$ROOT" ]; }

parse_args() {
  while [ $# -gt 0 ]; do
    case $1 in
      --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
      --root=*) ROOT=${1#--root=}; shift ;;
      --uninstall) MODE=uninstall; shift ;;
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

# ---------------------------------------------------------------- checks

check_node() {
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
  [ -f "$SRC/dist/runtime/cli/main.js" ] && return
  say "dist/ is missing: building in $SRC (npm run build)"
  (cd "$SRC" && npm run build) || die "the build failed; run npm install (or npm ci) in $SRC first"
}

install_app() {
  local app
  app=$(at "$APP")
  put_dir "$app" 755
  for part in runtime devices sim; do
    [ -d "$SRC/dist/$part" ] || die "$SRC/dist/$part is missing: run npm run build in $SRC"
    put_dir "$app/dist/$part" 755
    sync_tree "$SRC/dist/$part" "$app/dist/$part"
  done
  # The commit for `ferry --version` (npm run build writes it; a tree built otherwise
  # reports "unknown").
  if [ -f "$SRC/dist/build-info.json" ]; then put_file "$SRC/dist/build-info.json" "$app/dist/build-info.json" 644; fi
  # Where an installed ferry looks when --rules / --data are not given
  # (runtime/common/default-paths.ts); a source checkout has no such file.
  put_dir "$app/install" 755
  printf '{"rules":"%s","data":"%s"}\n' "$ETC" "$DATA" > "$WORK/paths.json"
  put_file "$WORK/paths.json" "$app/install/paths.json" 644
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
  install_dependencies "$app"
  if [ "$(readlink "$(at "$BIN_LINK")" 2>/dev/null || true)" != "$APP/bin/ferry.js" ]; then
    mkdir -p "$(dirname "$(at "$BIN_LINK")")"
    ln -sfn "$APP/bin/ferry.js" "$(at "$BIN_LINK")"
    CHANGED=$((CHANGED + 1))
  fi
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
    (umask 027 && "$NODE" -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex") + "\n")' > "$file")
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

do_install() {
  check_root
  check_node
  install_packages
  create_user
  build_if_needed
  install_app
  install_rules
  install_data
  install_units
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
  if [ "$(readlink "$(at "$BIN_LINK")" 2>/dev/null || true)" = "$APP/bin/ferry.js" ]; then rm -f "$(at "$BIN_LINK")"; fi
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

main() {
  parse_args "$@"
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  if [ "$MODE" = uninstall ]; then do_uninstall; else do_install; fi
}

main "$@"
