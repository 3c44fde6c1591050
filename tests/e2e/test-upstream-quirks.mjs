// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: Copyright © the litellmctl contributors
//
// Upstreams as they behave in the wild: SSE split at arbitrary bytes (in the
// middle of UTF-8 characters), CRLF line ends and comment lines, streams
// without their terminal event, gzip bodies, error bodies, an HTML page
// with status 200, failures before the first token, silence before the
// first token (the proxy pings) and a stall mid-stream (the proxy's idle
// timeout ends it).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { MASTER_KEY, loadSdks, startStack } from './lib/harness.mjs';
import { NUL_PARTS, TEXT, UNICODE_PARTS } from './lib/mock-upstream.mjs';

const UPSTREAMS = ['openai', 'anthropic'];
const CLIENTS = ['anthropic', 'openai'];
const SCENARIOS = ['chunky', 'crlf', 'nodone', 'gzip', 'err400', 'html', 'silent', 'stall', 'nul'];
const PING_MS = 200;
const IDLE_TIMEOUT_S = 1;

const name = (c, u, s, v = 's') => `${c}-${u}-${s}-${v}`;
const model = (c, u, s, v = 's') => `${s}.q-${c}-${u}-${v}`;

const groups = [];
for (const c of CLIENTS)
  for (const u of UPSTREAMS)
    for (const s of SCENARIOS)
      for (const v of ['s', 'j'])
        groups.push({ name: name(c, u, s, v), upstream: u, model: model(c, u, s, v), params: s === 'stall' ? { stream_idle_timeout: IDLE_TIMEOUT_S } : {} });

let stack;
let sdk;
let anthropic;
let openai;

before(async () => {
  sdk = await loadSdks();
  stack = await startStack(groups, { env: { LITELLMCTL_PING_INTERVAL_MS: String(PING_MS) } });
  anthropic = new sdk.Anthropic({ apiKey: MASTER_KEY, baseURL: stack.daemon.url, maxRetries: 0, timeout: 15_000 });
  openai = new sdk.OpenAI({ apiKey: MASTER_KEY, baseURL: `${stack.daemon.url}/v1`, maxRetries: 0, timeout: 15_000 });
});

after(async () => {
  if (stack === undefined) return;
  const r = await stack.stop();
  assert.ok(r.code === 0 || r.signal === 'SIGTERM', `daemon exit ${JSON.stringify(r)}`);
});

const settle = (p) =>
  p.then(
    (value) => ({ value }),
    (error) => ({ error }),
  );

// One streamed turn through either SDK: { text, stop }.
// @seen, when given, receives the text as it arrives (for streams that fail
// half-way).
async function streamText(c, group, clients = { anthropic, openai }, seen = { text: '' }) {
  const { anthropic, openai } = clients;
  const messages = [{ role: 'user', content: 'hi' }];
  if (c === 'anthropic') {
    const stream = anthropic.messages.stream({ model: group, max_tokens: 100, messages });
    stream.on('text', (t) => (seen.text += t));
    const msg = await stream.finalMessage();
    return { text: msg.content.map((b) => b.text ?? '').join(''), stop: msg.stop_reason };
  }
  const stream = await openai.chat.completions.create({ model: group, stream: true, messages });
  let stop = null;
  for await (const chunk of stream)
    for (const ch of chunk.choices) {
      seen.text += ch.delta.content ?? '';
      stop = ch.finish_reason ?? stop;
    }
  return { text: seen.text, stop };
}

async function jsonText(c, group) {
  const messages = [{ role: 'user', content: 'hi' }];
  if (c === 'anthropic') {
    const msg = await anthropic.messages.create({ model: group, max_tokens: 100, messages });
    return { text: msg.content.map((b) => b.text ?? '').join(''), stop: msg.stop_reason };
  }
  const data = await openai.chat.completions.create({ model: group, messages });
  return { text: data.choices[0].message.content, stop: data.choices[0].finish_reason };
}

// A daemon and mock of their own, for a test that may crash the daemon; the
// daemon must still answer /health afterwards.
async function withOwnStack(ownGroups, fn) {
  const own = await startStack(ownGroups);
  const clients = {
    anthropic: new sdk.Anthropic({ apiKey: MASTER_KEY, baseURL: own.daemon.url, maxRetries: 0, timeout: 10_000 }),
    openai: new sdk.OpenAI({ apiKey: MASTER_KEY, baseURL: `${own.daemon.url}/v1`, maxRetries: 0, timeout: 10_000 }),
  };
  try {
    await fn(clients);
    const health = await fetch(`${own.daemon.url}/health`).then(
      (r) => r.status,
      (e) => String(e),
    );
    assert.equal(health, 200, 'the daemon survives');
  } finally {
    await own.stop();
  }
}

const END = { anthropic: 'end_turn', openai: 'stop' };

// The raw SSE of a streamed request, with the time each piece arrived.
async function rawStream(c, group) {
  const t0 = Date.now();
  const res =
    c === 'anthropic'
      ? await fetch(`${stack.daemon.url}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': MASTER_KEY, 'anthropic-version': '2023-06-01' },
          body: JSON.stringify({ model: group, max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
        })
      : await fetch(`${stack.daemon.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${MASTER_KEY}` },
          body: JSON.stringify({ model: group, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
        });
  const headersMs = Date.now() - t0;
  const pieces = [];
  const decoder = new TextDecoder();
  for await (const chunk of res.body) pieces.push({ ms: Date.now() - t0, text: decoder.decode(chunk, { stream: true }) });
  return { status: res.status, headersMs, pieces, text: pieces.map((p) => p.text).join('') };
}

for (const c of CLIENTS)
  for (const u of UPSTREAMS) {
    const t = (title, fn) => test(`${c} client -> ${u} upstream: ${title}`, fn);

    t('SSE split inside UTF-8 characters', async () => {
      const r = await streamText(c, name(c, u, 'chunky'));
      assert.equal(r.text, UNICODE_PARTS.join(''));
      assert.equal(r.stop, END[c]);
    });

    t('SSE with CRLF line ends and comment lines', async () => {
      const r = await streamText(c, name(c, u, 'crlf'));
      assert.equal(r.text, TEXT);
      assert.equal(r.stop, END[c]);
    });

    t('a stream without its terminal event still ends properly', async () => {
      const r = await streamText(c, name(c, u, 'nodone'));
      assert.equal(r.text, TEXT);
      assert.equal(r.stop, END[c]);
      const raw = await rawStream(c, name(c, u, 'nodone', 'j'));
      if (c === 'anthropic') assert.match(raw.text, /event: message_stop/);
      else assert.match(raw.text, /data: \[DONE\]/);
    });

    // json-glib cuts strings at NUL and leaves U+001F unescaped: the proxy
    // must not (see lctl-json.c).
    test(
      `${c} client -> ${u} upstream: NUL and control characters in answers arrive intact`,
      async () => {
        assert.equal((await jsonText(c, name(c, u, 'nul', 'j'))).text, NUL_PARTS.join(''));
        assert.equal((await streamText(c, name(c, u, 'nul'))).text, NUL_PARTS.join(''));
      },
    );

    t('gzip-compressed JSON answer', async () => {
      const r = await jsonText(c, name(c, u, 'gzip', 'j'));
      assert.equal(r.text, TEXT);
    });

    t('upstream 400 keeps its status and message', async () => {
      for (const v of ['s', 'j']) {
        const r = await settle(v === 's' ? streamText(c, name(c, u, 'err400', v)) : jsonText(c, name(c, u, 'err400', v)));
        const E = c === 'anthropic' ? sdk.Anthropic : sdk.OpenAI;
        assert.ok(r.error instanceof E.BadRequestError, `got ${r.error?.constructor?.name}: ${r.error?.message}`);
        assert.match(r.error.message, u === 'openai' ? /maximum context length/ : /prompt is too long/);
      }
    });

    t('an HTML page with status 200 is a server error, not an answer', async () => {
      for (const v of ['s', 'j']) {
        const r = await settle(v === 's' ? streamText(c, name(c, u, 'html', v)) : jsonText(c, name(c, u, 'html', v)));
        const E = c === 'anthropic' ? sdk.Anthropic : sdk.OpenAI;
        assert.ok(r.error instanceof E.APIError && r.error.status >= 500, `${v}: got ${r.error?.constructor?.name} ${r.error?.status}: ${r.error?.message}`);
      }
    });

    // Regression: a failure inside handle_events() once freed the exchange
    // under it. A daemon of its own keeps a crash from failing the others.
    test(
      `${c} client -> ${u} upstream: an upstream error before the first token is an HTTP error`,
      () =>
        withOwnStack([{ name: name(c, u, 'earlyerror'), upstream: u, model: model(c, u, 'earlyerror') }], async (clients) => {
          const r = await settle(streamText(c, name(c, u, 'earlyerror'), clients));
          const E = c === 'anthropic' ? sdk.Anthropic : sdk.OpenAI;
          assert.ok(r.error instanceof E.APIError && r.error.status >= 500, `got ${r.error?.constructor?.name} ${r.error?.status}: ${r.error?.message}`);
          if (c === 'anthropic' && u === 'anthropic') assert.equal(r.error.status, 529, 'overloaded stays overloaded');
        }),
    );

    t('pings while the upstream is silent', async () => {
      const raw = await rawStream(c, name(c, u, 'silent'));
      assert.equal(raw.status, 200);
      const firstContent = raw.text.indexOf(c === 'anthropic' ? 'text_delta' : '"content":"Hello"');
      assert.ok(firstContent > 0, raw.text);
      const before = raw.text.slice(0, firstContent);
      const pings = (before.match(c === 'anthropic' ? /event: ping/g : /^: ?ping/gm) ?? []).length;
      assert.ok(pings >= 2, `${pings} pings in 1.5 s of silence (interval ${PING_MS} ms):\n${before}`);
    });

    t('a stalled stream ends with an error after stream_idle_timeout', async () => {
      const t0 = Date.now();
      const seen = { text: '' };
      const r = await settle(streamText(c, name(c, u, 'stall'), undefined, seen));
      const ms = Date.now() - t0;
      assert.ok(r.error, `finished normally: ${JSON.stringify(r.value)}`);
      assert.match(seen.text, /^tick0 /, `the stream had started before it stalled (${r.error?.message})`);
      assert.ok(ms >= IDLE_TIMEOUT_S * 1000 && ms < IDLE_TIMEOUT_S * 1000 + 3000, `took ${ms} ms`);
      const rec = stack.mock.lastFor(model(c, u, 'stall'));
      for (let i = 0; i < 20 && rec.aborted !== true; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(rec.aborted, true, 'the proxy closed the stalled upstream request');
    });
  }
