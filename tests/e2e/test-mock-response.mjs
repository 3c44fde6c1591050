// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: Copyright © the litellmctl contributors
//
// The shipped default config (templates/config.yaml), unchanged: its demo
// model answers both SDKs, streamed and not, without any upstream; plus the
// raw wire shapes that Claude Code and curl users see.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { MASTER_KEY, SOURCE_ROOT, loadSdks, startDaemon } from './lib/harness.mjs';

let daemon;
let sdk;
let anthropic;
let openai;
let demoText;

before(async () => {
  sdk = await loadSdks();
  const config = fs.readFileSync(path.join(SOURCE_ROOT, 'templates', 'config.yaml'), 'utf8');
  demoText = /mock_response: "([^"]*)"/.exec(config)[1];
  // The template takes its master key from the environment.
  daemon = await startDaemon(config, { env: { LITELLM_MASTER_KEY: MASTER_KEY } });
  anthropic = new sdk.Anthropic({ apiKey: MASTER_KEY, baseURL: daemon.url, maxRetries: 0, timeout: 10_000 });
  openai = new sdk.OpenAI({ apiKey: MASTER_KEY, baseURL: `${daemon.url}/v1`, maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  if (daemon === undefined) return;
  const r = await daemon.stop();
  assert.ok(r.code === 0 || r.signal === 'SIGTERM', `daemon exit ${JSON.stringify(r)}`);
});

// Reads an SSE body into [{event, data}] in arrival order.
async function readSse(response) {
  const text = await response.text();
  const events = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (block.trim() === '') continue;
    const ev = { event: null, data: '' };
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) ev.event = line.slice(6).trim();
      else if (line.startsWith('data:')) ev.data += line.slice(5).trim();
    }
    events.push(ev);
  }
  return events;
}

test('demo model, Anthropic SDK: non-streaming', async () => {
  const msg = await anthropic.messages.create({ model: 'demo', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(msg.type, 'message');
  assert.equal(msg.role, 'assistant');
  assert.equal(msg.content[0].text, demoText);
  assert.equal(msg.stop_reason, 'end_turn');
  assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0);
  assert.match(msg.id, /^[A-Za-z0-9_-]+$/);
});

test('demo model, Anthropic SDK: streaming', async () => {
  const stream = anthropic.messages.stream({ model: 'demo', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
  let text = '';
  stream.on('text', (t) => (text += t));
  const msg = await stream.finalMessage();
  assert.equal(text, demoText);
  assert.equal(msg.content[0].text, demoText);
  assert.equal(msg.stop_reason, 'end_turn');
  assert.ok(msg.usage.output_tokens > 0);
});

test('demo model, Anthropic SDK: count_tokens', async () => {
  const res = await anthropic.messages.countTokens({ model: 'demo', messages: [{ role: 'user', content: 'How many tokens is this?' }] });
  assert.ok(Number.isInteger(res.input_tokens) && res.input_tokens > 0);
});

test('demo model, Anthropic SDK: count_tokens grows with tools and history', async () => {
  const small = await anthropic.messages.countTokens({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] });
  const big = await anthropic.messages.countTokens({
    model: 'demo',
    system: 'You are a careful assistant. '.repeat(20),
    tools: [{ name: 'get_weather', description: 'Get the weather for a location', input_schema: { type: 'object', properties: { location: { type: 'string' } } } }],
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny. '.repeat(50) }] },
    ],
  });
  assert.ok(big.input_tokens > small.input_tokens + 100, `${small.input_tokens} -> ${big.input_tokens}`);
});

test('demo model, OpenAI SDK: non-streaming', async () => {
  const data = await openai.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.choices[0].message.content, demoText);
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.ok(data.usage.total_tokens > 0);
});

test('demo model, OpenAI SDK: streaming with usage', async () => {
  const stream = await openai.chat.completions.create({
    model: 'demo',
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'hi' }],
  });
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      finish = c.finish_reason ?? finish;
    }
  }
  assert.equal(text, demoText);
  assert.equal(finish, 'stop');
  assert.ok(usage?.completion_tokens > 0);
});

test('raw wire, as curl and Claude Code send it: Claude Code shape: ?beta=true, x-api-key, 2023-06-01, streaming event order', async () => {
  const res = await fetch(`${daemon.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': MASTER_KEY,
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14',
      'x-app': 'cli',
      'user-agent': 'claude-cli/2.1.197 (external, sdk-cli)',
    },
    body: JSON.stringify({
      model: 'demo',
      max_tokens: 32000,
      stream: true,
      system: [{ type: 'text', text: 'You are a Claude agent', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] }],
      metadata: { user_id: JSON.stringify({ device_id: 'd', account_uuid: '', session_id: 's' }) },
    }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  assert.equal(res.headers.get('x-litellm-model-group'), 'demo');
  assert.equal(res.headers.get('x-litellmctl-deployment'), 'openai/demo');
  assert.ok(Number(res.headers.get('x-litellm-overhead-duration-ms')) >= 0, 'overhead header on a stream');
  const events = await readSse(res);
  const names = events.map((e) => e.event).filter((e) => e !== 'ping');
  assert.deepEqual(names.slice(0, 2), ['message_start', 'content_block_start']);
  assert.deepEqual(names.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
  for (const e of events) assert.equal(JSON.parse(e.data).type, e.event, 'every data names its event');
  const start = JSON.parse(events[0].data);
  assert.equal(start.message.role, 'assistant');
  assert.deepEqual(start.message.content, []);
  assert.equal(typeof start.message.usage.input_tokens, 'number');
  const delta = JSON.parse(events.find((e) => e.event === 'message_delta').data);
  assert.equal(delta.delta.stop_reason, 'end_turn');
  assert.ok(delta.usage.output_tokens > 0);
});

test('raw wire, as curl and Claude Code send it: Bearer auth and a non-streaming request without a stream field', async () => {
  const res = await fetch(`${daemon.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${MASTER_KEY}`, 'anthropic-version': '2026-10-21' },
    body: JSON.stringify({ model: 'demo', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.content[0].text, demoText);
});

test('raw wire, as curl and Claude Code send it: OpenAI stream ends with [DONE]', async () => {
  const res = await fetch(`${daemon.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${MASTER_KEY}` },
    body: JSON.stringify({ model: 'demo', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200);
  const events = await readSse(res);
  assert.equal(events[events.length - 1].data, '[DONE]');
  const first = JSON.parse(events[0].data);
  assert.equal(first.object, 'chat.completion.chunk');
  assert.equal(first.choices[0].delta.role, 'assistant');
});

test('raw wire, as curl and Claude Code send it: malformed JSON is a 400 in each dialect', async () => {
  const a = await fetch(`${daemon.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': MASTER_KEY, 'anthropic-version': '2023-06-01' },
    body: '{"model": "demo", "messages": [',
  });
  assert.equal(a.status, 400);
  const ab = await a.json();
  assert.equal(ab.type, 'error');
  assert.equal(ab.error.type, 'invalid_request_error');
  const o = await fetch(`${daemon.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${MASTER_KEY}` },
    body: '{"model": "demo", "messages": [',
  });
  assert.equal(o.status, 400);
  const ob = await o.json();
  assert.equal(typeof ob.error.message, 'string');
});

test('raw wire, as curl and Claude Code send it: no key is refused', async () => {
  const res = await fetch(`${daemon.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'demo', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error.type, 'authentication_error');
});
