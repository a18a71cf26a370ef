// A real Chromium for the tests that look at a page (Debian's /usr/bin/chromium, driven
// by puppeteer-core). The flags keep it from reaching for the internet: without the
// background-networking ones it keeps opening connections that this closed network
// refuses. Each launch gets a fresh profile in a temp dir, removed on close.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

export const CHROMIUM = process.env.FERRY_CHROMIUM ?? '/usr/bin/chromium';

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`,
    ],
  });
  return {
    browser,
    async close() {
      try {
        await browser.close();
      } finally {
        fs.rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}

// Where tests leave what a person should look at (git-ignored).
export function artifactPath(name: string): string {
  const dir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../test-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}
