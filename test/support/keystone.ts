import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const UP_SCRIPT = fileURLToPath(new URL('../../scripts/keystone-up.sh', import.meta.url));

/**
 * The real Keystone of scripts/keystone-up.sh (started, or reused when it runs): its v3 URL,
 * or why there is none. With TRICIRCLE_TEST_REQUIRE_KEYSTONE=1 (CI) a missing Keystone is an
 * error rather than a reason to skip.
 */
export function keystoneUp(): Promise<{ url?: string; problem?: string }> {
  return new Promise((resolve, reject) => {
    execFile('bash', [UP_SCRIPT], { maxBuffer: 10 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve({ url: stdout.trim().split('\n').pop() });
      const lastLines = [...new Set(stderr.trim().split('\n'))].slice(-3).join(' | ');
      const problem = `scripts/keystone-up.sh failed (${err.message.split('\n')[0]}): ${lastLines}`;
      if (process.env.TRICIRCLE_TEST_REQUIRE_KEYSTONE === '1') reject(new Error(problem));
      else resolve({ problem });
    });
  });
}
