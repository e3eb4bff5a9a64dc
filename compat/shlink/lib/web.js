// Builds the web component's host app (web/) with esbuild and Tailwind's
// CLI from node_modules, and serves it from its own loopback origin.
import { execFile } from 'node:child_process';
import { copyFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';

const execFileP = promisify(execFile);
const suiteDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const webDir = path.join(suiteDir, 'web');

export async function buildWebApp(outDir) {
  await esbuild.build({
    entryPoints: [path.join(webDir, 'main.jsx')],
    outfile: path.join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"' },
    minify: true,
    logLevel: 'error',
    absWorkingDir: suiteDir,
  });
  const tailwind = path.join(suiteDir, 'node_modules', '@tailwindcss', 'cli', 'dist', 'index.mjs');
  await execFileP(process.execPath, [tailwind, '-i', path.join(webDir, 'tailwind.css'), '-o', path.join(outDir, 'app.css')], {
    cwd: webDir,
    timeout: 120_000,
  });
  await copyFile(path.join(webDir, 'index.html'), path.join(outDir, 'index.html'));
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };

/**
 * Serves `dir` on 127.0.0.1 (a random port); every path that is not one of
 * its files answers index.html, as a single-page app's server does.
 */
export async function serveStatic(dir) {
  const files = new Map();
  for (const name of ['index.html', 'app.js', 'app.css']) {
    files.set(`/${name}`, await readFile(path.join(dir, name)));
  }
  const server = createServer((req, res) => {
    const pathname = new URL(req.url, 'http://x').pathname;
    const name = files.has(pathname) ? pathname : '/index.html';
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(name)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' });
    res.end(files.get(name));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
