// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: Copyright © the litellmctl contributors
//
// What a deployment's litellm_params do to the upstream request (defaults
// that apply unless the request sets them, extra headers, proxy settings
// that must never reach the body), drop_params both ways, and many
// concurrent streams through one daemon without cross-talk.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { MASTER_KEY, loadSdks, startStack } from './lib/harness.mjs';
import { ANTHROPIC_TOOL_ID, OPENAI_TOOL_ID, TEXT, TOOL_ARGS } from './lib/mock-upstream.mjs';

const DEFAULTS = { max_tokens: 1234, extra_headers: { 'x-deployment-header': 'from-config' } };

const groups = [];
for (const u of ['openai', 'anthropic']) {
  groups.push({ name: `${u}-defaults`, upstream: u, model: `text.p-${u}-defaults`, params: DEFAULTS });
  groups.push({ name: `${u}-thinking`, upstream: u, model: `text.p-${u}-thinking`, params: { thinking: { type: 'enabled', budget_tokens: 2048 } } });
  groups.push({ name: `${u}-idle`, upstream: u, model: `text.p-${u}-idle`, params: { stream_idle_timeout: 30 } });
  // The seed config's hand-written Z.AI entries carry these (PROTOCOLS.md §5.3, §7).
  groups.push({ name: `${u}-seedkeys`, upstream: u, model: `text.p-${u}-seedkeys`, params: { reasoning: true, input: ['text'] } });
  groups.push({ name: `${u}-plain`, upstream: u, model: `text.p-${u}-plain` });
  for (const s of ['text', 'tool']) groups.push({ name: `${u}-${s}-many`, upstream: u, model: `${s}.p-${u}-many` });
}

let strict;
let lenient;
let sdk;

function clientsFor(stack) {
  return {
    anthropic: new sdk.Anthropic({ apiKey: MASTER_KEY, baseURL: stack.daemon.url, maxRetries: 0, timeout: 20_000 }),
    openai: new sdk.OpenAI({ apiKey: MASTER_KEY, baseURL: `${stack.daemon.url}/v1`, maxRetries: 0, timeout: 20_000 }),
  };
}

before(async () => {
  sdk = await loadSdks();
  strict = await startStack(groups);
  strict.clients = clientsFor(strict);
  lenient = await startStack(groups, { settings: 'litellm_settings:\n  drop_params: true\n' });
  lenient.clients = clientsFor(lenient);
});

after(async () => {
  for (const s of [strict, lenient]) if (s !== undefined) await s.stop();
});

const settle = (p) =>
  p.then(
    (value) => ({ value }),
    (error) => ({ error }),
  );

async function ask(stack, client, group, extra = {}) {
  if (client === 'anthropic') return stack.clients.anthropic.messages.create({ model: group, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], ...extra });
  return stack.clients.openai.chat.completions.create({ model: group, messages: [{ role: 'user', content: 'hi' }], ...extra });
}

for (const u of ['openai', 'anthropic']) {
  const t = (title, ...rest) => test(`${u} upstream: ${title}`, ...rest);

  t('max_tokens from litellm_params applies unless the request sets it', async () => {
    await ask(strict, 'openai', `${u}-defaults`);
    assert.equal(strict.mock.lastFor(`text.p-${u}-defaults`).body.max_tokens, 1234);
    await ask(strict, 'openai', `${u}-defaults`, { max_tokens: 77 });
    const rec = strict.mock.lastFor(`text.p-${u}-defaults`);
    assert.equal(rec.body.max_tokens ?? rec.body.max_completion_tokens, 77);
  });

  t('extra_headers from litellm_params are headers, not body', async () => {
    await ask(strict, 'anthropic', `${u}-defaults`);
    const rec = strict.mock.lastFor(`text.p-${u}-defaults`);
    assert.equal(rec.headers['x-deployment-header'], 'from-config');
    assert.equal('extra_headers' in rec.body, false);
  });

  t('thinking from litellm_params applies when the request has none', async () => {
    await ask(strict, 'anthropic', `${u}-thinking`, { max_tokens: 4096 });
    const rec = strict.mock.lastFor(`text.p-${u}-thinking`);
    assert.equal(rec.rejected, undefined, rec.rejected);
    if (u === 'anthropic') assert.deepEqual(rec.body.thinking, { type: 'enabled', budget_tokens: 2048 });
    else assert.ok(rec.body.reasoning_effort, `reasoning_effort ${rec.body.reasoning_effort}`);
  });

  // stream_idle_timeout configures the proxy: it must not reach the body,
  // real APIs reject unknown keys with 400.
  t('stream_idle_timeout, a proxy setting, stays out of the upstream body', async () => {
    const r = await settle(ask(strict, 'openai', `${u}-idle`, { stream: false }));
    const rec = strict.mock.lastFor(`text.p-${u}-idle`);
    assert.equal('stream_idle_timeout' in rec.body, false, `upstream body: ${rec.raw}`);
    assert.ok(r.value, r.error?.message);
  });

  // The seed config's non-standard `reasoning` and `input` (hand-written
  // Z.AI entries) describe the model; they are not body fields.
  t('the seed config keys reasoning and input stay out of the upstream body', async () => {
    const r = await settle(ask(strict, 'anthropic', `${u}-seedkeys`));
    const rec = strict.mock.lastFor(`text.p-${u}-seedkeys`);
    assert.equal('input' in rec.body, false);
    assert.equal('reasoning' in rec.body, false, `upstream body: ${rec.raw}`);
    assert.ok(r.value, r.error?.message);
  });
}

test('drop_params false: a parameter the upstream cannot take is a 400 naming it', async () => {
  const r = await settle(ask(strict, 'anthropic', 'openai-plain', { top_k: 5 }));
  assert.ok(r.error instanceof sdk.Anthropic.BadRequestError, `got ${r.error?.constructor?.name}`);
  assert.match(r.error.message, /top_k/);
  const o = await settle(ask(strict, 'openai', 'anthropic-plain', { logit_bias: { 50256: -100 } }));
  assert.ok(o.error instanceof sdk.OpenAI.BadRequestError, `got ${o.error?.constructor?.name}`);
  assert.match(o.error.message, /logit_bias/);
});

test('drop_params true: the parameter is dropped and the request served', async () => {
  const r = await ask(lenient, 'anthropic', 'openai-plain', { top_k: 5 });
  assert.equal(r.content[0].text, TEXT);
  assert.equal('top_k' in lenient.mock.lastFor('text.p-openai-plain').body, false);
  const o = await ask(lenient, 'openai', 'anthropic-plain', { logit_bias: { 50256: -100 } });
  assert.equal(o.choices[0].message.content, TEXT);
  assert.equal('logit_bias' in lenient.mock.lastFor('text.p-anthropic-plain').body, false);
});

test('32 concurrent streams, both clients and both upstreams, no cross-talk', async () => {
  const { anthropic, openai } = strict.clients;
  const jobs = [];
  for (let i = 0; i < 32; i++) {
    const u = i % 2 === 0 ? 'openai' : 'anthropic';
    const s = i % 4 < 2 ? 'text' : 'tool';
    const client = i % 8 < 4 ? 'anthropic' : 'openai';
    const group = `${u}-${s}-many`;
    const toolId = u === 'openai' ? OPENAI_TOOL_ID : ANTHROPIC_TOOL_ID;
    if (client === 'anthropic') {
      const tools = s === 'tool' ? [{ name: 'get_weather', input_schema: { type: 'object' } }] : undefined;
      jobs.push(
        anthropic.messages
          .stream({ model: group, max_tokens: 100, tools, messages: [{ role: 'user', content: `job ${i}` }] })
          .finalMessage()
          .then((m) => {
            if (s === 'text') assert.equal(m.content[0].text, TEXT, `job ${i}`);
            else {
              const use = m.content.find((b) => b.type === 'tool_use');
              assert.equal(use.id, toolId, `job ${i}`);
              assert.deepEqual(use.input, TOOL_ARGS, `job ${i}`);
            }
          }),
      );
    } else {
      const tools = s === 'tool' ? [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] : undefined;
      jobs.push(
        (async () => {
          const stream = await openai.chat.completions.create({ model: group, stream: true, tools, messages: [{ role: 'user', content: `job ${i}` }] });
          let text = '';
          let args = '';
          let id;
          for await (const chunk of stream)
            for (const c of chunk.choices) {
              text += c.delta.content ?? '';
              for (const tc of c.delta.tool_calls ?? []) {
                id ??= tc.id;
                args += tc.function?.arguments ?? '';
              }
            }
          if (s === 'text') assert.equal(text, TEXT, `job ${i}`);
          else {
            assert.equal(id, toolId, `job ${i}`);
            assert.equal(args, JSON.stringify(TOOL_ARGS), `job ${i}`);
          }
        })(),
      );
    }
  }
  const results = await Promise.allSettled(jobs);
  const failed = results.filter((r) => r.status === 'rejected').map((r) => r.reason?.message);
  assert.deepEqual(failed, []);
});
