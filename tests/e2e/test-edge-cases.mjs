// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: Copyright © the litellmctl contributors
//
// What goes wrong in real sessions, through both SDKs and both upstream
// dialects: stop reasons, streams cut or failing after the 200, clients
// that hang up, one-shot tool arguments, redacted thinking, images,
// sampling parameters and API versions.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { MASTER_KEY, loadSdks, startStack } from './lib/harness.mjs';
import { ANTHROPIC_TOOL_ID, OPENAI_TOOL_ID, REDACTED_DATA, SIGNATURE, TEXT, THINKING, THINKING_ANSWER, TOOL_ARGS } from './lib/mock-upstream.mjs';

const UPSTREAMS = ['openai', 'anthropic'];
const CLIENTS = ['anthropic', 'openai'];
const SCENARIOS = ['text', 'maxtokens', 'stopseq', 'redacted', 'tool1shot', 'slow', 'cut', 'overloaded'];
const VARIANTS = ['stream', 'json', 'x'];

function upstreamModel(client, upstream, scenario, v) {
  return `${scenario}.e-${client}-${upstream}-${v}`;
}
function group(client, upstream, scenario, v) {
  return `${client}-${upstream}-${scenario}-${v}`;
}

const groups = [];
for (const c of CLIENTS)
  for (const u of UPSTREAMS)
    for (const s of SCENARIOS) for (const v of VARIANTS) groups.push({ name: group(c, u, s, v), upstream: u, model: upstreamModel(c, u, s, v) });

const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Get the weather for a location',
  input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
};
const OPENAI_WEATHER_TOOL = {
  type: 'function',
  function: { name: WEATHER_TOOL.name, description: WEATHER_TOOL.description, parameters: WEATHER_TOOL.input_schema },
};
// A 1×1 transparent PNG.
const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

let stack;
let sdk;
let anthropic;
let openai;

before(async () => {
  sdk = await loadSdks();
  stack = await startStack(groups);
  anthropic = new sdk.Anthropic({ apiKey: MASTER_KEY, baseURL: stack.daemon.url, maxRetries: 0, timeout: 20_000 });
  openai = new sdk.OpenAI({ apiKey: MASTER_KEY, baseURL: `${stack.daemon.url}/v1`, maxRetries: 0, timeout: 20_000 });
});

after(async () => {
  if (stack === undefined) return;
  const r = await stack.stop();
  assert.ok(r.code === 0 || r.signal === 'SIGTERM', `daemon exit ${JSON.stringify(r)}`);
});

// Regression: an upstream error event after the first content event
// (Anthropic `event: error`, OpenAI `data: {"error": …}`) once crashed the
// daemon; these tests keep a daemon of their own so a crash cannot take
// the others down.

async function withOwnStack(client, u, fn) {
  const own = await startStack([{ name: group(client, u, 'streamerror', 'stream'), upstream: u, model: upstreamModel(client, u, 'streamerror', 'stream') }]);
  const clients = {
    anthropic: new sdk.Anthropic({ apiKey: MASTER_KEY, baseURL: own.daemon.url, maxRetries: 0, timeout: 10_000 }),
    openai: new sdk.OpenAI({ apiKey: MASTER_KEY, baseURL: `${own.daemon.url}/v1`, maxRetries: 0, timeout: 10_000 }),
  };
  try {
    await fn(clients[client]);
    // The daemon must still serve after the failed stream.
    const again = await fetch(`${own.daemon.url}/health`).then(
      (r) => r.status,
      (e) => String(e),
    );
    assert.equal(again, 200, 'the daemon survives');
  } finally {
    await own.stop();
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const settle = (p) =>
  p.then(
    (value) => ({ value }),
    (error) => ({ error }),
  );

async function collectOpenAI(stream) {
  const out = { content: '', reasoning: '', finish: null, tools: [] };
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      out.content += c.delta.content ?? '';
      out.reasoning += c.delta.reasoning_content ?? '';
      for (const tc of c.delta.tool_calls ?? []) {
        const slot = (out.tools[tc.index] ??= { id: undefined, name: undefined, arguments: '' });
        slot.id ??= tc.id;
        slot.name ??= tc.function?.name;
        slot.arguments += tc.function?.arguments ?? '';
      }
      out.finish = c.finish_reason ?? out.finish;
    }
  }
  return out;
}

for (const u of UPSTREAMS) {
  // ---- Anthropic client ------------------------------------------------
  const a = (name, fn) => test(`anthropic client -> ${u} upstream: ${name}`, fn);

  a('max_tokens stop reason, streaming and not', async () => {
    const params = { max_tokens: 5, messages: [{ role: 'user', content: 'Write a long story' }] };
    const streamed = await anthropic.messages.stream({ ...params, model: group('anthropic', u, 'maxtokens', 'stream') }).finalMessage();
    assert.equal(streamed.stop_reason, 'max_tokens');
    assert.equal(streamed.content[0].text, TEXT);
    const plain = await anthropic.messages.create({ ...params, model: group('anthropic', u, 'maxtokens', 'json') });
    assert.equal(plain.stop_reason, 'max_tokens');
  });

  a('stop sequences', async () => {
    const msg = await anthropic.messages.create({
      model: group('anthropic', u, 'stopseq', 'json'),
      max_tokens: 100,
      stop_sequences: ['END', 'STOP'],
      messages: [{ role: 'user', content: 'Count' }],
    });
    const rec = stack.mock.lastFor(upstreamModel('anthropic', u, 'stopseq', 'json'));
    if (u === 'openai') {
      assert.deepEqual(rec.body.stop, ['END', 'STOP']);
      assert.ok(['end_turn', 'stop_sequence'].includes(msg.stop_reason));
    } else {
      assert.deepEqual(rec.body.stop_sequences, ['END', 'STOP']);
      assert.equal(msg.stop_reason, 'stop_sequence');
      assert.equal(msg.stop_sequence, 'END');
    }
  });

  a('one-shot tool arguments', async () => {
    const msg = await anthropic.messages
      .stream({ model: group('anthropic', u, 'tool1shot', 'stream'), max_tokens: 200, tools: [WEATHER_TOOL], messages: [{ role: 'user', content: 'Weather?' }] })
      .finalMessage();
    const use = msg.content.find((b) => b.type === 'tool_use');
    assert.equal(use.id, u === 'openai' ? OPENAI_TOOL_ID : ANTHROPIC_TOOL_ID);
    assert.deepEqual(use.input, TOOL_ARGS);
    assert.equal(msg.stop_reason, 'tool_use');
  });

  a('tool_choice maps', async () => {
    await anthropic.messages.create({
      model: group('anthropic', u, 'text', 'x'),
      max_tokens: 50,
      tools: [WEATHER_TOOL],
      tool_choice: { type: 'tool', name: 'get_weather' },
      messages: [{ role: 'user', content: 'Weather?' }],
    });
    const rec = stack.mock.lastFor(upstreamModel('anthropic', u, 'text', 'x'));
    if (u === 'openai') assert.deepEqual(rec.body.tool_choice, { type: 'function', function: { name: 'get_weather' } });
    else assert.deepEqual(rec.body.tool_choice, { type: 'tool', name: 'get_weather' });
  });

  a('base64 image', async () => {
    await anthropic.messages.create({
      model: group('anthropic', u, 'text', 'json'),
      max_tokens: 50,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_B64 } },
            { type: 'text', text: 'What is this?' },
          ],
        },
      ],
    });
    const rec = stack.mock.lastFor(upstreamModel('anthropic', u, 'text', 'json'));
    const content = rec.body.messages[0].content;
    if (u === 'openai') {
      assert.deepEqual(content[0], { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_B64}` } });
      assert.deepEqual(content[1], { type: 'text', text: 'What is this?' });
    } else {
      assert.deepEqual(content[0], { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_B64 } });
    }
  });

  a('sampling parameters are not added for anthropic-version 2026-10-21', async () => {
    // The SDK sends 2026-10-21; the request has no sampling parameters, so
    // none may reach the upstream (the mock rejects them like the API).
    const msg = await anthropic.messages.create({ model: group('anthropic', u, 'text', 'stream'), max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(msg.content[0].text, TEXT);
    const rec = stack.mock.lastFor(upstreamModel('anthropic', u, 'text', 'stream'));
    for (const k of ['temperature', 'top_p', 'top_k']) assert.equal(k in rec.body, false, `${k} added`);
  });

  if (u === 'anthropic') {
    a('redacted thinking passes through and back byte-for-byte', async () => {
      const model = group('anthropic', u, 'redacted', 'stream');
      const messages = [{ role: 'user', content: 'Think' }];
      const msg = await anthropic.messages.stream({ model, max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, messages }).finalMessage();
      assert.deepEqual(
        msg.content.map((b) => b.type),
        ['redacted_thinking', 'thinking', 'text'],
      );
      assert.equal(msg.content[0].data, REDACTED_DATA);
      assert.equal(msg.content[1].signature, SIGNATURE);
      messages.push({ role: 'assistant', content: msg.content }, { role: 'user', content: 'Again' });
      await anthropic.messages.create({ model, max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, messages });
      const rec = stack.mock.lastFor(upstreamModel('anthropic', u, 'redacted', 'stream'));
      assert.deepEqual(rec.body.messages[1].content.slice(0, 2), [
        { type: 'redacted_thinking', data: REDACTED_DATA },
        { type: 'thinking', thinking: THINKING, signature: SIGNATURE },
      ]);
    });
  } else {
    a('thinking replayed to an OpenAI upstream does not break the request', async () => {
      const model = group('anthropic', u, 'redacted', 'stream');
      const messages = [
        { role: 'user', content: 'Think' },
        {
          role: 'assistant',
          content: [
            { type: 'redacted_thinking', data: REDACTED_DATA },
            { type: 'thinking', thinking: THINKING, signature: SIGNATURE },
            { type: 'text', text: THINKING_ANSWER },
          ],
        },
        { role: 'user', content: 'Again' },
      ];
      const msg = await anthropic.messages.create({ model, max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, messages });
      assert.equal(msg.content.at(-1).text, THINKING_ANSWER);
      const rec = stack.mock.lastFor(upstreamModel('anthropic', u, 'redacted', 'stream'));
      assert.equal(rec.body.messages[1].role, 'assistant');
      assert.equal(rec.body.messages[1].content, THINKING_ANSWER);
      assert.equal(JSON.stringify(rec.body).includes(REDACTED_DATA), false, 'redacted thinking is Anthropic-only');
    });
  }

  a('a stream cut by the upstream is an error, not a short answer', async () => {
    const stream = anthropic.messages.stream({ model: group('anthropic', u, 'cut', 'stream'), max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    const r = await settle(stream.finalMessage());
    assert.ok(r.error, `finished normally with ${JSON.stringify(r.value?.content)}`);
  });

  test(`anthropic client -> ${u} upstream: an in-stream upstream error reaches the client as an error`, () =>
    withOwnStack('anthropic', u, async (client) => {
      const stream = client.messages.stream({ model: group('anthropic', u, 'streamerror', 'stream'), max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
      const r = await settle(stream.finalMessage());
      assert.ok(r.error, `finished normally with ${JSON.stringify(r.value?.content)}`);
      assert.ok(r.error instanceof sdk.Anthropic.APIError, `got ${r.error?.constructor?.name}: ${r.error?.message}`);
    }),
  );

  a('a cut non-streaming answer is a server error', async () => {
    const r = await settle(anthropic.messages.create({ model: group('anthropic', u, 'cut', 'json'), max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }));
    assert.ok(r.error instanceof sdk.Anthropic.APIError && r.error.status >= 500, `got ${r.error?.constructor?.name}: ${r.error?.message}`);
  });

  a('a client that hangs up cancels the upstream request', async () => {
    const stream = anthropic.messages.stream({ model: group('anthropic', u, 'slow', 'stream'), max_tokens: 500, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    await new Promise((resolve) => {
      stream.on('text', (t) => {
        text += t;
        if (text.length > 10) resolve();
      });
      stream.on('error', resolve);
    });
    stream.abort();
    await settle(stream.finalMessage());
    const rec = stack.mock.lastFor(upstreamModel('anthropic', u, 'slow', 'stream'));
    for (let i = 0; i < 40 && rec.aborted !== true; i++) await sleep(50);
    assert.equal(rec.aborted, true, 'the upstream stream was still running 2 s after the client left');
  });

  if (u === 'anthropic') {
    a('overloaded stays overloaded', async () => {
      const r = await settle(anthropic.messages.create({ model: group('anthropic', u, 'overloaded', 'json'), max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }));
      assert.ok(r.error instanceof sdk.Anthropic.APIError, `got ${r.error?.constructor?.name}`);
      assert.equal(r.error.status, 529);
      assert.equal(r.error.error?.error?.type, 'overloaded_error');
    });
  }

  // ---- OpenAI client ---------------------------------------------------
  const o = (name, fn) => test(`openai client -> ${u} upstream: ${name}`, fn);

  o('length finish reason, streaming and not', async () => {
    const out = await collectOpenAI(
      await openai.chat.completions.create({ model: group('openai', u, 'maxtokens', 'stream'), stream: true, max_tokens: 5, messages: [{ role: 'user', content: 'Long story' }] }),
    );
    assert.equal(out.finish, 'length');
    assert.equal(out.content, TEXT);
    const plain = await openai.chat.completions.create({ model: group('openai', u, 'maxtokens', 'json'), max_tokens: 5, messages: [{ role: 'user', content: 'Long story' }] });
    assert.equal(plain.choices[0].finish_reason, 'length');
  });

  o('stop and sampling parameters map', async () => {
    await openai.chat.completions.create({
      model: group('openai', u, 'stopseq', 'json'),
      stop: ['END'],
      temperature: 0.3,
      top_p: 0.9,
      max_completion_tokens: 77,
      messages: [{ role: 'user', content: 'Count' }],
    });
    const rec = stack.mock.lastFor(upstreamModel('openai', u, 'stopseq', 'json'));
    assert.equal(rec.rejected, undefined, rec.rejected);
    if (u === 'anthropic') {
      assert.deepEqual(rec.body.stop_sequences, ['END']);
      assert.equal(rec.body.temperature, 0.3);
      // Current Claude models refuse temperature and top_p together: the
      // translation keeps temperature and leaves top_p out on purpose.
      assert.equal(rec.body.top_p, undefined);
      assert.equal(rec.body.max_tokens, 77);
    } else {
      assert.deepEqual(rec.body.stop, ['END']);
      assert.equal(rec.body.temperature, 0.3);
      assert.equal(rec.body.max_completion_tokens, 77);
    }
  });

  o('one-shot tool arguments', async () => {
    const out = await collectOpenAI(
      await openai.chat.completions.create({ model: group('openai', u, 'tool1shot', 'stream'), stream: true, tools: [OPENAI_WEATHER_TOOL], messages: [{ role: 'user', content: 'Weather?' }] }),
    );
    assert.equal(out.finish, 'tool_calls');
    assert.equal(out.tools.length, 1);
    assert.equal(out.tools[0].arguments, JSON.stringify(TOOL_ARGS));
  });

  o('image URL and base64', async () => {
    await openai.chat.completions.create({
      model: group('openai', u, 'text', 'json'),
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_B64}` } },
            { type: 'text', text: 'What are these?' },
          ],
        },
      ],
    });
    const rec = stack.mock.lastFor(upstreamModel('openai', u, 'text', 'json'));
    const content = rec.body.messages[0].content;
    if (u === 'anthropic') {
      assert.deepEqual(content[0], { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } });
      assert.deepEqual(content[1], { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_B64 } });
    } else {
      assert.equal(content[0].image_url.url, 'https://example.com/cat.png');
      assert.equal(content[1].image_url.url, `data:image/png;base64,${PNG_B64}`);
    }
  });

  o('a stream cut by the upstream is an error, not a short answer', async () => {
    const r = await settle(
      (async () =>
        collectOpenAI(await openai.chat.completions.create({ model: group('openai', u, 'cut', 'stream'), stream: true, messages: [{ role: 'user', content: 'hi' }] })))(),
    );
    assert.ok(r.error, `finished normally with ${JSON.stringify(r.value)}`);
  });

  test(`openai client -> ${u} upstream: an in-stream upstream error reaches the client as an error`, () =>
    withOwnStack('openai', u, async (client) => {
      const r = await settle(
        (async () =>
          collectOpenAI(await client.chat.completions.create({ model: group('openai', u, 'streamerror', 'stream'), stream: true, messages: [{ role: 'user', content: 'hi' }] })))(),
      );
      assert.ok(r.error, `finished normally with ${JSON.stringify(r.value)}`);
      assert.ok(r.error instanceof sdk.OpenAI.APIError, `got ${r.error?.constructor?.name}: ${r.error?.message}`);
    }),
  );

  o('a client that hangs up cancels the upstream request', async () => {
    const controller = new AbortController();
    const stream = await openai.chat.completions.create(
      { model: group('openai', u, 'slow', 'stream'), stream: true, messages: [{ role: 'user', content: 'hi' }] },
      { signal: controller.signal },
    );
    let text = '';
    await settle(
      (async () => {
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta?.content ?? '';
          if (text.length > 10) controller.abort();
        }
      })(),
    );
    const rec = stack.mock.lastFor(upstreamModel('openai', u, 'slow', 'stream'));
    for (let i = 0; i < 40 && rec.aborted !== true; i++) await sleep(50);
    assert.equal(rec.aborted, true, 'the upstream stream was still running 2 s after the client left');
  });

  if (u === 'anthropic') {
    o('reasoning round trip keeps the signature', async () => {
      // OpenAI clients cannot carry signatures: the next turn's assistant
      // message has no thinking; it must still be accepted upstream.
      const data = await openai.chat.completions.create({
        model: group('openai', u, 'redacted', 'json'),
        reasoning_effort: 'low',
        max_tokens: 4096,
        messages: [{ role: 'user', content: 'Think' }],
      });
      assert.equal(data.choices[0].message.reasoning_content, THINKING);
      await openai.chat.completions.create({
        model: group('openai', u, 'redacted', 'json'),
        reasoning_effort: 'low',
        max_tokens: 4096,
        messages: [
          { role: 'user', content: 'Think' },
          { role: 'assistant', content: data.choices[0].message.content },
          { role: 'user', content: 'Again' },
        ],
      });
      const rec = stack.mock.lastFor(upstreamModel('openai', u, 'redacted', 'json'));
      assert.equal(rec.rejected, undefined, rec.rejected);
    });
  }
}
