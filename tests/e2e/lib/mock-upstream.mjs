// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: Copyright © the litellmctl contributors
//
// A mock upstream that speaks OpenAI Chat Completions (under /openai/v1)
// and Anthropic Messages (under /anthropic/v1), JSON and SSE, written from
// the documented wire formats (PROTOCOLS.md B2). The behaviour is chosen per
// request by the model name the proxy sends upstream: the part before the
// first '.' is the scenario, the rest a tag that lets a test find its own
// requests. Every request is recorded (headers and parsed body) so tests can
// assert what the proxy sent.

import http from 'node:http';
import zlib from 'node:zlib';

export const TEXT_PARTS = ['Hello', ' from', ' the mock', ' upstream.'];
export const TEXT = TEXT_PARTS.join('');
export const THINKING_PARTS = ['Let me think', ' about this', ' carefully.'];
export const THINKING = THINKING_PARTS.join('');
export const THINKING_ANSWER = 'The answer is 42.';
// Signatures are opaque base64; the '+', '/' and '=' catch any re-encoding.
export const SIGNATURE = 'EqQBCkYIBRgCIkB0ZXN0+c2lnbmF0dXJl/w==Zm9vYmFy+KzE2MzQ1Njc4OTAxMjM0NTY3ODkw/YWJjZGVmZ2hpams=';
// Arguments with unicode, escapes and nesting, so a proxy that re-serialises
// or cuts fragments at the wrong place shows up.
export const TOOL_ARGS = {
  location: 'Paris, Île-de-France',
  unit: 'celsius',
  days: [1, 2, 3],
  options: { hourly: false, note: 'say "hi"\n\tthen 🌦 leave', ratio: 0.25, none: null },
};
export const TOOL_ARGS_2 = { path: '/tmp/a b/c.txt', limit: 10 };
export const OPENAI_TOOL_ID = 'call_mockA1b2C3';
export const OPENAI_TOOL_ID_2 = 'call_mockD4e5F6';
export const ANTHROPIC_TOOL_ID = 'toolu_01MockAbcDefGhiJkl';
export const ANTHROPIC_TOOL_ID_2 = 'toolu_01MockMnoPqrStuVwx';
// What the mock reports as usage, so tests can check it arrives unchanged.
export const USAGE = { input: 21, output: 9, cache_read: 5, reasoning: 4 };
export const COUNT_TOKENS = 4242;
export const REDACTED_DATA = 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj2pabc+def/ghiJ==';
// Multi-byte UTF-8 that a byte-wise split cuts in the middle of characters.
export const UNICODE_PARTS = ['Grüße ', '你好世界', ' 🌍🚀', ' “done”'];
// Control characters, NUL included, are valid in JSON strings (\u0000) and
// turn up in tool output; a C string must not cut them off.
export const NUL_PARTS = ['before\u0000after', ' \u0001\u001f end'];
export const SLOW_PARTS = Array.from({ length: 100 }, (_, i) => `tick${i} `);
export const RETRY_AFTER = '7';

const EVENT_DELAY_MS = 15;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Splits a string into fragments of n UTF-16 units without cutting a
// surrogate pair, as real upstreams cut arguments in arbitrary places.
function fragments(s, n) {
  const out = [];
  let cur = '';
  for (const ch of s) {
    if (cur.length + ch.length > n && cur.length > 0) {
      out.push(cur);
      cur = '';
    }
    cur += ch;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

function scenarioOf(model) {
  return String(model ?? '').split('.')[0];
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------
// Request checks a real upstream would make: the proxy must not send what
// the real API rejects.

// Top-level request keys the real APIs accept; anything else is rejected
// ("Unrecognized request argument supplied" / "Extra inputs are not
// permitted"), so settings of the proxy must never leak into the body.
const OPENAI_KEYS = new Set([
  'model', 'messages', 'max_tokens', 'max_completion_tokens', 'stream', 'stream_options', 'temperature', 'top_p', 'n',
  'stop', 'presence_penalty', 'frequency_penalty', 'logit_bias', 'logprobs', 'top_logprobs', 'user', 'tools',
  'tool_choice', 'parallel_tool_calls', 'response_format', 'seed', 'reasoning_effort', 'service_tier', 'store',
  'metadata', 'modalities', 'audio', 'prediction', 'web_search_options', 'verbosity', 'prompt_cache_key',
  'safety_identifier', 'functions', 'function_call',
]);
const ANTHROPIC_KEYS = new Set([
  'model', 'messages', 'max_tokens', 'system', 'metadata', 'stop_sequences', 'stream', 'temperature', 'top_p', 'top_k',
  'tools', 'tool_choice', 'thinking', 'service_tier', 'container', 'mcp_servers', 'context_management', 'output_config',
  'output_format', 'inference_geo',
]);

function unknownKeys(body, known, tolerated) {
  return Object.keys(body).filter((k) => !known.has(k) && !tolerated.has(k));
}

function checkOpenAI(body, tolerated) {
  const extra = unknownKeys(body, OPENAI_KEYS, tolerated);
  if (extra.length > 0) return `Unrecognized request argument supplied: ${extra.join(', ')}`;
  if (typeof body.model !== 'string') return 'model: required';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: required';
  const open = new Set();
  for (const [i, m] of body.messages.entries()) {
    if (!['system', 'developer', 'user', 'assistant', 'tool'].includes(m.role)) return `messages[${i}].role: invalid ${m.role}`;
    // OpenAI: "An assistant message with 'tool_calls' must be followed by
    // tool messages responding to each 'tool_call_id'."
    if (m.role !== 'tool' && open.size > 0)
      return `messages[${i}]: an assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id' (missing ${[...open].join(', ')})`;
    if (m.role === 'assistant' && Array.isArray(m.tool_calls)) {
      for (const tc of m.tool_calls) {
        if (typeof tc.id !== 'string' || tc.type !== 'function' || typeof tc.function?.name !== 'string' || typeof tc.function?.arguments !== 'string')
          return `messages[${i}].tool_calls: malformed ${JSON.stringify(tc)}`;
        open.add(tc.id);
      }
    }
    if (m.role === 'tool') {
      // Tool messages carry text only: a string or text parts.
      if (Array.isArray(m.content) && m.content.some((part) => part.type !== 'text'))
        return `messages[${i}].content: tool messages accept only text parts, got ${m.content.map((part) => part.type).join(', ')}`;
      if (!open.has(m.tool_call_id)) return `messages[${i}]: tool_call_id ${m.tool_call_id} does not answer a preceding tool call`;
      open.delete(m.tool_call_id);
    }
  }
  if (open.size > 0) return `messages: tool calls without tool messages: ${[...open].join(', ')}`;
  if (body.stream_options !== undefined && body.stream !== true) return 'stream_options: only allowed when stream is true';
  for (const t of body.tools ?? []) {
    if (t.type !== 'function' || typeof t.function?.name !== 'string') return `tools: malformed ${JSON.stringify(t)}`;
  }
  return null;
}

function checkAnthropic(body, countOnly, betas, tolerated) {
  const extra = unknownKeys(body, ANTHROPIC_KEYS, tolerated);
  if (extra.length > 0) return `${extra[0]}: Extra inputs are not permitted`;
  if (typeof body.model !== 'string') return 'model: Field required';
  if (!countOnly && !Number.isInteger(body.max_tokens)) return 'max_tokens: Field required';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: Field required';
  let prevToolUses = new Set();
  for (const [i, m] of body.messages.entries()) {
    // System messages inside messages need the beta Claude Code sends with them.
    if (m.role === 'system' && betas.includes('mid-conversation-system-2026-04-07') && typeof m.content === 'string') continue;
    if (!['user', 'assistant'].includes(m.role)) return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    const blocks = typeof m.content === 'string' ? [] : m.content;
    if (!Array.isArray(blocks)) return `messages.${i}.content: Input should be a valid list`;
    if (m.content === '' || (Array.isArray(m.content) && m.content.length === 0)) return `messages.${i}: all messages must have non-empty content`;
    // Every tool_use needs its tool_result in the very next message.
    const answered = new Set(blocks.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id));
    for (const id of prevToolUses)
      if (!answered.has(id)) return `messages.${i}: tool_use ids were found without tool_result blocks immediately after: ${id}`;
    const uses = new Set();
    for (const b of blocks) {
      if (b.type === 'text' && (typeof b.text !== 'string' || b.text === '')) return `messages.${i}: text content blocks must be non-empty`;
      if (b.type === 'tool_use') {
        if (typeof b.id !== 'string' || typeof b.input !== 'object' || b.input === null) return `messages.${i}: malformed tool_use`;
        uses.add(b.id);
      }
      if (b.type === 'tool_result' && !prevToolUses.has(b.tool_use_id))
        return `messages.${i}: tool_result ${b.tool_use_id} has no corresponding tool_use in the previous message`;
      if (b.type === 'thinking' && typeof b.signature !== 'string') return `messages.${i}: thinking block without signature`;
    }
    prevToolUses = uses;
  }
  if (body.thinking?.type === 'enabled' && !(body.thinking.budget_tokens >= 1024)) return 'thinking.budget_tokens: must be >= 1024';
  return null;
}

// ---------------------------------------------------------------------
// The answer of a scenario, as a dialect-neutral plan.

function lastToolResult(dialect, body) {
  const msgs = body.messages ?? [];
  const last = msgs[msgs.length - 1];
  if (last === undefined) return null;
  if (dialect === 'openai') {
    const results = msgs.filter((m) => m.role === 'tool');
    if (last.role !== 'tool') return null;
    const c = results[results.length - 1].content;
    return typeof c === 'string' ? c : c.map((p) => p.text ?? '').join('');
  }
  if (last.role !== 'user' || !Array.isArray(last.content)) return null;
  const r = last.content.find((b) => b.type === 'tool_result');
  if (r === undefined) return null;
  return typeof r.content === 'string' ? r.content : r.content.map((p) => p.text ?? '').join('');
}

function firstToolName(dialect, body) {
  const t = (body.tools ?? [])[0];
  if (t === undefined) return 'get_weather';
  return dialect === 'openai' ? t.function.name : t.name;
}

function plan(dialect, body, scripts) {
  const scenario = scenarioOf(body.model);
  const script = scripts.get(scenario) ?? scripts.get('*');
  if (script !== undefined) return script(body, dialect, { lastToolResult: lastToolResult(dialect, body) });
  const toolId = dialect === 'openai' ? OPENAI_TOOL_ID : ANTHROPIC_TOOL_ID;
  const toolId2 = dialect === 'openai' ? OPENAI_TOOL_ID_2 : ANTHROPIC_TOOL_ID_2;
  switch (scenario) {
    case 'text':
      return { blocks: [{ type: 'text', parts: TEXT_PARTS }], stop: 'end' };
    case 'thinking':
      return {
        blocks: [
          { type: 'thinking', parts: THINKING_PARTS, signature: SIGNATURE },
          { type: 'text', parts: [THINKING_ANSWER] },
        ],
        stop: 'end',
      };
    case 'tool':
    case 'parallel': {
      const result = lastToolResult(dialect, body);
      if (result !== null) return { blocks: [{ type: 'text', parts: ['Tool said: ', result] }], stop: 'end' };
      const name = firstToolName(dialect, body);
      const blocks = [{ type: 'tool', id: toolId, name, args: JSON.stringify(TOOL_ARGS) }];
      if (scenario === 'parallel') {
        const t2 = (body.tools ?? [])[1];
        const name2 = t2 === undefined ? 'read_file' : dialect === 'openai' ? t2.function.name : t2.name;
        blocks.push({ type: 'tool', id: toolId2, name: name2, args: JSON.stringify(TOOL_ARGS_2) });
      }
      return { blocks: [{ type: 'text', parts: ['Let me check.'] }, ...blocks], stop: 'tool' };
    }
    case 'maxtokens':
      return { blocks: [{ type: 'text', parts: TEXT_PARTS }], stop: 'length' };
    case 'stopseq':
      return { blocks: [{ type: 'text', parts: TEXT_PARTS }], stop: 'stop_sequence', stopSequence: 'END' };
    case 'redacted':
      return {
        blocks: [
          ...(dialect === 'anthropic' ? [{ type: 'redacted', data: REDACTED_DATA }] : []),
          { type: 'thinking', parts: THINKING_PARTS, signature: SIGNATURE },
          { type: 'text', parts: [THINKING_ANSWER] },
        ],
        stop: 'end',
      };
    case 'tool1shot': {
      const result = lastToolResult(dialect, body);
      if (result !== null) return { blocks: [{ type: 'text', parts: ['Tool said: ', result] }], stop: 'end' };
      return { blocks: [{ type: 'tool', id: toolId, name: firstToolName(dialect, body), args: JSON.stringify(TOOL_ARGS), oneShot: true }], stop: 'tool' };
    }
    case 'slow':
      return { blocks: [{ type: 'text', parts: SLOW_PARTS }], stop: 'end', delay: 30 };
    case 'cut':
      return { blocks: [{ type: 'text', parts: TEXT_PARTS }], stop: 'end', cutAfter: 2 };
    case 'streamerror':
      return { blocks: [{ type: 'text', parts: TEXT_PARTS }], stop: 'end', errorAfter: 2 };
    case 'earlyerror':
      return { blocks: [{ type: 'text', parts: TEXT_PARTS }], stop: 'end', errorAfter: 0 };
    case 'nul':
      return { blocks: [{ type: 'text', parts: NUL_PARTS }], stop: 'end' };
    case 'chunky':
      return { blocks: [{ type: 'text', parts: UNICODE_PARTS }], stop: 'end', chunky: true };
    case 'crlf':
      return { blocks: [{ type: 'text', parts: TEXT_PARTS }], stop: 'end', crlf: true };
    case 'nodone':
      return { blocks: [{ type: 'text', parts: TEXT_PARTS }], stop: 'end', noTerminal: true };
    case 'gzip':
      return { blocks: [{ type: 'text', parts: TEXT_PARTS }], stop: 'end', gzip: true };
    case 'silent':
      return { blocks: [{ type: 'text', parts: TEXT_PARTS }], stop: 'end', silentMs: 1500 };
    case 'stall':
      return { blocks: [{ type: 'text', parts: SLOW_PARTS }], stop: 'end', stallAfter: 3 };
    case 'html':
      return { html: true };
    case 'err400':
      return { error: 400 };
    case 'err429':
      return { error: 429 };
    case 'err500':
      return { error: 500 };
    case 'overloaded':
      return { error: 529 };
    case 'empty':
      return { blocks: [{ type: 'text', parts: [''] }], stop: 'end' };
    default:
      return { blocks: [{ type: 'text', parts: [`unknown scenario ${scenario}`] }], stop: 'end' };
  }
}

// Writes SSE text the way the scenario's server does: in tiny byte pieces
// (a decoder must buffer partial lines and partial UTF-8), with CRLF line
// ends and comment lines (as some gateways do).
function sseWriter(res, p) {
  return async (text) => {
    // The proxy hung up: stop producing, as a real server does.
    if (res.destroyed || res.writableEnded) throw new ClientGone();
    if (p.crlf) text = `: keep-alive\n\n${text}`.replace(/\n/g, '\r\n');
    if (!p.chunky) {
      res.write(text);
      return;
    }
    const bytes = Buffer.from(text, 'utf8');
    for (let i = 0; i < bytes.length; i += 3) {
      res.write(bytes.subarray(i, i + 3));
      await sleep(1);
    }
  };
}

// A JSON answer, gzip-compressed when the scenario asks and the client
// accepts it, as real APIs answer.
function sendJson(req, res, p, headers, body) {
  const data = JSON.stringify(body);
  if (p.gzip && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
    res.writeHead(200, { ...headers, 'content-type': 'application/json', 'content-encoding': 'gzip' });
    res.end(zlib.gzipSync(data));
    return;
  }
  res.writeHead(200, { ...headers, 'content-type': 'application/json' });
  res.end(data);
}

function sendHtml(res) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>\n');
}

// ---------------------------------------------------------------------
// OpenAI Chat Completions

function openaiError(res, status, message, type, code, retryAfter = RETRY_AFTER) {
  const headers = { 'content-type': 'application/json' };
  if (status === 429) headers['retry-after'] = retryAfter;
  res.writeHead(status, headers);
  res.end(JSON.stringify({ error: { message, type, param: null, code } }));
}

function openaiFinish(stop) {
  return { tool: 'tool_calls', length: 'length' }[stop] ?? 'stop';
}

function anthropicStop(stop) {
  return { tool: 'tool_use', length: 'max_tokens', stop_sequence: 'stop_sequence' }[stop] ?? 'end_turn';
}

// Ends a response the way a dying upstream does: a reset connection.
function cut(res) {
  res.socket?.resetAndDestroy?.() ?? res.destroy();
}

function openaiUsage(p) {
  const reasoning = p.blocks.some((b) => b.type === 'thinking') ? USAGE.reasoning : 0;
  return {
    prompt_tokens: USAGE.input,
    completion_tokens: USAGE.output,
    total_tokens: USAGE.input + USAGE.output,
    prompt_tokens_details: { cached_tokens: USAGE.cache_read },
    completion_tokens_details: { reasoning_tokens: reasoning },
  };
}

async function serveOpenAI(req, res, body, record, scripts) {
  const p = plan('openai', body, scripts);
  record.scenario = scenarioOf(body.model);
  if (p.html) return sendHtml(res);
  if (p.error === 429) return openaiError(res, 429, 'Rate limit reached for requests (mock)', 'requests', 'rate_limit_exceeded', p.retryAfter);
  if (p.error === 400)
    return openaiError(
      res,
      400,
      "This model's maximum context length is 8192 tokens. However, your messages resulted in 9001 tokens. Please reduce the length of the messages.",
      'invalid_request_error',
      'context_length_exceeded',
    );
  if (p.error) return openaiError(res, 500, 'The server had an error while processing your request (mock)', 'server_error', null);

  const id = `chatcmpl-mock${Date.now().toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  const model = body.model;

  if (p.cutAfter !== undefined && body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
    res.write('{"id":"chatcmpl-cut","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hel');
    await sleep(EVENT_DELAY_MS);
    return cut(res);
  }
  if (body.stream !== true) {
    const message = { role: 'assistant', content: null, refusal: null };
    for (const b of p.blocks) {
      if (b.type === 'text') message.content = (message.content ?? '') + b.parts.join('');
      if (b.type === 'thinking') message.reasoning_content = b.parts.join('');
      if (b.type === 'tool') {
        message.tool_calls ??= [];
        message.tool_calls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: b.args } });
      }
    }
    sendJson(req, res, p, {}, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: openaiFinish(p.stop) }],
      usage: openaiUsage(p),
      system_fingerprint: 'fp_mock',
    });
    return;
  }

  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const write = sseWriter(res, p);
  let sent = 0;
  const chunk = async (choices, extra = {}) => {
    if (p.errorAfter !== undefined && sent >= p.errorAfter) throw new StreamErrorSignal();
    await write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_mock', choices, ...extra })}\n\n`);
    sent++;
    await sleep(sent === 1 && p.silentMs ? p.silentMs : (p.delay ?? EVENT_DELAY_MS));
    if (p.stallAfter !== undefined && sent >= p.stallAfter) await stall(res);
    if (p.cutAfter !== undefined && sent > p.cutAfter) throw new CutError();
  };
  const delta = (d, finish = null) => chunk([{ index: 0, delta: d, logprobs: null, finish_reason: finish }]);

  try {
    await streamOpenAI(p, delta, chunk, body);
  } catch (e) {
    if (e instanceof CutError) return cut(res);
    if (e instanceof ClientGone) return;
    if (!(e instanceof StreamErrorSignal)) throw e;
    // How OpenAI-compatible servers report a failure after the 200.
    await write(`data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request (mock)', type: 'server_error', code: null } })}\n\n`);
    res.end();
    return;
  }
  if (!p.noTerminal) await write('data: [DONE]\n\n');
  res.end();
}

class CutError extends Error {}
class ClientGone extends Error {}

// Says nothing more until the proxy gives up on us (or 30 s pass); the
// timer does not keep the test process alive.
function stall(res) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 30_000);
    timer.unref();
    res.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
class StreamErrorSignal extends Error {}

async function streamOpenAI(p, delta, chunk, body) {
  await delta({ role: 'assistant', content: '', refusal: null });
  let toolIndex = 0;
  for (const b of p.blocks) {
    if (b.type === 'thinking') for (const part of b.parts) await delta({ reasoning_content: part });
    if (b.type === 'text') for (const part of b.parts) await delta({ content: part });
    if (b.type === 'tool') {
      const index = toolIndex++;
      if (b.oneShot) {
        // Some servers send id, name and the whole arguments in one delta.
        await delta({ tool_calls: [{ index, id: b.id, type: 'function', function: { name: b.name, arguments: b.args } }] });
        continue;
      }
      await delta({ tool_calls: [{ index, id: b.id, type: 'function', function: { name: b.name, arguments: '' } }] });
      for (const frag of fragments(b.args, 7)) await delta({ tool_calls: [{ index, function: { arguments: frag } }] });
    }
  }
  await delta({}, openaiFinish(p.stop));
  if (body.stream_options?.include_usage === true) await chunk([], { usage: openaiUsage(p) });
}

// ---------------------------------------------------------------------
// Anthropic Messages

function anthropicError(res, status, type, message, retryAfter = RETRY_AFTER) {
  const headers = { 'content-type': 'application/json', 'request-id': 'req_mock_error' };
  if (status === 429) headers['retry-after'] = retryAfter;
  res.writeHead(status, headers);
  res.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: 'req_mock_error' }));
}

function anthropicContent(p) {
  return p.blocks.map((b) => {
    if (b.type === 'text') return { type: 'text', text: b.parts.join('') };
    if (b.type === 'thinking') return { type: 'thinking', thinking: b.parts.join(''), signature: b.signature };
    if (b.type === 'redacted') return { type: 'redacted_thinking', data: b.data };
    return { type: 'tool_use', id: b.id, name: b.name, input: JSON.parse(b.args) };
  });
}

async function serveAnthropic(req, res, body, record, scripts) {
  const p = plan('anthropic', body, scripts);
  record.scenario = scenarioOf(body.model);
  if (p.html) return sendHtml(res);
  if (p.error === 429) return anthropicError(res, 429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit (mock)', p.retryAfter);
  if (p.error === 400) return anthropicError(res, 400, 'invalid_request_error', 'prompt is too long: 210000 tokens > 200000 maximum');
  if (p.error === 529) return anthropicError(res, 529, 'overloaded_error', 'Overloaded (mock)');
  if (p.error) return anthropicError(res, 500, 'api_error', 'Internal server error (mock)');

  const id = `msg_01Mock${Date.now().toString(36)}`;
  const stopReason = anthropicStop(p.stop);
  const stopSequence = p.stopSequence ?? null;
  const usage = {
    input_tokens: USAGE.input,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: USAGE.cache_read,
    output_tokens: USAGE.output,
  };

  if (p.cutAfter !== undefined && body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
    res.write('{"id":"msg_cut","type":"message","role":"assistant","content":[{"type":"text","text":"Hel');
    await sleep(EVENT_DELAY_MS);
    return cut(res);
  }
  if (body.stream !== true) {
    sendJson(req, res, p, { 'request-id': 'req_mock_ok' }, {
      id,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: anthropicContent(p),
      stop_reason: stopReason,
      stop_sequence: stopSequence,
      usage,
    });
    return;
  }

  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': 'req_mock_ok' });
  const write = sseWriter(res, p);
  let sent = 0;
  const event = async (type, data) => {
    // errorAfter counts content events: message_start always goes first.
    if (p.errorAfter !== undefined && sent > 0 && sent >= p.errorAfter + (p.errorAfter > 0 ? 2 : 1)) throw new StreamErrorSignal();
    if (p.noTerminal && type === 'message_stop') return;
    await write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    sent++;
    await sleep(sent === 1 && p.silentMs ? p.silentMs : (p.delay ?? EVENT_DELAY_MS));
    if (p.stallAfter !== undefined && sent >= p.stallAfter + 2) await stall(res);
    if (p.cutAfter !== undefined && sent > p.cutAfter + 2) throw new CutError();
  };
  try {
    await streamAnthropic(p, event, body, id, usage, stopReason, stopSequence);
  } catch (e) {
    if (e instanceof CutError) return cut(res);
    if (e instanceof ClientGone) return;
    if (!(e instanceof StreamErrorSignal)) throw e;
    await write(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded (mock)' } })}\n\n`);
    res.end();
    return;
  }
  res.end();
}

async function streamAnthropic(p, event, body, id, usage, stopReason, stopSequence) {
  await event('message_start', {
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...usage, output_tokens: 1 },
    },
  });
  for (const [index, b] of p.blocks.entries()) {
    if (b.type === 'text') {
      await event('content_block_start', { index, content_block: { type: 'text', text: '' } });
      if (index === 0) await event('ping', {});
      for (const part of b.parts) await event('content_block_delta', { index, delta: { type: 'text_delta', text: part } });
    } else if (b.type === 'redacted') {
      await event('content_block_start', { index, content_block: { type: 'redacted_thinking', data: b.data } });
    } else if (b.type === 'thinking') {
      await event('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
      if (index === 0) await event('ping', {});
      for (const part of b.parts) await event('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: part } });
      await event('content_block_delta', { index, delta: { type: 'signature_delta', signature: b.signature } });
    } else {
      await event('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
      await event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } });
      for (const frag of b.oneShot ? [b.args] : fragments(b.args, 7)) await event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: frag } });
    }
    await event('content_block_stop', { index });
  }
  await event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: stopSequence }, usage: { output_tokens: USAGE.output } });
  await event('message_stop', {});
}

// ---------------------------------------------------------------------

export class MockUpstream {
  constructor() {
    this.requests = [];
    this.scripts = new Map();
    // Unknown body keys to accept anyway (see tolerate()).
    this.tolerated = new Set();
    this.server = http.createServer((req, res) => this.#handle(req, res));
    this.sockets = new Set();
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    this.openaiBase = `http://127.0.0.1:${this.port}/openai/v1`;
    this.anthropicBase = `http://127.0.0.1:${this.port}/anthropic`;
    return this;
  }

  async stop() {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  // Lets a test script a scenario ('*': any model no other scenario or
  // script claims): fn(body, dialect, { lastToolResult })
  // returns { blocks: [{type: 'text', parts} | {type: 'thinking', parts,
  // signature} | {type: 'tool', id, name, args}], stop: 'end'|'tool' }.
  script(scenario, fn) {
    this.scripts.set(scenario, fn);
  }

  // Accepts an unknown body key a real API would reject: only for a test of
  // something else while a known proxy bug sends it.
  tolerate(key) {
    this.tolerated.add(key);
  }

  // The requests whose upstream model is exactly @model, oldest first.
  requestsFor(model) {
    return this.requests.filter((r) => r.body?.model === model);
  }

  lastFor(model) {
    const all = this.requestsFor(model);
    return all[all.length - 1];
  }

  async #handle(req, res) {
    const raw = await readBody(req);
    const url = new URL(req.url, 'http://x');
    const record = { method: req.method, path: url.pathname, query: url.search, headers: req.headers, raw, body: null, dialect: null };
    this.requests.push(record);
    // A client that goes away must take its upstream request with it.
    res.on('close', () => {
      if (!res.writableFinished) record.aborted = true;
    });
    res.on('error', () => {});
    try {
      record.body = JSON.parse(raw);
    } catch (e) {
      record.rejected = `body is not JSON: ${e.message}`;
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'body is not JSON', type: 'invalid_request_error' } }));
      return;
    }
    try {
      if (req.method === 'POST' && url.pathname === '/openai/v1/chat/completions') {
        record.dialect = 'openai';
        const problem = checkOpenAI(record.body, this.tolerated);
        if (problem !== null) {
          record.rejected = problem;
          return openaiError(res, 400, problem, 'invalid_request_error', null);
        }
        return await serveOpenAI(req, res, record.body, record, this.scripts);
      }
      if (req.method === 'POST' && (url.pathname === '/anthropic/v1/messages' || url.pathname === '/anthropic/v1/messages/count_tokens')) {
        record.dialect = 'anthropic';
        const countOnly = url.pathname.endsWith('/count_tokens');
        if (req.headers['anthropic-version'] === undefined) {
          record.rejected = 'anthropic-version: header is required';
          return anthropicError(res, 400, 'invalid_request_error', record.rejected);
        }
        const betas = (req.headers['anthropic-beta'] ?? '').split(',').map((b) => b.trim());
        // Version 2026-10-21 rejects sampling parameters (PROTOCOLS.md B1).
        if (req.headers['anthropic-version'] === '2026-10-21') {
          const sampling = ['temperature', 'top_p', 'top_k'].filter((k) => k in record.body);
          if (sampling.length > 0) {
            record.rejected = `${sampling.join(', ')}: not supported with anthropic-version 2026-10-21`;
            return anthropicError(res, 400, 'invalid_request_error', record.rejected);
          }
        }
        const problem = checkAnthropic(record.body, countOnly, betas, this.tolerated);
        if (problem !== null) {
          record.rejected = problem;
          return anthropicError(res, 400, 'invalid_request_error', problem);
        }
        if (countOnly) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ input_tokens: COUNT_TOKENS }));
          return;
        }
        return await serveAnthropic(req, res, record.body, record, this.scripts);
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${url.pathname}`, type: 'not_found_error' } }));
    } catch (e) {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(e));
    }
  }
}

export async function startMock() {
  return new MockUpstream().start();
}
