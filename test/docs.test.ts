import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { GENERATED_PAGES } from '../src/docs/generate.js';

describe('generated documentation', () => {
  for (const [path, render] of Object.entries(GENERATED_PAGES)) {
    it(`${path} matches the code (run \`npm run docs\` after changing options or errors)`, () => {
      assert.equal(readFileSync(path, 'utf8'), render());
    });
  }
});
