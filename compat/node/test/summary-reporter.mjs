// A node --test reporter for ./test.sh: silent while tests pass, every
// failure in full (name, file:line, the error with its stack, and what the
// failing file wrote to stdout and stderr), then one line:
//
//   node suite: 663/663 passed (21 files) in 3m2s
//
// or "node suite: 661/663 passed, 2 failed (...)". Suites (describe) are not
// counted, only tests, as node's own summary does. `npm run test:spec` shows
// every test instead.

import {inspect} from 'node:util';

export default async function* summaryReporter(source) {
  const start = Date.now();
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const files = new Set();
  const output = new Map(); // file -> what it wrote to stdout/stderr
  const failedFiles = new Set();

  for await (const event of source) {
    const data = event.data ?? {};
    if (data.file) {
      files.add(data.file);
    }
    switch (event.type) {
      case 'test:stdout':
      case 'test:stderr': {
        const key = data.file ?? '';
        output.set(key, (output.get(key) ?? '') + data.message);
        break;
      }
      case 'test:pass':
        if (data.details?.type === 'suite') {
          break;
        }
        if (data.skip || data.todo) {
          skipped++;
        } else {
          passed++;
        }
        break;
      case 'test:fail': {
        if (data.details?.type === 'suite') {
          break;
        }
        failed++;
        failedFiles.add(data.file ?? '');
        const where = data.file ? `${data.file}:${data.line ?? '?'}` : '(unknown file)';
        const error = data.details?.error;
        const cause = error?.cause ?? error;
        yield `\nFAIL ${data.name}\n  at ${where}\n${indent(inspect(cause, {depth: 6}))}\n`;
        break;
      }
    }
  }

  for (const file of failedFiles) {
    const text = output.get(file);
    if (text) {
      yield `\nOutput of ${file || 'the test runner'}:\n${indent(text.trimEnd())}\n`;
    }
  }
  const total = passed + failed;
  const parts = [`${passed}/${total} passed`];
  if (failed > 0) {
    parts.push(`${failed} failed`);
  }
  if (skipped > 0) {
    parts.push(`${skipped} skipped`);
  }
  yield `${failed > 0 ? '\n' : ''}node suite: ${parts.join(', ')} (${files.size} file${files.size === 1 ? "" : "s"}) in ${formatDuration(Date.now() - start)}\n`;
}

function indent(text) {
  return text.replace(/^/gm, '    ');
}

function formatDuration(ms) {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
}
