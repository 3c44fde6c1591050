// SPDX-License-Identifier: LGPL-2.1-or-later
// SPDX-FileCopyrightText: Copyright © the litellmctl contributors
//
// Shared setup of the e2e tests: the pinned npm packages installed into the
// build directory, a generated config, and the built daemon on a free port.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startMock } from './mock-upstream.mjs';

// meson passes --npm=PATH and --prefix=DIR after the test file.
function argValue(name) {
  const arg = process.argv.slice(2).find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? undefined : arg.slice(name.length + 3);
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = path.resolve(here, '..');
export const SOURCE_ROOT = process.env.LITELLMCTL_SOURCE_ROOT ?? path.resolve(SOURCE_DIR, '..', '..');
const BUILD_ROOT = process.env.LITELLMCTL_BUILD_ROOT ?? path.resolve(SOURCE_DIR, '..', '..', 'build');
export const NODE_PREFIX = argValue('prefix') ?? process.env.LITELLMCTL_E2E_PREFIX ?? path.join(BUILD_ROOT, 'tests', 'e2e');
const DAEMON = process.env.LITELLMCTL_E2E_DAEMON ?? path.join(BUILD_ROOT, 'src', 'daemon', 'litellmctld');
const NPM = argValue('npm') ?? process.env.LITELLMCTL_E2E_NPM ?? 'npm';

export const MASTER_KEY = 'sk-master-e2e-0123456789';
export const OPENAI_UPSTREAM_KEY = 'sk-upstream-openai-abcdef';
export const ANTHROPIC_UPSTREAM_KEY = 'sk-ant-api03-upstream-anthropic-abcdef';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Takes a lock shared by the test processes meson runs in parallel: the
// first one installs, the others wait and then find the stamp.
async function withLock(dir, fn) {
  const lock = path.join(dir, '.install.lock');
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      try {
        // A crashed installer leaves its lock behind.
        if (Date.now() - fs.statSync(lock).mtimeMs > 600_000) fs.rmdirSync(lock);
      } catch {}
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmdirSync(lock);
  }
}

// Installs tests/e2e/<sub>/package-lock.json into <prefix>/<sub> with
// `npm ci`, once per lockfile content (a stamp file names its hash).
export async function ensureNpmPackages(sub = '.') {
  const srcDir = path.join(SOURCE_DIR, sub);
  const dstDir = path.join(NODE_PREFIX, sub);
  const lock = fs.readFileSync(path.join(srcDir, 'package-lock.json'));
  const hash = createHash('sha256').update(lock).digest('hex').slice(0, 16);
  const stamp = path.join(dstDir, 'node_modules', `.litellmctl-e2e-${hash}`);
  fs.mkdirSync(dstDir, { recursive: true });
  if (fs.existsSync(stamp)) return dstDir;
  await withLock(dstDir, async () => {
    if (fs.existsSync(stamp)) return;
    fs.copyFileSync(path.join(srcDir, 'package.json'), path.join(dstDir, 'package.json'));
    fs.copyFileSync(path.join(srcDir, 'package-lock.json'), path.join(dstDir, 'package-lock.json'));
    const r = spawnSync(NPM, ['ci', '--prefix', dstDir, '--no-audit', '--no-fund', '--loglevel=error'], {
      // stdout carries TAP: npm's chatter goes to stderr.
      stdio: ['ignore', 2, 2],
      timeout: 540_000,
    });
    if (r.status !== 0) throw new Error(`npm ci --prefix ${dstDir} failed (status ${r.status}${r.error ? `, ${r.error.message}` : ''})`);
    fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
  });
  return dstDir;
}

// Bounds a test file once its packages are installed: a hung stream must
// fail the file, not stall the whole suite until meson's timeout.
export function startWatchdog(ms = 60_000) {
  const timer = setTimeout(() => {
    process.stderr.write(`e2e: test file still running after ${ms} ms, aborting\n`);
    process.exit(1);
  }, ms);
  timer.unref();
}

export async function loadSdks() {
  const dir = await ensureNpmPackages();
  startWatchdog();
  const require = createRequire(path.join(dir, 'package.json'));
  const openai = require('openai');
  const anthropic = require('@anthropic-ai/sdk');
  const OpenAI = openai.OpenAI ?? openai.default;
  const Anthropic = anthropic.Anthropic ?? anthropic.default;
  const versions = {
    openai: JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', 'openai', 'package.json'), 'utf8')).version,
    anthropic: JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', '@anthropic-ai', 'sdk', 'package.json'), 'utf8')).version,
  };
  return { OpenAI, Anthropic, versions };
}

function yamlString(s) {
  return JSON.stringify(String(s));
}

// groups: [{ name, upstream: 'openai'|'anthropic'|'mock', model, params? }]
export function renderConfig(mock, groups, extra = '') {
  const lines = ['model_list:'];
  for (const g of groups) {
    lines.push(`  - model_name: ${yamlString(g.name)}`, '    litellm_params:');
    if (g.upstream === 'openai') {
      lines.push(`      model: ${yamlString(`openai/${g.model}`)}`, `      api_base: ${yamlString(mock.openaiBase)}`, `      api_key: ${yamlString(OPENAI_UPSTREAM_KEY)}`);
    } else if (g.upstream === 'anthropic') {
      lines.push(`      model: ${yamlString(`anthropic/${g.model}`)}`, `      api_base: ${yamlString(mock.anthropicBase)}`, `      api_key: ${yamlString(ANTHROPIC_UPSTREAM_KEY)}`);
    } else {
      lines.push(`      model: ${yamlString(g.model)}`, `      mock_response: ${yamlString(g.mock_response)}`);
    }
    for (const [k, v] of Object.entries(g.params ?? {})) lines.push(`      ${k}: ${JSON.stringify(v)}`);
  }
  lines.push('general_settings:', `  master_key: ${yamlString(MASTER_KEY)}`);
  return `${lines.join('\n')}\n${extra}`;
}

export async function startDaemon(configText, { timeoutMs = 15_000, env: extraEnv = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'litellmctl-e2e-'));
  const configPath = path.join(dir, 'config.yaml');
  fs.writeFileSync(configPath, configText);
  for (const d of ['home', 'config', 'data', 'cache', 'state', 'runtime']) fs.mkdirSync(path.join(dir, d), { mode: 0o700 });
  const env = {
    ...process.env,
    // No session bus: the daemon serves HTTP only and never meets a
    // running instance or the user's keyring.
    DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent',
    HOME: path.join(dir, 'home'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CACHE_HOME: path.join(dir, 'cache'),
    XDG_STATE_HOME: path.join(dir, 'state'),
    XDG_RUNTIME_DIR: path.join(dir, 'runtime'),
    G_MESSAGES_DEBUG: process.env.LITELLMCTL_E2E_DEBUG ? 'all' : '',
    NO_PROXY: '*',
    ...extraEnv,
  };
  for (const k of ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'LITELLM_MASTER_KEY']) if (!(k in extraEnv)) delete env[k];
  delete env.LITELLMCTL_PORT;
  delete env.LITELLMCTL_HOST;
  const child = spawn(DAEMON, ['--config', configPath, '--host', '127.0.0.1', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const onData = (d) => {
    log += d.toString();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  const deadline = Date.now() + timeoutMs;
  let url = null;
  while (url === null) {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
    if (m) url = m[1];
    else if (child.exitCode !== null || child.signalCode !== null) throw new Error(`litellmctld exited before listening:\n${log}`);
    else if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`litellmctld did not listen within ${timeoutMs} ms:\n${log}`);
    } else await sleep(20);
  }
  return {
    url,
    dir,
    configPath,
    log: () => log,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        const r = await exited;
        clearTimeout(t);
        fs.rmSync(dir, { recursive: true, force: true });
        return r;
      }
      fs.rmSync(dir, { recursive: true, force: true });
      return { code: child.exitCode, signal: child.signalCode };
    },
  };
}

// Starts the mock and a daemon whose config routes @groups to it.
export async function startStack(groups, { settings = '', env = {} } = {}) {
  const mock = await startMock();
  const daemon = await startDaemon(renderConfig(mock, groups, settings), { env });
  return {
    mock,
    daemon,
    async stop() {
      const r = await daemon.stop();
      await mock.stop();
      return r;
    },
  };
}

// Every header value the mock received, for leak checks.
export function allHeaderValues(requests) {
  return requests.flatMap((r) => Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`));
}
