#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# SPDX-FileCopyrightText: Copyright © the litellmctl contributors
#
# Runs "$@" on a private D-Bus session bus with a real, unlocked
# gnome-keyring-daemon (Secret Service), in a throwaway HOME so the user's
# keyring is never touched. Exits 77 (skip) when the tools are missing.
set -eu

for tool in dbus-run-session gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "1..0 # SKIP $tool is not installed"
    exit 77
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lctl-keyring-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/home" "$tmp/data" "$tmp/config" "$tmp/runtime"
chmod 700 "$tmp/runtime"
export HOME="$tmp/home" XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" XDG_RUNTIME_DIR="$tmp/runtime"

status=0
dbus-run-session -- sh -c '
  # A password on stdin creates and unlocks the login keyring, the
  # default collection (an empty one would ask a GUI prompter).
  eval "$(printf "litellmctl-test" | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL
  "$@"
  rc=$?
  kill "$(pgrep -u "$(id -u)" -n gnome-keyring-d 2>/dev/null || echo 0)" 2>/dev/null || true
  exit $rc
' sh "$@" || status=$?
exit $status
