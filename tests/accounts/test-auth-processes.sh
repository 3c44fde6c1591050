#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# SPDX-FileCopyrightText: Copyright © the litellmctl contributors
#
# The issue's acceptance across real processes: a private session bus with
# gnome-keyring and D-Bus activation of a stand-in daemon; the auth CLI as
# its own process; the mock OAuth servers as a third one.
#
#   test-auth-processes.sh BUILD_DIR_OF_TESTS_ACCOUNTS
set -eu

bin=$1
for tool in dbus-run-session dbus-daemon gnome-keyring-daemon secret-tool; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "1..0 # SKIP $tool is not installed"
    exit 77
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lctl-auth-XXXXXX")
mock_pid=
cleanup () {
  [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
mkdir -p "$tmp/home" "$tmp/data" "$tmp/config" "$tmp/runtime" "$tmp/services" "$tmp/bin"
chmod 700 "$tmp/runtime"
export HOME="$tmp/home" XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" XDG_RUNTIME_DIR="$tmp/runtime"
export GIO_USE_PROXY_RESOLVER=dummy GSETTINGS_BACKEND=memory NO_PROXY='*' LC_ALL=C.UTF-8
unset DISPLAY WAYLAND_DISPLAY LITELLMCTL_TOKEN_STORE || true

# The mock: the Qwen device code is approved on the second poll.
"$bin/lctl-mock-oauth-server" pending ok > "$tmp/mock.out" &
mock_pid=$!
i=0
while [ ! -s "$tmp/mock.out" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
base=$(head -n 1 "$tmp/mock.out")
[ -n "$base" ] || { echo "Bail out! mock did not start"; exit 1; }
export LITELLMCTL_QWEN_AUTH_BASE="$base" LITELLMCTL_TEST_TIME_SCALE=0.01

cat > "$tmp/services/io.github.litellmctl.service" <<SERVICE
[D-BUS Service]
Name=io.github.litellmctl
Exec=$bin/lctl-accounts-testd
SERVICE
cat > "$tmp/session.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=$tmp</listen>
  <servicedir>$tmp/services</servicedir>
  <standard_session_servicedirs/>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
# `litellmctl` for the export script's import step.
cat > "$tmp/bin/litellmctl" <<SHIM
#!/bin/sh
exec "$bin/lctl-auth-cli" "\$@"
SHIM
chmod +x "$tmp/bin/litellmctl"
export PATH="$tmp/bin:$PATH" TMPDIR_TEST="$tmp"

dbus-run-session --config-file="$tmp/session.conf" -- sh -eu -c '
  eval "$(printf litellmctl-test | gnome-keyring-daemon --unlock --components=secrets)"
  t=$TMPDIR_TEST
  n=0
  ok () { n=$((n + 1)); echo "ok $n - $1"; }
  fail () { n=$((n + 1)); echo "not ok $n - $1"; sed "s/^/# /" "$2"; exit 1; }
  echo "1..7"

  litellmctl auth qwen < /dev/null > $t/login.out 2>&1 || fail "auth qwen" $t/login.out
  grep -q "Your code: ABCD-1234" $t/login.out && grep -q "Logged in to Qwen Portal" $t/login.out \
    && ok "auth qwen finishes once the mock approves" || fail "auth qwen output" $t/login.out

  secret-tool search provider qwen_portal > $t/search.out 2>&1 || true
  grep -q "attribute.provider = qwen_portal" $t/search.out \
    && ok "secret-tool search provider qwen_portal finds the token" || fail "secret-tool" $t/search.out

  litellmctl auth status > $t/status.out 2>&1 || fail "auth status" $t/status.out
  grep -q "m remaining" $t/status.out && grep -q "Backend:    keyring" $t/status.out \
    && ok "auth status shows the expiry and the keyring" || fail "auth status output" $t/status.out

  litellmctl auth export qwen > $t/transfer.sh 2> $t/export.err || fail "auth export" $t/export.err
  grep -q "^#!/usr/bin/env bash" $t/transfer.sh && ok "auth export qwen prints a script" || fail "export" $t/transfer.sh

  litellmctl auth logout qwen > $t/logout.out 2>&1 || fail "auth logout" $t/logout.out
  secret-tool search provider qwen_portal > $t/search2.out 2>&1 || true
  grep -q "qwen_portal" $t/search2.out && fail "logout left the item" $t/search2.out || ok "auth logout deletes it"

  bash $t/transfer.sh > $t/import.out 2>&1 || fail "transfer script" $t/import.out
  grep -q "Imported 1 credential" $t/import.out && ok "the script imports through litellmctl" \
    || fail "import output" $t/import.out

  litellmctl auth status > $t/status2.out 2>&1 || fail "auth status" $t/status2.out
  grep -q "Provider:   Qwen Portal" $t/status2.out && ok "the imported login is back" \
    || fail "status after import" $t/status2.out
'
