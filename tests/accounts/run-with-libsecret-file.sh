#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# SPDX-FileCopyrightText: Copyright © the litellmctl contributors
#
# Runs "$@" with libsecret's own file backend (SECRET_BACKEND=file, an
# encrypted keyring file in a throwaway directory) instead of a Secret
# Service, on a private session bus for our D-Bus service. Exits 77 (skip)
# when dbus-run-session is missing.
set -eu

if ! command -v dbus-run-session >/dev/null 2>&1; then
  echo "1..0 # SKIP dbus-run-session is not installed"
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lctl-libsecret-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
export SECRET_BACKEND=file
export SECRET_FILE_TEST_PATH="$tmp/test.keyring"
export SECRET_FILE_TEST_PASSWORD=litellmctl-test
# libsecret's file backend leaks a few strings inside GIO callbacks (no
# frame of ours); the same code of ours is leak-checked in the keyring run.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
# No Secret Service answers on this bus: ask for the libsecret store.
export LITELLMCTL_TOKEN_STORE=keyring

status=0
dbus-run-session -- "$@" || status=$?
exit $status
