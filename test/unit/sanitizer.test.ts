// Model output is untrusted: the chat's Markdown renderer (webview-ui/markdown.ts: marked → highlight.js → DOMPurify)
// run against a real DOM (jsdom), then the result inserted into a document to check nothing active survives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRequire } from 'node:module';

// jsdom and the renderer are loaded untyped on purpose: their types (@types/jsdom, highlight.js) pull the DOM lib into
// the whole Node type check and change types such as ReadableStream for every other file. webview-ui's own type check
// covers markdown.ts; the few DOM shapes used here are declared below.
const requireUntyped = createRequire(__filename);
const { createMarkdownRenderer } = requireUntyped('../../webview-ui/markdown.ts') as {
  createMarkdownRenderer(win: unknown): { render(md: string): string };
};
interface Attr {
  name: string;
  value: string;
}
interface Element {
  tagName: string;
  attributes: Iterable<Attr>;
  textContent: string | null;
  innerHTML: string;
  querySelectorAll(s: string): ArrayLike<Element> & Iterable<Element>;
  querySelector(s: string): Element | null;
  getAttribute(n: string): string | null;
  hasAttribute(n: string): boolean;
}
const { JSDOM } = requireUntyped('jsdom') as {
  JSDOM: new (html: string) => { window: { document: { createElement(t: string): Element } } };
};
const dom = new JSDOM('<!DOCTYPE html><body></body>');
const renderer = createMarkdownRenderer(dom.window);

function mount(md: string): Element {
  const div = dom.window.document.createElement('div');
  div.innerHTML = renderer.render(md);
  return div;
}

/** Every attribute of every element, for "no on* handler anywhere". */
function attributes(root: Element): string[] {
  return [...root.querySelectorAll('*')].flatMap((el) =>
    [...el.attributes].map((a) => `${el.tagName.toLowerCase()}[${a.name}=${a.value}]`),
  );
}

test('an <img onerror> and a <script> in a model answer render inert', () => {
  const root = mount('Here you go <img src=x onerror="alert(1)"> and <script>alert(2)</script>\n\n<img src="https://evil.example/t.png">');
  assert.equal(root.querySelectorAll('script').length, 0);
  assert.equal(root.querySelectorAll('img').length, 0, 'remote and broken images are removed');
  assert.ok(!attributes(root).some((a) => /\[on/i.test(a)), attributes(root).join(' '));
  assert.match(root.textContent ?? '', /Here you go/);
});

test('event handlers, javascript: links, iframes, forms, styles and SVG payloads are stripped; safe Markdown stays', () => {
  const root = mount(
    [
      '# Title',
      '[click](javascript:alert(1)) [ok](https://example.com/docs)',
      '<a href="#" onclick="steal()">x</a> <div onmouseover="x()" style="position:fixed">hover</div>',
      '<iframe src="https://evil.example"></iframe><form action="https://evil.example"><input name=a></form>',
      '<svg><script>alert(1)</script><a xlink:href="javascript:alert(1)">s</a></svg>',
      '<math><mi xlink:href="javascript:alert(1)">m</mi></math>',
      '![img](https://evil.example/pixel.gif)',
      '<style>body{display:none}</style>',
      '<details open ontoggle="alert(1)"><summary>s</summary></details>',
    ].join('\n\n'),
  );
  for (const tag of ['script', 'iframe', 'form', 'input', 'svg', 'math', 'img', 'style'])
    assert.equal(root.querySelectorAll(tag).length, 0, tag);
  const attrs = attributes(root);
  assert.ok(!attrs.some((a) => /\[on|javascript:|\[style=/i.test(a)), attrs.join(' '));
  const links = [...root.querySelectorAll('a')];
  assert.deepEqual(
    links.filter((a) => a.hasAttribute('href')).map((a) => a.getAttribute('href')),
    ['https://example.com/docs'],
  );
  assert.ok(links.every((a) => a.getAttribute('rel') === 'noopener noreferrer'));
  assert.equal(root.querySelector('h1')?.textContent, 'Title');
});

test('code blocks are highlighted, escaped and keep their language; inline data: images are allowed', () => {
  const root = mount(
    '```ts\nconst x: number = 1; // <b>not bold</b>\n```\n\n```\n<script>alert(1)</script>\n```\n\n![dot](data:image/png;base64,iVBORw0KGgo=)',
  );
  const pres = root.querySelectorAll('pre.code-block');
  assert.equal(pres.length, 2);
  assert.equal(pres[0]!.getAttribute('data-lang'), 'ts');
  assert.ok(pres[0]!.querySelector('.hljs-keyword'), 'highlighted');
  assert.match(pres[0]!.textContent ?? '', /<b>not bold<\/b>/, 'HTML in code is text');
  assert.equal(root.querySelectorAll('b').length, 0);
  assert.match(pres[1]!.textContent ?? '', /<script>alert\(1\)<\/script>/);
  assert.equal(root.querySelectorAll('script').length, 0);
  assert.equal(root.querySelectorAll('img').length, 1);
});
