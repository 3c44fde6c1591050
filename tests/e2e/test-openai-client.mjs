// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: Copyright © the litellmctl contributors
//
// The official OpenAI SDK (pinned in package-lock.json) against the proxy's
// Chat Completions endpoint, with an Anthropic Messages upstream and an
// OpenAI Chat upstream.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ANTHROPIC_UPSTREAM_KEY, MASTER_KEY, OPENAI_UPSTREAM_KEY, allHeaderValues, loadSdks, startStack } from './lib/harness.mjs';
import {
  ANTHROPIC_TOOL_ID,
  ANTHROPIC_TOOL_ID_2,
  OPENAI_TOOL_ID,
  OPENAI_TOOL_ID_2,
  RETRY_AFTER,
  TEXT,
  THINKING,
  THINKING_ANSWER,
  TOOL_ARGS,
  TOOL_ARGS_2,
  USAGE,
} from './lib/mock-upstream.mjs';

const UPSTREAMS = ['anthropic', 'openai'];
const SCENARIOS = ['text', 'tool', 'parallel', 'thinking', 'err429', 'err500'];
const VARIANTS = ['stream', 'json', 'helper', 'nousage'];

function upstreamModel(upstream, scenario, v) {
  return `${scenario}.o-${upstream}-${v}`;
}

const groups = [];
for (const upstream of UPSTREAMS)
  for (const scenario of SCENARIOS)
    for (const v of VARIANTS) groups.push({ name: `${upstream}-${scenario}-${v}`, upstream, model: upstreamModel(upstream, scenario, v) });

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the weather for a location',
    parameters: {
      type: 'object',
      properties: {
        location: { type: 'string' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        days: { type: 'array', items: { type: 'integer' } },
        options: { type: 'object' },
      },
      required: ['location'],
    },
  },
};
const READ_TOOL = {
  type: 'function',
  function: {
    name: 'read_file',
    description: 'Read a file',
    parameters: { type: 'object', properties: { path: { type: 'string' }, limit: { type: 'integer' } }, required: ['path'] },
  },
};

let stack;
let sdk;
let client;

before(async () => {
  sdk = await loadSdks();
  stack = await startStack(groups);
  client = new sdk.OpenAI({ apiKey: MASTER_KEY, baseURL: `${stack.daemon.url}/v1`, maxRetries: 0, timeout: 20_000 });
});

after(async () => {
  if (stack === undefined) return;
  const leaked = allHeaderValues(stack.mock.requests).filter((h) => h.includes(MASTER_KEY));
  const r = await stack.stop();
  assert.deepEqual(leaked, [], 'the client key leaked upstream');
  assert.ok(r.code === 0 || r.signal === 'SIGTERM', `daemon exit ${JSON.stringify(r)}`);
});

function checkUpstreamAuth(upstream, rec) {
  if (upstream === 'openai') {
    assert.equal(rec.headers.authorization, `Bearer ${OPENAI_UPSTREAM_KEY}`);
  } else {
    assert.equal(rec.headers['x-api-key'], ANTHROPIC_UPSTREAM_KEY);
    assert.equal(rec.headers.authorization, undefined);
    assert.ok(rec.headers['anthropic-version'], 'anthropic-version sent upstream');
  }
}

// Collects a Chat Completions stream the way an agent does: content, and
// tool calls reassembled by index.
async function collect(stream) {
  const out = { chunks: [], content: '', reasoning: '', toolCalls: [], finish: null, usage: null, roles: [] };
  for await (const chunk of stream) {
    out.chunks.push(chunk);
    if (chunk.usage) out.usage = chunk.usage;
    for (const choice of chunk.choices) {
      const d = choice.delta ?? {};
      if (d.role) out.roles.push(d.role);
      if (typeof d.content === 'string') out.content += d.content;
      if (typeof d.reasoning_content === 'string') out.reasoning += d.reasoning_content;
      for (const tc of d.tool_calls ?? []) {
        const slot = (out.toolCalls[tc.index] ??= { id: undefined, name: undefined, arguments: '', fragments: 0 });
        if (tc.id) slot.id = tc.id;
        if (tc.function?.name) slot.name = tc.function.name;
        if (typeof tc.function?.arguments === 'string') {
          slot.arguments += tc.function.arguments;
          slot.fragments++;
        }
      }
      if (choice.finish_reason) out.finish = choice.finish_reason;
    }
  }
  return out;
}

function checkUsage(usage) {
  assert.ok(usage, 'a usage chunk arrived');
  // Anthropic reports cache reads apart from input_tokens; OpenAI counts
  // them inside prompt_tokens.
  assert.equal(usage.completion_tokens, USAGE.output);
  assert.ok(usage.prompt_tokens === USAGE.input || usage.prompt_tokens === USAGE.input + USAGE.cache_read, `prompt_tokens ${usage.prompt_tokens}`);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  assert.equal(usage.prompt_tokens_details?.cached_tokens, USAGE.cache_read);
}

for (const upstream of UPSTREAMS) {
  const toolId = upstream === 'openai' ? OPENAI_TOOL_ID : ANTHROPIC_TOOL_ID;
  const toolId2 = upstream === 'openai' ? OPENAI_TOOL_ID_2 : ANTHROPIC_TOOL_ID_2;

  // Flat top-level tests: meson's TAP parser reads no nested subtests.
  const it = (name, fn) => test(`openai client -> ${upstream} upstream: ${name}`, fn);
  it('streaming text with usage', async () => {
    const stream = await client.chat.completions.create({
      model: `${upstream}-text-stream`,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 200,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Say hello' }] },
      ],
    });
    const out = await collect(stream);
    assert.equal(out.content, TEXT);
    assert.equal(out.roles[0], 'assistant');
    assert.equal(out.chunks[0].choices[0].delta.role, 'assistant', 'the role comes first');
    assert.equal(out.finish, 'stop');
    checkUsage(out.usage);
    const last = out.chunks[out.chunks.length - 1];
    assert.deepEqual(last.choices, [], 'the usage chunk has no choices');

    const rec = stack.mock.lastFor(upstreamModel(upstream, 'text', 'stream'));
    assert.equal(rec.rejected, undefined, rec.rejected);
    checkUpstreamAuth(upstream, rec);
    assert.equal(rec.body.stream, true);
    if (upstream === 'anthropic') {
      assert.ok(rec.body.system === 'You are terse.' || rec.body.system?.[0]?.text === 'You are terse.', `system ${JSON.stringify(rec.body.system)}`);
      assert.equal(rec.body.max_tokens, 200);
      assert.deepEqual(
        rec.body.messages.map((m) => m.role),
        ['user'],
      );
    } else {
      assert.deepEqual(rec.body.stream_options, { include_usage: true });
    }
  });

  it('streaming text without include_usage has no usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: `${upstream}-text-nousage`,
      stream: true,
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    const out = await collect(stream);
    assert.equal(out.content, TEXT);
    assert.equal(out.usage, null);
    assert.ok(out.chunks.every((c) => c.choices.length === 1));
  });

  it('non-streaming text', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: `${upstream}-text-json`, messages: [{ role: 'user', content: 'Say hello' }] })
      .withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.equal(data.choices[0].message.content, TEXT);
    assert.equal(data.choices[0].finish_reason, 'stop');
    checkUsage(data.usage);
    assert.equal(response.headers.get('x-litellm-model-group'), `${upstream}-text-json`);
    assert.ok(Number(response.headers.get('x-litellm-overhead-duration-ms')) >= 0);
    const rec = stack.mock.lastFor(upstreamModel(upstream, 'text', 'json'));
    assert.ok(rec.body.stream === undefined || rec.body.stream === false);
    if (upstream === 'anthropic') assert.ok(Number.isInteger(rec.body.max_tokens) && rec.body.max_tokens > 0, 'Anthropic needs max_tokens');
  });

  it('streaming tool call round trip', async () => {
    const model = `${upstream}-tool-stream`;
    const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const stream = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, tools: [WEATHER_TOOL], messages });
    const out = await collect(stream);
    assert.equal(out.finish, 'tool_calls');
    assert.equal(out.content, 'Let me check.');
    assert.equal(out.toolCalls.length, 1);
    const call = out.toolCalls[0];
    assert.equal(call.id, toolId, 'the upstream tool call id is preserved');
    assert.equal(call.name, 'get_weather');
    // The mock sends JSON.stringify(TOOL_ARGS) cut into fragments; the
    // reassembled string must be exactly that.
    assert.equal(call.arguments, JSON.stringify(TOOL_ARGS));
    assert.ok(call.fragments > 1, 'arguments arrive in fragments');
    checkUsage(out.usage);

    const first = stack.mock.lastFor(upstreamModel(upstream, 'tool', 'stream'));
    if (upstream === 'anthropic') {
      assert.deepEqual(first.body.tools, [{ name: 'get_weather', description: WEATHER_TOOL.function.description, input_schema: WEATHER_TOOL.function.parameters }]);
    } else {
      assert.deepEqual(first.body.tools, [WEATHER_TOOL]);
    }

    messages.push({ role: 'assistant', content: null, tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }] });
    // Qwen Code sends tool results as arrays of text parts.
    messages.push({ role: 'tool', tool_call_id: call.id, content: [{ type: 'text', text: 'Sunny, 21 °C' }] });
    const second = await collect(await client.chat.completions.create({ model, stream: true, tools: [WEATHER_TOOL], messages }));
    assert.equal(second.finish, 'stop');
    assert.equal(second.content, 'Tool said: Sunny, 21 °C');

    const rec = stack.mock.lastFor(upstreamModel(upstream, 'tool', 'stream'));
    assert.equal(rec.rejected, undefined, rec.rejected);
    if (upstream === 'anthropic') {
      const use = rec.body.messages[1].content.find((b) => b.type === 'tool_use');
      assert.equal(use.id, ANTHROPIC_TOOL_ID);
      assert.deepEqual(use.input, TOOL_ARGS);
      const result = rec.body.messages[2].content.find((b) => b.type === 'tool_result');
      assert.equal(result.tool_use_id, ANTHROPIC_TOOL_ID);
    } else {
      assert.equal(rec.body.messages[1].tool_calls[0].function.arguments, JSON.stringify(TOOL_ARGS));
      assert.equal(rec.body.messages[2].tool_call_id, OPENAI_TOOL_ID);
    }
  });

  it('streaming parallel tool calls', async () => {
    const out = await collect(
      await client.chat.completions.create({
        model: `${upstream}-parallel-stream`,
        stream: true,
        tools: [WEATHER_TOOL, READ_TOOL],
        messages: [{ role: 'user', content: 'Weather and file, please' }],
      }),
    );
    assert.equal(out.finish, 'tool_calls');
    assert.deepEqual(
      out.toolCalls.map((c) => [c.id, c.name, c.arguments]),
      [
        [toolId, 'get_weather', JSON.stringify(TOOL_ARGS)],
        [toolId2, 'read_file', JSON.stringify(TOOL_ARGS_2)],
      ],
    );
  });

  it('stream helper reassembles tool calls', async () => {
    const runner = client.chat.completions.stream({
      model: `${upstream}-parallel-helper`,
      tools: [WEATHER_TOOL, READ_TOOL],
      messages: [{ role: 'user', content: 'Weather and file, please' }],
    });
    const done = [];
    runner.on('tool_calls.function.arguments.done', (e) => done.push([e.index, e.name, e.arguments]));
    const completion = await runner.finalChatCompletion();
    const calls = completion.choices[0].message.tool_calls;
    assert.deepEqual(
      calls.map((c) => [c.id, c.function.name, c.function.arguments]),
      [
        [toolId, 'get_weather', JSON.stringify(TOOL_ARGS)],
        [toolId2, 'read_file', JSON.stringify(TOOL_ARGS_2)],
      ],
    );
    assert.equal(completion.choices[0].finish_reason, 'tool_calls');
    assert.equal(done.length, 2);
  });

  it('non-streaming parallel tool calls', async () => {
    const data = await client.chat.completions.create({
      model: `${upstream}-parallel-json`,
      tools: [WEATHER_TOOL, READ_TOOL],
      tool_choice: 'required',
      messages: [{ role: 'user', content: 'Weather and file, please' }],
    });
    const msg = data.choices[0].message;
    assert.equal(data.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(
      msg.tool_calls.map((c) => [c.id, c.type, c.function.name, JSON.parse(c.function.arguments)]),
      [
        [toolId, 'function', 'get_weather', TOOL_ARGS],
        [toolId2, 'function', 'read_file', TOOL_ARGS_2],
      ],
    );
    const rec = stack.mock.lastFor(upstreamModel(upstream, 'parallel', 'json'));
    if (upstream === 'anthropic') assert.deepEqual(rec.body.tool_choice, { type: 'any' });
    else assert.equal(rec.body.tool_choice, 'required');
  });

  it('streaming reasoning', async () => {
    const out = await collect(
      await client.chat.completions.create({
        model: `${upstream}-thinking-stream`,
        stream: true,
        stream_options: { include_usage: true },
        reasoning_effort: 'medium',
        max_tokens: 8000,
        messages: [{ role: 'user', content: 'What is six times seven?' }],
      }),
    );
    assert.equal(out.reasoning, THINKING, 'reasoning arrives as reasoning_content deltas');
    assert.equal(out.content, THINKING_ANSWER);
    assert.equal(out.finish, 'stop');
    const rec = stack.mock.lastFor(upstreamModel(upstream, 'thinking', 'stream'));
    assert.equal(rec.rejected, undefined, rec.rejected);
    if (upstream === 'anthropic') {
      assert.equal(rec.body.thinking?.type, 'enabled', `thinking ${JSON.stringify(rec.body.thinking)}`);
      assert.ok(rec.body.thinking.budget_tokens >= 1024 && rec.body.thinking.budget_tokens < rec.body.max_tokens);
    } else {
      assert.equal(rec.body.reasoning_effort, 'medium');
    }
  });

  it('non-streaming reasoning', async () => {
    const data = await client.chat.completions.create({
      model: `${upstream}-thinking-json`,
      reasoning_effort: 'low',
      max_tokens: 8000,
      messages: [{ role: 'user', content: 'What is six times seven?' }],
    });
    assert.equal(data.choices[0].message.content, THINKING_ANSWER);
    assert.equal(data.choices[0].message.reasoning_content, THINKING);
  });

  it('upstream 429 is a RateLimitError with retry-after (streaming)', async () => {
    const err = await client.chat.completions.create({ model: `${upstream}-err429-stream`, stream: true, messages: [{ role: 'user', content: 'hi' }] }).then(
      () => null,
      (e) => e,
    );
    assert.ok(err instanceof sdk.OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, 429);
    assert.equal(err.headers.get('retry-after'), RETRY_AFTER);
    assert.equal(typeof err.error?.message, 'string');
    assert.equal(stack.mock.requestsFor(upstreamModel(upstream, 'err429', 'stream')).length, 1, 'no retry behind the client');
  });

  it('upstream 429 is a RateLimitError with retry-after (non-streaming)', async () => {
    const err = await client.chat.completions.create({ model: `${upstream}-err429-json`, messages: [{ role: 'user', content: 'hi' }] }).then(
      () => null,
      (e) => e,
    );
    assert.ok(err instanceof sdk.OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.headers.get('retry-after'), RETRY_AFTER);
  });

  it('upstream 500 is an InternalServerError', async () => {
    const err = await client.chat.completions.create({ model: `${upstream}-err500-json`, messages: [{ role: 'user', content: 'hi' }] }).then(
      () => null,
      (e) => e,
    );
    assert.ok(err instanceof sdk.OpenAI.InternalServerError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.ok(err.status >= 500);
  });

  it('user maps to metadata.user_id', async () => {
    await client.chat.completions.create({ model: `${upstream}-text-helper`, user: 'user-42', messages: [{ role: 'user', content: 'hi' }] });
    const rec = stack.mock.lastFor(upstreamModel(upstream, 'text', 'helper'));
    if (upstream === 'anthropic') assert.deepEqual(rec.body.metadata, { user_id: 'user-42' });
    else assert.equal(rec.body.user, 'user-42');
  });
}

test('unknown model is a NotFoundError', async () => {
  const err = await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }).then(
    () => null,
    (e) => e,
  );
  assert.ok(err instanceof sdk.OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err?.message}`);
});

test('wrong key is an AuthenticationError', async () => {
  const bad = new sdk.OpenAI({ apiKey: 'sk-wrong', baseURL: `${stack.daemon.url}/v1`, maxRetries: 0 });
  const err = await bad.chat.completions.create({ model: 'openai-text-json', messages: [{ role: 'user', content: 'hi' }] }).then(
    () => null,
    (e) => e,
  );
  assert.ok(err instanceof sdk.OpenAI.AuthenticationError, `got ${err?.constructor?.name}: ${err?.message}`);
});
