// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: Copyright © the litellmctl contributors
//
// Acceptance: real Claude Code (pinned in claude-code/package-lock.json,
// installed into the build directory) in print mode, pointed at the proxy
// with ANTHROPIC_BASE_URL, completes a turn with a tool call. The mock
// upstream answers the first request with a Read tool call on a temporary
// file and the second, which carries the tool result, with text. Everything
// stays on 127.0.0.1: telemetry, updates and other non-essential traffic
// are switched off.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { MASTER_KEY, allHeaderValues, ensureNpmPackages, renderConfig, startDaemon, startWatchdog } from './lib/harness.mjs';
import { startMock } from './lib/mock-upstream.mjs';

const SECRET = 'The secret word is PAPAYA.';
const CALL_ID = { openai: 'call_ccRead01', anthropic: 'toolu_01CcReadAbcdef' };

let claude;
let work;

// The wrapper package's postinstall replaces bin/claude.exe by the native
// binary of the platform package; without it, use that binary directly.
function findClaude(dir, home) {
  const platform = `${process.platform}-${process.arch}`;
  const candidates = [
    path.join(dir, 'node_modules', '.bin', 'claude'),
    path.join(dir, 'node_modules', '@anthropic-ai', `claude-code-${platform}`, 'claude'),
    path.join(dir, 'node_modules', '@anthropic-ai', `claude-code-${platform}-musl`, 'claude'),
  ];
  for (const c of candidates) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH, HOME: home } });
    if (r.status === 0 && /Claude Code/.test(r.stdout)) return { path: c, version: r.stdout.trim() };
  }
  throw new Error(`no runnable Claude Code binary among ${candidates.join(', ')}`);
}

before(async () => {
  const dir = await ensureNpmPackages('claude-code');
  startWatchdog();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'litellmctl-e2e-cc-'));
  fs.mkdirSync(path.join(work, 'home-version'));
  claude = findClaude(dir, path.join(work, 'home-version'));
  fs.mkdirSync(path.join(work, 'project'));
  fs.writeFileSync(path.join(work, 'project', 'note.txt'), `${SECRET}\n`);
});

after(() => {
  if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
});

async function runClaude(daemonUrl, prompt, model, name, { smallModel = 'cc-small' } = {}) {
  const home = path.join(work, `home-${name}`);
  fs.mkdirSync(home);
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    TMPDIR: os.tmpdir(),
    ANTHROPIC_BASE_URL: daemonUrl,
    ANTHROPIC_API_KEY: MASTER_KEY,
    ...(smallModel ? { ANTHROPIC_SMALL_FAST_MODEL: smallModel, ANTHROPIC_DEFAULT_HAIKU_MODEL: smallModel } : {}),
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_ERROR_REPORTING: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    // Fail fast instead of Claude Code's minutes of retries.
    CLAUDE_CODE_MAX_RETRIES: '1',
    API_TIMEOUT_MS: '20000',
    NO_PROXY: '*',
  };
  const child = spawn(claude.path, ['-p', prompt, '--model', model, '--allowedTools', 'Read', '--output-format', 'json'], {
    cwd: path.join(work, 'project'),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? s)));
  clearTimeout(timer);
  let result = null;
  try {
    result = JSON.parse(stdout);
  } catch {}
  return { code, stdout, stderr, result };
}

// The main loop's requests carry tools: the first gets a Read call on the
// note, the one with its result gets text. Side requests (titles, topic
// detection) have no tools and get text.
function scriptClaudeTurn(mock, dialect, file, scenario = 'cc') {
  mock.script(scenario, (body, d, { lastToolResult }) => {
    if (!(body.tools?.length > 0)) return { blocks: [{ type: 'text', parts: ['side answer'] }], stop: 'end' };
    if (lastToolResult !== null) return { blocks: [{ type: 'text', parts: ['The note says: ', lastToolResult] }], stop: 'end' };
    return { blocks: [{ type: 'tool', id: CALL_ID[dialect], name: 'Read', args: JSON.stringify({ file_path: file }) }], stop: 'tool' };
  });
}

async function startFor(upstream, settings, groups = null, scenario = 'cc') {
  const mock = await startMock();
  scriptClaudeTurn(mock, upstream, path.join(work, 'project', 'note.txt'), scenario);
  const config = renderConfig(
    mock,
    groups ?? [
      { name: 'cc-main', upstream, model: `cc.${upstream}` },
      { name: 'cc-small', upstream, model: `text.${upstream}` },
    ],
    settings,
  );
  const daemon = await startDaemon(config);
  return {
    mock,
    daemon,
    async stop() {
      await daemon.stop();
      await mock.stop();
    },
  };
}

function checkTurn(run, stack, upstream, isMain = (r) => r.body?.model === `cc.${upstream}`) {
  const diag = `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr.slice(0, 2000)}\ndaemon: ${stack.daemon.log().slice(-2000)}`;
  assert.equal(run.code, 0, diag);
  assert.ok(run.result, diag);
  assert.equal(run.result.is_error, false, diag);
  assert.equal(run.result.num_turns, 2, diag);
  assert.match(run.result.result, /PAPAYA/, diag);

  const main = stack.mock.requests.filter((r) => isMain(r) && r.body?.tools?.length > 0);
  assert.equal(main.length, 2, 'one request for the tool call, one with its result');
  for (const r of main) assert.equal(r.rejected, undefined, r.rejected);
  assert.equal(main[0].body.stream, true);
  const second = main[1].body;
  if (upstream === 'openai') {
    assert.deepEqual(main[0].body.stream_options, { include_usage: true });
    assert.ok(main[0].body.tools.some((t) => t.function.name === 'Read'));
    const asst = second.messages.find((m) => m.role === 'assistant' && m.tool_calls);
    assert.equal(asst.tool_calls[0].id, CALL_ID.openai);
    const tool = second.messages.find((m) => m.role === 'tool');
    assert.equal(tool.tool_call_id, CALL_ID.openai);
    assert.match(JSON.stringify(tool.content), /PAPAYA/);
  } else {
    assert.ok(main[0].body.tools.some((t) => t.name === 'Read'));
    // A same-dialect upstream gets what Claude Code sent: its betas, its
    // metadata.user_id JSON string, its system blocks.
    assert.match(main[0].headers['anthropic-beta'] ?? '', /claude-code-20250219/);
    assert.equal(typeof JSON.parse(main[0].body.metadata.user_id).session_id, 'string');
    assert.ok(Array.isArray(main[0].body.system) && main[0].body.system.length >= 2);
    const result = second.messages[second.messages.length - 1].content.find((b) => b.type === 'tool_result');
    assert.equal(result.tool_use_id, CALL_ID.anthropic);
    assert.match(JSON.stringify(result.content), /PAPAYA/);
  }
  const leaked = allHeaderValues(stack.mock.requests).filter((h) => h.includes(MASTER_KEY));
  assert.deepEqual(leaked, [], 'the client key leaked upstream');
}

const DROP_PARAMS = 'litellm_settings:\n  drop_params: true\n';

test('Claude Code print mode: turn with a tool call, OpenAI-compatible upstream, drop_params: true (as the shipped config)', async () => {
  const stack = await startFor('openai', DROP_PARAMS);
  try {
    const run = await runClaude(stack.daemon.url, 'Read note.txt and tell me the secret word.', 'cc-main', 'openai-drop');
    checkTurn(run, stack, 'openai');
  } finally {
    await stack.stop();
  }
});

test('Claude Code print mode: turn with a tool call, Anthropic upstream', async () => {
  const stack = await startFor('anthropic', '');
  try {
    const run = await runClaude(stack.daemon.url, 'Read note.txt and tell me the secret word.', 'cc-main', 'anthropic');
    checkTurn(run, stack, 'anthropic');
  } finally {
    await stack.stop();
  }
});

// Regression: with LiteLLM's default drop_params (false), Claude Code's
// context_management and output_config are mapped or dropped by design
// (issue 3 item 9), not refused with a 400.
test(
  'Claude Code print mode: turn with a tool call, OpenAI-compatible upstream, default drop_params',
  async () => {
    const stack = await startFor('openai', '');
    try {
      const run = await runClaude(stack.daemon.url, 'Read note.txt and tell me the secret word.', 'cc-main', 'openai-default');
      checkTurn(run, stack, 'openai');
    } finally {
      await stack.stop();
    }
  },
);

test('Claude Code print mode: --model haiku reaches the undated group claude-haiku-4-5 (OpenAI-compatible upstream)', async () => {
  const stack = await startFor('openai', DROP_PARAMS, [{ name: 'claude-haiku-4-5', upstream: 'openai', model: 'cc.haiku' }]);
  try {
    // No small-model override: Claude Code's own side requests go to haiku too.
    const run = await runClaude(stack.daemon.url, 'Read note.txt and tell me the secret word.', 'haiku', 'haiku', { smallModel: null });
    checkTurn(run, stack, 'openai', (r) => r.body?.model === 'cc.haiku');
  } finally {
    await stack.stop();
  }
});

test('Claude Code print mode: wildcard group claude-* -> anthropic/* passes the asked model upstream', async () => {
  const stack = await startFor('anthropic', '', [{ name: 'claude-*', upstream: 'anthropic', model: '*' }], '*');
  try {
    const run = await runClaude(stack.daemon.url, 'Read note.txt and tell me the secret word.', 'claude-sonnet-4-5-20250929', 'wildcard', { smallModel: null });
    checkTurn(run, stack, 'anthropic', (r) => r.body?.model === 'claude-sonnet-4-5-20250929');
  } finally {
    await stack.stop();
  }
});

test('Claude Code print mode: an upstream 429 with retry-after reaches Claude Code, which waits and completes the turn', async () => {
  const stack = await startFor('openai', DROP_PARAMS);
  // The first main-loop request is refused with retry-after: 1; Claude Code
  // honours the header (PROTOCOLS.md B3) and the retry gets the tool call.
  let refused = 0;
  const note = path.join(work, 'project', 'note.txt');
  stack.mock.script('cc', (body, d, { lastToolResult }) => {
    if (!(body.tools?.length > 0)) return { blocks: [{ type: 'text', parts: ['side answer'] }], stop: 'end' };
    if (refused++ === 0) return { error: 429, retryAfter: '1' };
    if (lastToolResult !== null) return { blocks: [{ type: 'text', parts: ['The note says: ', lastToolResult] }], stop: 'end' };
    return { blocks: [{ type: 'tool', id: CALL_ID.openai, name: 'Read', args: JSON.stringify({ file_path: note }) }], stop: 'tool' };
  });
  try {
    const t0 = Date.now();
    const run = await runClaude(stack.daemon.url, 'Read note.txt and tell me the secret word.', 'cc-main', 'retry');
    const diag = `exit ${run.code}\nstdout: ${run.stdout}\ndaemon: ${stack.daemon.log().slice(-1500)}`;
    assert.equal(run.code, 0, diag);
    assert.match(run.result?.result ?? '', /PAPAYA/, diag);
    assert.ok(Date.now() - t0 >= 1000, 'Claude Code waited for retry-after');
    const main = stack.mock.requests.filter((r) => r.body?.model === 'cc.openai' && r.body?.tools?.length > 0);
    assert.equal(main.length, 3, 'the refused request, its retry, the turn with the tool result');
  } finally {
    await stack.stop();
  }
});
