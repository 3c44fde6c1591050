// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: Copyright © the litellmctl contributors
//
// The official Anthropic SDK (pinned in package-lock.json) against the
// proxy, with an OpenAI Chat upstream and an Anthropic Messages upstream.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ANTHROPIC_UPSTREAM_KEY, MASTER_KEY, OPENAI_UPSTREAM_KEY, allHeaderValues, loadSdks, startStack } from './lib/harness.mjs';
import {
  ANTHROPIC_TOOL_ID,
  ANTHROPIC_TOOL_ID_2,
  COUNT_TOKENS,
  OPENAI_TOOL_ID,
  OPENAI_TOOL_ID_2,
  RETRY_AFTER,
  SIGNATURE,
  TEXT,
  THINKING,
  THINKING_ANSWER,
  TOOL_ARGS,
  TOOL_ARGS_2,
  USAGE,
} from './lib/mock-upstream.mjs';

const UPSTREAMS = ['openai', 'anthropic'];
const SCENARIOS = ['text', 'tool', 'parallel', 'thinking', 'err429', 'err500'];
// One group per (upstream, scenario, variant): a 429 may cool its
// deployment down, and each test finds its own upstream requests by model.
const VARIANTS = ['stream', 'json', 'beta', 'count'];

function upstreamModel(upstream, scenario, v) {
  return `${scenario}.a-${upstream}-${v}`;
}

const groups = [];
for (const upstream of UPSTREAMS)
  for (const scenario of SCENARIOS)
    for (const v of VARIANTS) groups.push({ name: `${upstream}-${scenario}-${v}`, upstream, model: upstreamModel(upstream, scenario, v) });

const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Get the weather for a location',
  input_schema: {
    type: 'object',
    properties: {
      location: { type: 'string' },
      unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
      days: { type: 'array', items: { type: 'integer' } },
      options: { type: 'object' },
    },
    required: ['location'],
  },
};
const READ_TOOL = {
  name: 'read_file',
  description: 'Read a file',
  input_schema: { type: 'object', properties: { path: { type: 'string' }, limit: { type: 'integer' } }, required: ['path'] },
};

let stack;
let sdk;
let client;

before(async () => {
  sdk = await loadSdks();
  stack = await startStack(groups);
  client = new sdk.Anthropic({ apiKey: MASTER_KEY, baseURL: stack.daemon.url, maxRetries: 0, timeout: 20_000 });
});

after(async () => {
  if (stack === undefined) return;
  // No request may carry the client's key upstream: the deployment's own
  // key replaces it.
  const leaked = allHeaderValues(stack.mock.requests).filter((h) => h.includes(MASTER_KEY));
  const r = await stack.stop();
  assert.deepEqual(leaked, [], 'the client key leaked upstream');
  assert.ok(r.code === 0 || r.signal === 'SIGTERM', `daemon exit ${JSON.stringify(r)}`);
});

function checkUpstreamAuth(upstream, rec) {
  if (upstream === 'openai') {
    assert.equal(rec.headers.authorization, `Bearer ${OPENAI_UPSTREAM_KEY}`);
    assert.equal(rec.headers['x-api-key'], undefined);
  } else {
    assert.equal(rec.headers['x-api-key'], ANTHROPIC_UPSTREAM_KEY);
    assert.equal(rec.headers.authorization, undefined, 'an API key goes as x-api-key only');
    assert.ok(rec.headers['anthropic-version'], 'anthropic-version sent upstream');
  }
}

function checkUsage(upstream, usage) {
  assert.equal(usage.input_tokens + (usage.cache_read_input_tokens ?? 0), USAGE.input + (upstream === 'anthropic' ? USAGE.cache_read : 0));
  assert.equal(usage.output_tokens, USAGE.output);
  if (upstream === 'anthropic') assert.equal(usage.cache_read_input_tokens, USAGE.cache_read);
}

for (const upstream of UPSTREAMS) {
  const toolId = upstream === 'openai' ? OPENAI_TOOL_ID : ANTHROPIC_TOOL_ID;
  const toolId2 = upstream === 'openai' ? OPENAI_TOOL_ID_2 : ANTHROPIC_TOOL_ID_2;

  // Flat top-level tests: meson's TAP parser reads no nested subtests.
  const it = (name, fn) => test(`anthropic client -> ${upstream} upstream: ${name}`, fn);
  it('streaming text', async () => {
    const stream = client.messages.stream({
      model: `${upstream}-text-stream`,
      max_tokens: 256,
      system: 'You are terse.',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    const deltas = [];
    stream.on('text', (t) => deltas.push(t));
    const msg = await stream.finalMessage();
    assert.equal(deltas.join(''), TEXT);
    assert.ok(deltas.length >= 2, 'text arrives in several deltas');
    assert.equal(msg.role, 'assistant');
    assert.deepEqual(
      msg.content.map((b) => b.type),
      ['text'],
    );
    assert.equal(msg.content[0].text, TEXT);
    assert.equal(msg.stop_reason, 'end_turn');
    checkUsage(upstream, msg.usage);

    const rec = stack.mock.lastFor(upstreamModel(upstream, 'text', 'stream'));
    assert.ok(rec, 'the upstream was called');
    assert.equal(rec.rejected, undefined, rec.rejected);
    checkUpstreamAuth(upstream, rec);
    assert.equal(rec.body.stream, true);
    if (upstream === 'openai') {
      assert.deepEqual(rec.body.stream_options, { include_usage: true }, 'usage requested from the OpenAI upstream');
      assert.deepEqual(rec.body.messages[0], { role: 'system', content: 'You are terse.' });
      assert.equal(rec.body.messages[1].role, 'user');
    } else {
      assert.equal(rec.body.system, 'You are terse.');
      assert.equal(rec.body.max_tokens, 256);
    }
  });

  it('non-streaming text', async () => {
    const res = await client.messages
      .create({
        model: `${upstream}-text-json`,
        max_tokens: 100,
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hello' }] }],
      })
      .withResponse();
    const msg = res.data;
    assert.equal(msg.type, 'message');
    assert.equal(msg.content[0].text, TEXT);
    assert.equal(msg.stop_reason, 'end_turn');
    checkUsage(upstream, msg.usage);
    assert.equal(res.response.headers.get('x-litellm-model-group'), `${upstream}-text-json`);
    assert.equal(res.response.headers.get('x-litellmctl-deployment'), `${upstream}/text.a-${upstream}-json`);
    assert.ok(Number(res.response.headers.get('x-litellm-overhead-duration-ms')) >= 0);
    const rec = stack.mock.lastFor(upstreamModel(upstream, 'text', 'json'));
    assert.ok(rec.body.stream === undefined || rec.body.stream === false, 'a non-streaming request stays non-streaming');
  });

  it('streaming tool call round trip', async () => {
    const model = `${upstream}-tool-stream`;
    const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const stream = client.messages.stream({ model, max_tokens: 512, tools: [WEATHER_TOOL], messages });
    const jsonDeltas = [];
    stream.on('inputJson', (partial) => jsonDeltas.push(partial));
    const msg = await stream.finalMessage();
    assert.equal(msg.stop_reason, 'tool_use');
    const uses = msg.content.filter((b) => b.type === 'tool_use');
    assert.equal(uses.length, 1);
    assert.equal(uses[0].id, toolId, 'the upstream tool call id is preserved');
    assert.equal(uses[0].name, 'get_weather');
    assert.deepEqual(uses[0].input, TOOL_ARGS);
    assert.ok(jsonDeltas.length > 1, 'arguments arrive as several input_json_delta events');
    assert.equal(msg.content[0].type, 'text');
    assert.equal(msg.content[0].text, 'Let me check.');

    const first = stack.mock.lastFor(upstreamModel(upstream, 'tool', 'stream'));
    if (upstream === 'openai') {
      assert.equal(first.body.tools[0].type, 'function');
      assert.equal(first.body.tools[0].function.name, 'get_weather');
      assert.deepEqual(first.body.tools[0].function.parameters, WEATHER_TOOL.input_schema);
    } else {
      assert.deepEqual(first.body.tools, [WEATHER_TOOL]);
    }

    messages.push({ role: 'assistant', content: msg.content });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: uses[0].id, content: 'Sunny, 21 °C' }] });
    const second = await client.messages.stream({ model, max_tokens: 512, tools: [WEATHER_TOOL], messages }).finalMessage();
    assert.equal(second.stop_reason, 'end_turn');
    assert.equal(second.content.map((b) => b.text).join(''), 'Tool said: Sunny, 21 °C');

    const rec = stack.mock.lastFor(upstreamModel(upstream, 'tool', 'stream'));
    assert.equal(rec.rejected, undefined, rec.rejected);
    if (upstream === 'openai') {
      const asst = rec.body.messages.find((m) => m.role === 'assistant');
      assert.equal(asst.tool_calls[0].id, OPENAI_TOOL_ID);
      assert.deepEqual(JSON.parse(asst.tool_calls[0].function.arguments), TOOL_ARGS);
      const tool = rec.body.messages.find((m) => m.role === 'tool');
      assert.equal(tool.tool_call_id, OPENAI_TOOL_ID);
    } else {
      const asst = rec.body.messages[1];
      const use = asst.content.find((b) => b.type === 'tool_use');
      assert.equal(use.id, ANTHROPIC_TOOL_ID);
      assert.deepEqual(use.input, TOOL_ARGS);
    }
  });

  it('non-streaming parallel tool calls', async () => {
    const msg = await client.messages.create({
      model: `${upstream}-parallel-json`,
      max_tokens: 512,
      tools: [WEATHER_TOOL, READ_TOOL],
      messages: [{ role: 'user', content: 'Weather and file, please' }],
    });
    assert.equal(msg.stop_reason, 'tool_use');
    const uses = msg.content.filter((b) => b.type === 'tool_use');
    assert.deepEqual(
      uses.map((u) => [u.id, u.name, u.input]),
      [
        [toolId, 'get_weather', TOOL_ARGS],
        [toolId2, 'read_file', TOOL_ARGS_2],
      ],
    );
  });

  it('streaming parallel tool calls', async () => {
    const msg = await client.messages
      .stream({
        model: `${upstream}-parallel-stream`,
        max_tokens: 512,
        tools: [WEATHER_TOOL, READ_TOOL],
        messages: [{ role: 'user', content: 'Weather and file, please' }],
      })
      .finalMessage();
    assert.equal(msg.stop_reason, 'tool_use');
    const uses = msg.content.filter((b) => b.type === 'tool_use');
    assert.deepEqual(
      uses.map((u) => [u.id, u.name, u.input]),
      [
        [toolId, 'get_weather', TOOL_ARGS],
        [toolId2, 'read_file', TOOL_ARGS_2],
      ],
    );
  });

  it('streaming thinking', async () => {
    const model = `${upstream}-thinking-stream`;
    const messages = [{ role: 'user', content: 'What is six times seven?' }];
    const stream = client.messages.stream({ model, max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, messages });
    const thinkingDeltas = [];
    stream.on('thinking', (d) => thinkingDeltas.push(d));
    const msg = await stream.finalMessage();
    assert.deepEqual(
      msg.content.map((b) => b.type),
      ['thinking', 'text'],
    );
    assert.equal(msg.content[0].thinking, THINKING);
    assert.equal(thinkingDeltas.join(''), THINKING);
    assert.equal(msg.content[1].text, THINKING_ANSWER);
    assert.equal(typeof msg.content[0].signature, 'string', 'a thinking block always has a signature field');
    if (upstream === 'anthropic') assert.equal(msg.content[0].signature, SIGNATURE, 'signature byte-for-byte');

    const rec = stack.mock.lastFor(upstreamModel(upstream, 'thinking', 'stream'));
    if (upstream === 'openai') assert.ok(['low', 'medium', 'high', 'minimal'].includes(rec.body.reasoning_effort), `reasoning_effort ${rec.body.reasoning_effort}`);
    else assert.deepEqual(rec.body.thinking, { type: 'enabled', budget_tokens: 2048 });

    // The next turn replays the thinking block, as Claude Code does.
    messages.push({ role: 'assistant', content: msg.content });
    messages.push({ role: 'user', content: 'And six times eight?' });
    const second = await client.messages.stream({ model, max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, messages }).finalMessage();
    assert.equal(second.content[1].text, THINKING_ANSWER);
    const rec2 = stack.mock.lastFor(upstreamModel(upstream, 'thinking', 'stream'));
    assert.equal(rec2.rejected, undefined, rec2.rejected);
    if (upstream === 'anthropic') {
      const replayed = rec2.body.messages[1].content.find((b) => b.type === 'thinking');
      assert.equal(replayed.signature, SIGNATURE, 'the replayed signature reaches the upstream byte-for-byte');
      assert.equal(replayed.thinking, THINKING);
    }
  });

  it('non-streaming thinking', async () => {
    const msg = await client.messages.create({
      model: `${upstream}-thinking-json`,
      max_tokens: 4096,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      messages: [{ role: 'user', content: 'What is six times seven?' }],
    });
    assert.equal(msg.content[0].type, 'thinking');
    assert.equal(msg.content[0].thinking, THINKING);
    if (upstream === 'anthropic') assert.equal(msg.content[0].signature, SIGNATURE);
    assert.equal(msg.content[1].text, THINKING_ANSWER);
  });

  it('upstream 429 is a RateLimitError with retry-after (streaming)', async () => {
    const stream = client.messages.stream({ model: `${upstream}-err429-stream`, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    const err = await stream.finalMessage().then(
      () => null,
      (e) => e,
    );
    assert.ok(err instanceof sdk.Anthropic.RateLimitError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, 429);
    assert.equal(err.headers.get('retry-after'), RETRY_AFTER);
    assert.equal(err.error?.type, 'error');
    assert.equal(err.error?.error?.type, 'rate_limit_error');
    assert.equal(stack.mock.requestsFor(upstreamModel(upstream, 'err429', 'stream')).length, 1, 'no retry behind the client');
  });

  it('upstream 429 is a RateLimitError with retry-after (non-streaming)', async () => {
    const err = await client.messages.create({ model: `${upstream}-err429-json`, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }).then(
      () => null,
      (e) => e,
    );
    assert.ok(err instanceof sdk.Anthropic.RateLimitError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.headers.get('retry-after'), RETRY_AFTER);
  });

  it('upstream 500 is an InternalServerError', async () => {
    const err = await client.messages.create({ model: `${upstream}-err500-json`, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }).then(
      () => null,
      (e) => e,
    );
    assert.ok(err instanceof sdk.Anthropic.InternalServerError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.ok(err.status >= 500, `status ${err.status}`);
    assert.equal(err.error?.type, 'error');
    assert.equal(typeof err.error?.error?.message, 'string');
  });

  it('beta endpoint keeps betas and metadata', async () => {
    const userId = JSON.stringify({ device_id: 'dev-1', account_uuid: '', session_id: 'sess-1' });
    const msg = await client.beta.messages.create({
      model: `${upstream}-text-beta`,
      max_tokens: 128,
      betas: ['interleaved-thinking-2025-05-14', 'context-management-2025-06-27'],
      metadata: { user_id: userId },
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(msg.content[0].text, TEXT);
    const rec = stack.mock.lastFor(upstreamModel(upstream, 'text', 'beta'));
    assert.equal(rec.rejected, undefined, rec.rejected);
    if (upstream === 'anthropic') {
      assert.equal(rec.headers['anthropic-beta'], 'interleaved-thinking-2025-05-14,context-management-2025-06-27');
      assert.deepEqual(rec.body.metadata, { user_id: userId });
    } else {
      assert.equal(rec.headers['anthropic-beta'], undefined);
      assert.equal(rec.body.metadata, undefined, 'Anthropic metadata is not an OpenAI parameter');
      assert.equal(rec.body.user, userId, 'metadata.user_id maps to user');
    }
  });

  it('count_tokens', async () => {
    const res = await client.messages.countTokens({
      model: `${upstream}-text-count`,
      system: 'You are terse.',
      tools: [WEATHER_TOOL],
      messages: [{ role: 'user', content: 'How many tokens is this sentence?' }],
    });
    assert.ok(Number.isInteger(res.input_tokens) && res.input_tokens > 0, `input_tokens ${res.input_tokens}`);
    // Claude Code's /context calls it as POST /v1/messages/count_tokens?beta=true.
    const beta = await client.beta.messages.countTokens({
      model: `${upstream}-text-count`,
      betas: ['token-counting-2024-11-01'],
      messages: [{ role: 'user', content: 'How many tokens is this sentence?' }],
    });
    assert.ok(beta.input_tokens > 0);
    // An Anthropic upstream may count exactly; nothing else may call it.
    const calls = stack.mock.requestsFor(upstreamModel(upstream, 'text', 'count'));
    for (const c of calls) assert.equal(c.path, '/anthropic/v1/messages/count_tokens');
    if (calls.length > 0) assert.equal(res.input_tokens, COUNT_TOKENS);
  });
}
