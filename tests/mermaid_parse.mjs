// Parse Mermaid diagrams with the real `mermaid` package (run with the folder that
// holds node_modules/{mermaid,jsdom} as the working directory; .ci/run installs them).
// argv[1]: a JSON file with a list of diagram texts. Prints one JSON verdict per text.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');

const texts = JSON.parse(readFileSync(process.argv[1], 'utf8'));
const verdicts = [];
for (const text of texts) {
  try {
    const parsed = await mermaid.parse(text);
    verdicts.push({ ok: true, type: parsed.diagramType });
  } catch (err) {
    verdicts.push({ ok: false, error: String(err.message || err).split('\n').slice(0, 3).join(' ') });
  }
}
console.log(JSON.stringify(verdicts));
