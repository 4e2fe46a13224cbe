// `npm run docs`: writes the generated reference pages (configuration options, errors).
// test/docs.test.ts fails when a committed page differs from what this would write.
import { writeFileSync } from 'node:fs';
import { GENERATED_PAGES } from '../src/docs/generate.js';

for (const [path, render] of Object.entries(GENERATED_PAGES)) {
  writeFileSync(path, render());
  console.log(`wrote ${path}`);
}
