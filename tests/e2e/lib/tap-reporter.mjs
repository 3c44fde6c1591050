// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: Copyright © the litellmctl contributors
//
// node:test's TAP reporter, minus blank lines: an assertion message with an
// empty line ends meson's reading of the YAML diagnostic block, and every
// line after it becomes a TAP error that hides the real result (an expected
// failure shows as ERROR). TAP itself never needs a blank line.

import { tap } from 'node:test/reporters';

export default async function* reporter(source) {
  let pending = '';
  for await (const chunk of tap(source)) {
    pending += chunk;
    const end = pending.lastIndexOf('\n');
    if (end < 0) continue;
    const complete = pending.slice(0, end + 1);
    pending = pending.slice(end + 1);
    yield complete
      .split('\n')
      .filter((line, i, all) => line.trim() !== '' || i === all.length - 1)
      .join('\n');
  }
  if (pending.trim() !== '') yield pending;
}
