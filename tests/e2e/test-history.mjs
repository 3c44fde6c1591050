// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: Copyright © the litellmctl contributors
//
// Conversation histories as agents replay them, translated to the other
// dialect: parallel tool results with trailing text (Claude Code puts
// <system-reminder> text after its tool_result blocks), consecutive tool
// messages, developer and mid-conversation system messages, empty assistant
// content. The mock rejects what the real APIs reject (tool results that do
// not follow their calls, empty text blocks, roles it does not know).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { MASTER_KEY, loadSdks, startStack } from './lib/harness.mjs';
import { TEXT } from './lib/mock-upstream.mjs';

const CASES = ['parallel-results', 'results-then-text', 'system', 'empty-assistant', 'structured', 'no-parallel', 'control'];
const groups = [];
for (const c of ['a', 'o']) for (const u of ['openai', 'anthropic']) for (const k of CASES) groups.push({ name: `${c}-${u}-${k}`, upstream: u, model: `text.h-${c}-${u}-${k}` });

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
  if (stack !== undefined) await stack.stop();
});

const TOOLS_A = [
  { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { location: { type: 'string' } } } },
  { name: 'read_file', description: 'Read', input_schema: { type: 'object', properties: { path: { type: 'string' } } } },
];
const TOOLS_O = TOOLS_A.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.input_schema } }));

function last(client, u, k) {
  const rec = stack.mock.lastFor(`text.h-${client}-${u}-${k}`);
  assert.ok(rec, 'the upstream was called');
  return rec;
}

async function anthropicCall(u, k, params) {
  const api = params.betas !== undefined ? anthropic.beta.messages : anthropic.messages;
  const r = await api.create({ model: `a-${u}-${k}`, max_tokens: 100, ...params }).then(
    (v) => ({ v }),
    (e) => ({ e }),
  );
  const rec = stack.mock.lastFor(`text.h-a-${u}-${k}`);
  assert.ok(!r.e, `proxy answered ${r.e?.status}: ${r.e?.message}; upstream ${rec?.rejected ?? 'not called'}`);
  assert.equal(r.v.content[0].text, TEXT);
  return rec;
}

async function openaiCall(u, k, params) {
  const r = await openai.chat.completions.create({ model: `o-${u}-${k}`, ...params }).then(
    (v) => ({ v }),
    (e) => ({ e }),
  );
  const rec = stack.mock.lastFor(`text.h-o-${u}-${k}`);
  assert.ok(!r.e, `proxy answered ${r.e?.status}: ${r.e?.message}; upstream ${rec?.rejected ?? 'not called'}`);
  assert.equal(r.v.choices[0].message.content, TEXT);
  return rec;
}

const PARALLEL_ASSISTANT_A = {
  role: 'assistant',
  content: [
    { type: 'text', text: 'Checking both.' },
    { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { location: 'Paris' } },
    { type: 'tool_use', id: 'toolu_01B', name: 'read_file', input: { path: '/etc/hostname' } },
  ],
};

for (const u of ['openai', 'anthropic']) {
  test(`anthropic client -> ${u} upstream: parallel tool results in one user message`, async () => {
    const rec = await anthropicCall(u, 'parallel-results', {
      tools: TOOLS_A,
      messages: [
        { role: 'user', content: 'Weather and hostname?' },
        PARALLEL_ASSISTANT_A,
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_01A', content: 'Sunny' },
            { type: 'tool_result', tool_use_id: 'toolu_01B', content: [{ type: 'text', text: 'host1' }], is_error: false },
          ],
        },
      ],
    });
    assert.equal(rec.rejected, undefined, rec.rejected);
    if (u === 'openai') {
      const roles = rec.body.messages.map((m) => m.role);
      assert.deepEqual(roles, ['user', 'assistant', 'tool', 'tool']);
      assert.deepEqual(
        rec.body.messages.slice(2).map((m) => [m.tool_call_id, typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('')]),
        [
          ['toolu_01A', 'Sunny'],
          ['toolu_01B', 'host1'],
        ],
      );
      assert.equal(rec.body.messages[1].content, 'Checking both.');
    }
  });

  test(`anthropic client -> ${u} upstream: tool results followed by text, as Claude Code sends them`, async () => {
    const rec = await anthropicCall(u, 'results-then-text', {
      tools: TOOLS_A,
      messages: [
        { role: 'user', content: 'Weather and hostname?' },
        PARALLEL_ASSISTANT_A,
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_01A', content: 'Sunny', cache_control: { type: 'ephemeral' } },
            { type: 'tool_result', tool_use_id: 'toolu_01B', content: 'permission denied', is_error: true },
            { type: 'text', text: '<system-reminder>Be brief.</system-reminder>' },
          ],
        },
      ],
    });
    assert.equal(rec.rejected, undefined, rec.rejected);
    if (u === 'openai') {
      const roles = rec.body.messages.map((m) => m.role);
      assert.deepEqual(roles, ['user', 'assistant', 'tool', 'tool', 'user']);
      assert.match(JSON.stringify(rec.body.messages[4].content), /Be brief/);
      assert.equal(JSON.stringify(rec.body).includes('cache_control'), false, 'cache_control is Anthropic-only');
    } else {
      assert.deepEqual(rec.body.messages[2].content[0].cache_control, { type: 'ephemeral' });
      assert.equal(rec.body.messages[2].content[1].is_error, true);
    }
  });

  test(`anthropic client -> ${u} upstream: disable_parallel_tool_use`, async () => {
    const rec = await anthropicCall(u, 'no-parallel', {
      tools: TOOLS_A,
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      messages: [{ role: 'user', content: 'Weather?' }],
    });
    if (u === 'openai') {
      assert.equal(rec.body.parallel_tool_calls, false);
      assert.equal(rec.body.tool_choice, 'auto');
    } else {
      assert.deepEqual(rec.body.tool_choice, { type: 'auto', disable_parallel_tool_use: true });
    }
  });

  test(`openai client -> ${u} upstream: consecutive tool messages and a developer message`, async () => {
    const rec = await openaiCall(u, 'parallel-results', {
      tools: TOOLS_O,
      messages: [
        { role: 'developer', content: 'You are terse.' },
        { role: 'user', content: 'Weather and hostname?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
            { id: 'call_B', type: 'function', function: { name: 'read_file', arguments: '{"path":"/etc/hostname"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_A', content: 'Sunny' },
        { role: 'tool', tool_call_id: 'call_B', content: [{ type: 'text', text: 'host1' }] },
      ],
    });
    assert.equal(rec.rejected, undefined, rec.rejected);
    if (u === 'anthropic') {
      assert.ok(JSON.stringify(rec.body.system).includes('You are terse.'), `system ${JSON.stringify(rec.body.system)}`);
      assert.deepEqual(
        rec.body.messages.map((m) => m.role),
        ['user', 'assistant', 'user'],
      );
      const results = rec.body.messages[2].content.filter((b) => b.type === 'tool_result');
      assert.deepEqual(
        results.map((r) => r.tool_use_id),
        ['call_A', 'call_B'],
      );
      const uses = rec.body.messages[1].content.filter((b) => b.type === 'tool_use');
      assert.deepEqual(
        uses.map((x) => x.input),
        [{ location: 'Paris' }, { path: '/etc/hostname' }],
      );
    } else {
      assert.equal(rec.body.messages[0].role, 'developer');
    }
  });

  test(`openai client -> ${u} upstream: assistant tool call with empty content`, async () => {
    const rec = await openaiCall(u, 'empty-assistant', {
      tools: TOOLS_O,
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'call_E', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_E', content: 'Sunny' },
        { role: 'assistant', content: 'It is sunny.' },
        { role: 'user', content: [{ type: 'text', text: 'Thanks' }] },
      ],
    });
    assert.equal(rec.rejected, undefined, rec.rejected);
  });

  test(`openai client -> ${u} upstream: system message in the middle`, async () => {
    const rec = await openaiCall(u, 'system', {
      messages: [
        { role: 'system', content: 'Rule one.' },
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
        { role: 'system', content: 'Rule two.' },
        { role: 'user', content: 'again' },
      ],
    });
    assert.equal(rec.rejected, undefined, rec.rejected);
    if (u === 'anthropic') {
      const all = JSON.stringify(rec.body);
      assert.ok(all.includes('Rule one.') && all.includes('Rule two.'), 'no system text is lost');
    }
  });

  test(`openai client -> ${u} upstream: json_schema response_format`, async () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
    const rec = await openaiCall(u, 'structured', {
      response_format: { type: 'json_schema', json_schema: { name: 'reply', schema, strict: true } },
      messages: [{ role: 'user', content: 'Answer in JSON' }],
    });
    if (u === 'openai') assert.deepEqual(rec.body.response_format.json_schema.schema, schema);
    else {
      // Anthropic structured outputs (PROTOCOLS.md B4.9), or at least the
      // schema in the prompt: the intent must not be dropped silently.
      const format = rec.body.output_config?.format ?? rec.body.output_format;
      const text = JSON.stringify(rec.body);
      assert.ok(format !== undefined || text.includes('"answer"'), `schema lost: ${text}`);
    }
  });

  test(`anthropic client -> ${u} upstream: mid-conversation system message`, async () => {
    const rec = await anthropicCall(u, 'system', {
      system: 'Rule one.',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'system', content: 'Rule two.' },
      ],
      betas: ['mid-conversation-system-2026-04-07'],
    });
    assert.equal(rec.rejected, undefined, rec.rejected);
    const all = JSON.stringify(rec.body);
    assert.ok(all.includes('Rule two.'), 'the system message is not lost');
  });
}

// Tool output is arbitrary text: `git log --format=%H%x1f%s` separates with
// U+001F, binary files and `find -print0` carry NUL. JSON escapes them all.
let CONTROL = '';
for (let i = 0; i < 32; i++) CONTROL += String.fromCharCode(i);
const CONTROL_TEXT = `head${CONTROL}tail`;

// json-glib 1.6.6 cuts strings at NUL and leaves U+001F unescaped; the
// proxy writes its own JSON and carries NUL through parsing.

for (const u of ['openai', 'anthropic']) {
  test(`anthropic client -> ${u} upstream: control characters in a tool result arrive intact`, async () => {
    const rec = await anthropicCall(u, 'control', {
      tools: TOOLS_A,
      messages: [
        { role: 'user', content: 'Run it' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01C', name: 'read_file', input: { path: '/bin/true' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01C', content: CONTROL_TEXT }] },
      ],
    });
    const sent = u === 'openai' ? rec.body.messages[2].content : rec.body.messages[2].content[0].content;
    assert.equal(typeof sent === 'string' ? sent : sent.map((p) => p.text).join(''), CONTROL_TEXT);
  });

  test(`openai client -> ${u} upstream: control characters in a tool message arrive intact`, async () => {
    const rec = await openaiCall(u, 'control', {
      tools: TOOLS_O,
      messages: [
        { role: 'user', content: 'Run it' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_C', type: 'function', function: { name: 'read_file', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_C', content: CONTROL_TEXT },
      ],
    });
    const sent = u === 'openai' ? rec.body.messages[2].content : rec.body.messages[2].content[0].content;
    assert.equal(typeof sent === 'string' ? sent : sent.map((p) => p.text).join(''), CONTROL_TEXT);
  });
}
