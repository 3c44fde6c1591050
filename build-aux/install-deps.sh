#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# SPDX-FileCopyrightText: Copyright © the litellmctl contributors
#
# Installs what litellmctl needs to build, run and test on Debian 12 /
# Ubuntu 22.04 or later. Runs apt-get as root (through sudo when needed).
set -eu

packages="
  gcc meson ninja-build pkg-config gettext
  libglib2.0-dev libsoup-3.0-dev libjson-glib-dev libsecret-1-dev libyaml-dev
  glib-networking ca-certificates dbus dbus-daemon
"
# Tests: a real Secret Service, secret-tool, the format check, valgrind,
# and nginx + wrk for the benchmark smoke run.
test_packages="
  gnome-keyring libsecret-tools clang-format-14 valgrind nginx-light wrk
"

if [ "${1:-}" = "--tests" ]; then
  packages="$packages $test_packages"
fi

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=""
else
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
