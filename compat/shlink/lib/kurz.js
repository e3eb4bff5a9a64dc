// Starts a real kurz for one test file: a fresh SQLite database in a
// temporary directory, a free loopback port, an admin user and two API keys
// (one read-only), and stops it when the file is done.
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository's root (compat/shlink/lib/ is three levels below it). */
export const repoRoot = path.resolve(here, '..', '..', '..');

/** The kurz binary: KURZ_BIN, else the debug build of this checkout. */
export function kurzBin() {
  const bin = process.env.KURZ_BIN ?? path.join(repoRoot, 'target', 'debug', 'kurz');
  return path.resolve(bin);
}

/** A port nobody listens on right now (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns a truthy value, at most `timeoutMs`; the
 * last value (or error) is reported if it never does.
 */
export async function eventually(probe, { timeoutMs = 10_000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const shown = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`${what} not reached within ${timeoutMs} ms; last: ${shown}`);
    }
    await sleep(intervalMs);
  }
}

const PASSWORD = 'compat-suite password, long enough';

async function cli(bin, env, args, input) {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`kurz ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      } else {
        resolve(stdout.trim());
      }
    });
    child.stdin.end(input ?? '');
  });
}

/**
 * Starts kurz. Returns { baseUrl, port, apiKey, readOnlyKey, stop, logs }.
 */
export async function startKurz({ extraEnv = {} } = {}) {
  const bin = kurzBin();
  try {
    await execFileP(bin, ['--version'], { timeout: 10_000 });
  } catch (err) {
    throw new Error(`kurz binary not usable at ${bin} (set KURZ_BIN): ${err.message}`);
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'kurz-shlink-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    KURZ_DATABASE: `sqlite://${path.join(dir, 'kurz.db')}`,
    KURZ_BASE_URL: baseUrl,
    KURZ_LISTEN: `127.0.0.1:${port}`,
    // The suite makes hundreds of requests from one address in seconds.
    KURZ_RATE_LIMITS: 'off',
    // Clicks show up in the API sooner.
    KURZ_ANALYTICS__FLUSH_INTERVAL_MS: '100',
    RUST_LOG: process.env.RUST_LOG ?? 'warn',
    ...extraEnv,
  };
  // The configuration file of the developer's shell must not leak in.
  delete env.KURZ_CONFIG;

  await cli(bin, env, ['migrate']);
  await cli(bin, env, ['user', 'add', 'alice', '--role', 'admin'], `${PASSWORD}\n`);
  const apiKey = await cli(bin, env, ['key', 'create', '--user', 'alice', '--quiet']);
  const readOnlyKey = await cli(bin, env, ['key', 'create', '--user', 'alice', '--read-only', '--quiet']);

  const logs = [];
  const child = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk) => {
    logs.push(chunk.toString());
    if (logs.length > 2000) logs.splice(0, logs.length - 2000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });

  const stop = async () => {
    if (exited === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await eventually(
      async () => {
        if (exited) throw new Error(`kurz exited ${JSON.stringify(exited)}:\n${logs.join('')}`);
        const r = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(1_000) });
        return r.ok;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `kurz answering ${baseUrl}/healthz` },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { baseUrl, port, apiKey, readOnlyKey, stop, logs };
}
