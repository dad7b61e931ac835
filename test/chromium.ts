// Test helper: open a local HTML file in headless Chromium and report what a person's browser
// would show: console messages, uncaught exceptions, browser log entries (failed loads), every
// network request, values computed in the page, and optionally a PNG screenshot. It talks the
// DevTools protocol over --remote-debugging-pipe (NUL-terminated JSON on fds 3 and 4), so it
// needs no npm package and no WebSocket.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Readable, Writable } from 'node:stream';

/** The Chromium executable: $CHROMIUM_PATH, else the first of the usual names on PATH; null if none. */
export function findChromium(): string | null {
  const env = process.env.CHROMIUM_PATH;
  if (env) return existsSync(env) ? env : null;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

export interface PageReport {
  /** console.* calls: type (log, warning, error, ...) and text. */
  console: { type: string; text: string }[];
  /** Uncaught exceptions. */
  exceptions: string[];
  /** Browser log entries (e.g. "Failed to load resource") with their level. */
  log: { level: string; text: string; url?: string }[];
  /** Every URL the page requested (the page itself included). */
  requests: string[];
  /** The values of `evaluate` expressions, in order (returned by value). */
  values: unknown[];
  /** PNG bytes of the whole page, when asked. */
  screenshot?: Buffer;
}

interface Message { id?: number; method?: string; params?: Record<string, any>; result?: Record<string, any>; error?: { message: string }; sessionId?: string }

/**
 * Loads `file` in a fresh headless Chromium profile, waits for the load event (and `settleMs`),
 * evaluates each expression, optionally takes a screenshot (the whole page, or a clip of it), and
 * closes the browser.
 */
export async function openInChromium(exe: string, file: string, opts: { evaluate?: string[]; screenshot?: boolean | { x: number; y: number; width: number; height: number }; width?: number; settleMs?: number; timeoutMs?: number } = {}): Promise<PageReport> {
  const profile = mkdtempSync(join(tmpdir(), 'distillery-chromium-'));
  const args = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--remote-debugging-pipe', `--user-data-dir=${profile}`,
    '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--hide-scrollbars', '--mute-audio', 'about:blank'];
  const child: ChildProcess = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b) => { stderr = (stderr + b).slice(-4000); });
  const out = child.stdio[3] as Writable, inp = child.stdio[4] as Readable;
  const report: PageReport = { console: [], exceptions: [], log: [], requests: [], values: [] };
  const pending = new Map<number, { resolve: (r: Record<string, any>) => void; reject: (e: Error) => void }>();
  const waiters: { method: string; resolve: () => void }[] = [];
  let nextId = 1, buf = '';
  let failed: Error | null = null;
  const fail = (e: Error) => {
    failed ??= e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  child.on('exit', (code, sig) => fail(new Error(`chromium exited (code ${code}, signal ${sig}) before the check finished; its stderr ends:\n${stderr}`)));
  child.on('error', (e) => fail(e));
  inp.on('data', (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let z;
    while ((z = buf.indexOf('\0')) >= 0) {
      const msg = JSON.parse(buf.slice(0, z)) as Message;
      buf = buf.slice(z + 1);
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`DevTools: ${msg.error.message}`));
        else p?.resolve(msg.result ?? {});
        continue;
      }
      const ps = msg.params ?? {};
      switch (msg.method) {
        case 'Runtime.consoleAPICalled':
          report.console.push({ type: ps.type, text: (ps.args ?? []).map((a: any) => a.value ?? a.description ?? '').join(' ') });
          break;
        case 'Runtime.exceptionThrown':
          report.exceptions.push(ps.exceptionDetails?.exception?.description ?? ps.exceptionDetails?.text ?? 'exception');
          break;
        case 'Log.entryAdded':
          report.log.push({ level: ps.entry.level, text: ps.entry.text, url: ps.entry.url });
          break;
        case 'Network.requestWillBeSent':
          report.requests.push(ps.request.url);
          break;
      }
      for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].method === msg.method) waiters.splice(i, 1)[0].resolve();
    }
  });
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, any>> => {
    if (failed) return Promise.reject(failed);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      out.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });
  };
  const event = (method: string) => new Promise<void>((resolve) => waiters.push({ method, resolve }));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`chromium: no answer within ${opts.timeoutMs ?? 60_000} ms; stderr ends:\n${stderr}`)), opts.timeoutMs ?? 60_000); });
  try {
    const run = async () => {
      const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
      const s = (m: string, p: Record<string, unknown> = {}) => send(m, p, sessionId);
      await Promise.all([s('Runtime.enable'), s('Log.enable'), s('Network.enable'), s('Page.enable')]);
      await s('Emulation.setDeviceMetricsOverride', { width: opts.width ?? 1200, height: 900, deviceScaleFactor: 1, mobile: false });
      const loaded = event('Page.loadEventFired');
      const nav = await s('Page.navigate', { url: pathToFileURL(file).href });
      if (nav.errorText) throw new Error(`chromium could not open ${file}: ${nav.errorText}`);
      await loaded;
      await new Promise((r) => setTimeout(r, opts.settleMs ?? 300));
      for (const expression of opts.evaluate ?? []) {
        const r = await s('Runtime.evaluate', { expression, returnByValue: true });
        if (r.exceptionDetails) throw new Error(`evaluating ${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
        report.values.push(r.result.value);
      }
      if (opts.screenshot) {
        const m = await s('Page.getLayoutMetrics');
        const size = m.cssContentSize ?? m.contentSize;
        const clip = typeof opts.screenshot === 'object' ? opts.screenshot : { x: 0, y: 0, width: Math.ceil(size.width), height: Math.ceil(size.height) };
        const shot = await s('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip: { ...clip, scale: 1 } });
        report.screenshot = Buffer.from(shot.data, 'base64');
      }
      await send('Browser.close').catch(() => {});
    };
    await Promise.race([run(), timeout]);
    return report;
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      await gone;
    }
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The page's problems: console errors and assertions, uncaught exceptions, error-level log entries, requests that leave the file. */
export function problems(r: PageReport, file: string): string[] {
  const self = pathToFileURL(file).href;
  return [
    ...r.console.filter((c) => c.type === 'error' || c.type === 'assert').map((c) => `console.${c.type}: ${c.text}`),
    ...r.exceptions.map((e) => `uncaught: ${e}`),
    ...r.log.filter((l) => l.level === 'error').map((l) => `log error: ${l.text}${l.url ? ` (${l.url})` : ''}`),
    ...r.requests.filter((u) => u !== self && !u.startsWith('data:')).map((u) => `request: ${u}`),
  ];
}

/** Writes a page that has every problem `problems` looks for (the negative control of the browser test). */
export function writeBadPage(file: string): void {
  writeFileSync(file, `<!doctype html><html><head><meta charset="utf-8"><title>bad</title><script src="https://cdn.invalid/lib.js"></script></head>
<body><svg width="10" height="10"><path class="curve" d="M0 0L10 10"/></svg><img src="missing-image.png" alt="">
<script>console.error('planted console error'); undefinedFunction();</script></body></html>`);
}
