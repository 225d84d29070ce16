/**
 * The log goes to stdout asynchronously, as bytes gathered while a write is in flight, and is
 * flushed synchronously at exit. Whatever the batching, every line must come out whole, once,
 * in order and byte for byte (multi-byte characters included), also the lines still queued
 * when the process exits, through a pipe as a log collector would read it.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const logger = pathToFileURL(path.resolve('dist/logger.js')).href;

const script = `
import { createLogger } from ${JSON.stringify(logger)};
const log = createLogger('info');
let i = 0;
const burst = () => {
  for (let k = 0; k < 200; k++, i++) log.info({ i, text: 'zürich ✓ 東京 ' + 'x'.repeat(i % 300) }, 'line');
  if (i < 5000) setImmediate(burst);
  else { log.warn({ i }, 'last'); process.exit(0); }
};
burst();
`;

describe('log output', () => {
  it('writes every line whole, once and in order, including those queued at exit', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);

    const lines = Buffer.concat(chunks).toString('utf8').split('\n');
    expect(lines.pop()).toBe(''); // ends with a newline
    expect(lines).toHaveLength(5001);
    lines.slice(0, 5000).forEach((line, i) => {
      const entry = JSON.parse(line) as { i: number; text: string; msg: string };
      expect([entry.i, entry.text, entry.msg]).toEqual([i, `zürich ✓ 東京 ${'x'.repeat(i % 300)}`, 'line']);
    });
    expect(JSON.parse(lines[5000]!)).toMatchObject({ level: 40, i: 5000, msg: 'last' });
  });
});
