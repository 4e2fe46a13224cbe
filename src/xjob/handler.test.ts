import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from './engine.js';
import { JobFailure, failureMessage, isTransient } from './handler.js';

// Which handler failures the engine retries, what it stores for a FAIL job, and how long it
// waits between attempts.

const withStatus = (status: number) => Object.assign(new Error(`region answered ${status}`), { status });

describe('isTransient', () => {
  it('retries 5xx, 408, 409 and 429 answers and no other 4xx', () => {
    for (const status of [500, 502, 503, 504, 408, 409, 429]) assert.equal(isTransient(withStatus(status)), true, `status ${status}`);
    for (const status of [400, 401, 403, 404, 422]) assert.equal(isTransient(withStatus(status)), false, `status ${status}`);
  });

  it('retries network failures, also when fetch wraps them in a TypeError', () => {
    assert.equal(isTransient(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })), true);
    assert.equal(isTransient(new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) })), true);
    assert.equal(isTransient(Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' })), true);
    assert.equal(isTransient(new TypeError('fetch failed', { cause: new Error('no code') })), false, 'a cause that is not a network error');
    assert.equal(isTransient(new TypeError('Invalid URL')), false);
  });

  it('retries aborts and timeouts', () => {
    assert.equal(isTransient(new DOMException('The operation was aborted', 'AbortError')), true);
    assert.equal(isTransient(new DOMException('The operation timed out', 'TimeoutError')), true);
  });

  it('retries a database that is unavailable', () => {
    assert.equal(isTransient(new Error('Connection terminated unexpectedly')), true);
    assert.equal(isTransient(Object.assign(new Error('the database system is shutting down'), { code: '57P03' })), true);
  });

  it('treats a plain error, and anything that is not an error, as permanent', () => {
    assert.equal(isTransient(new Error('bug')), false);
    assert.equal(isTransient('a string'), false);
    assert.equal(isTransient(null), false);
    assert.equal(isTransient(undefined), false);
  });

  it('follows the flag of a JobFailure, whatever its cause', () => {
    assert.equal(isTransient(new JobFailure('try later', true)), true);
    assert.equal(isTransient(new JobFailure('give up', false)), false);
    assert.equal(isTransient(new JobFailure('give up', false, { cause: withStatus(503) })), false);
    assert.equal(isTransient(new JobFailure('try later', true, { cause: withStatus(404) })), true);
  });

  it('does not loop on an error that is its own cause', () => {
    const err = new Error('self') as Error & { cause?: unknown };
    err.cause = err;
    assert.equal(isTransient(err), false);
  });
});

describe('failureMessage', () => {
  it('is the message, with the cause’s message after it', () => {
    assert.equal(failureMessage(new Error('RegionTwo: 404 Network not found')), 'RegionTwo: 404 Network not found');
    assert.equal(
      failureMessage(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 10.0.0.1:9696') })),
      'fetch failed: connect ECONNREFUSED 10.0.0.1:9696',
    );
    assert.equal(failureMessage('not an error'), 'not an error');
  });

  it('has no stack trace and at most 2000 characters', () => {
    const message = failureMessage(new Error('x'.repeat(1500), { cause: new Error('y'.repeat(1500)) }));
    assert.equal(message.length, 2000);
    assert.ok(message.startsWith(`${'x'.repeat(1500)}: y`));
    assert.ok(!failureMessage(new Error('short')).includes('\n'));
  });
});

describe('backoffDelay', () => {
  const retry = { attempts: 10, baseDelay: 0.5, maxDelay: 4 };

  it('waits a random time up to base * 2^(attempt-1) seconds, capped at maxDelay', () => {
    for (let attempt = 1; attempt <= 8; attempt++) {
      const bound = Math.min(retry.maxDelay, retry.baseDelay * 2 ** (attempt - 1)) * 1000;
      const delays = Array.from({ length: 200 }, () => backoffDelay(retry, attempt));
      for (const delay of delays) assert.ok(delay >= 0 && delay <= bound, `attempt ${attempt}: ${delay} ms outside [0, ${bound}]`);
      // Full jitter: spread over the whole range, not pinned to its top.
      assert.ok(Math.max(...delays) > bound / 2, `attempt ${attempt}: delays reach the upper half`);
      assert.ok(Math.min(...delays) < bound / 2, `attempt ${attempt}: delays reach the lower half`);
    }
  });

  it('is zero when there is no delay to wait', () => {
    assert.equal(backoffDelay({ attempts: 3, baseDelay: 0, maxDelay: 5 }, 3), 0);
    assert.equal(backoffDelay({ attempts: 3, baseDelay: 1, maxDelay: 0 }, 3), 0);
  });
});
