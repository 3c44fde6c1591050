#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# SPDX-FileCopyrightText: Copyright © the litellmctl contributors
#
# Checks that every C file under src/, tests/ and bench/ is formatted as
# .clang-format says. With --fix, formats them in place.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
clang_format=${CLANG_FORMAT:-}
if [ -z "$clang_format" ]; then
  for c in clang-format-14 clang-format; do
    if command -v "$c" >/dev/null 2>&1; then clang_format=$c; break; fi
  done
fi
[ -n "$clang_format" ] || { echo "clang-format not found" >&2; exit 77; }
files=$(find src tests bench -name '*.[ch]' -not -path '*/node_modules/*' 2>/dev/null | sort)
if [ "${1:-}" = "--fix" ]; then
  exec $clang_format -i $files
fi
exec $clang_format --dry-run --Werror $files
