/**
 * Model output is untrusted: Markdown → HTML with marked, code highlighted with highlight.js, then everything through
 * DOMPurify. What survives is inert: no script, no event handlers, no forms or frames, no style attributes, and no
 * images except inline data: ones (the CSP blocks any other image load as a second line). Used by the chat webview and
 * by the sanitizer's unit test (with a jsdom window).
 */
import createDOMPurify from 'dompurify';
import { Marked } from 'marked';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import csharp from 'highlight.js/lib/languages/csharp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

const LANGUAGES = { bash, c, cpp, csharp, css, diff, go, java, javascript, json, markdown, python, rust, sql, typescript, xml, yaml };
for (const [name, lang] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, lang);
hljs.registerAliases(['sh', 'shell', 'zsh'], { languageName: 'bash' });
hljs.registerAliases(['ts', 'tsx'], { languageName: 'typescript' });
hljs.registerAliases(['js', 'jsx', 'mjs', 'cjs'], { languageName: 'javascript' });
hljs.registerAliases(['py'], { languageName: 'python' });
hljs.registerAliases(['html', 'svg'], { languageName: 'xml' });
hljs.registerAliases(['yml'], { languageName: 'yaml' });
hljs.registerAliases(['cs'], { languageName: 'csharp' });

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

export function highlight(code: string, lang?: string): string {
  const language = lang && hljs.getLanguage(lang) ? lang : undefined;
  if (!language) return escapeHtml(code);
  try {
    return hljs.highlight(code, { language, ignoreIllegals: true }).value;
  } catch {
    return escapeHtml(code);
  }
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    code({ text, lang }) {
      const language = (lang ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? '';
      const cls = language.replace(/[^a-z0-9_+-]/g, '');
      return `<pre class="code-block" data-lang="${cls}"><code class="hljs${cls ? ` language-${cls}` : ''}">${highlight(text, cls)}</code></pre>\n`;
    },
  },
});

export interface MarkdownRenderer {
  /** Sanitized HTML for a Markdown string. */
  render(markdown: string): string;
}

/** `win` is the browser window (or a jsdom window in tests). */
export function createMarkdownRenderer(win: unknown): MarkdownRenderer {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const purify = createDOMPurify(win as any);
  purify.addHook('uponSanitizeElement', (node, data) => {
    if (data.tagName === 'img') {
      const src = (node as { getAttribute?(n: string): string | null }).getAttribute?.('src') ?? '';
      if (!/^data:image\/(png|gif|jpeg|webp);base64,/i.test(src))
        (node as { parentNode?: { removeChild(n: unknown): void } }).parentNode?.removeChild(node);
    }
  });
  purify.addHook('afterSanitizeAttributes', (node) => {
    const el = node as {
      tagName?: string;
      setAttribute?(n: string, v: string): void;
      getAttribute?(n: string): string | null;
      removeAttribute?(n: string): void;
    };
    if (el.tagName === 'A') {
      const href = el.getAttribute?.('href') ?? '';
      if (!/^(https?:|mailto:)/i.test(href)) el.removeAttribute?.('href');
      el.setAttribute?.('rel', 'noopener noreferrer');
    }
  });
  const config = {
    FORBID_TAGS: [
      'style',
      'form',
      'input',
      'button',
      'textarea',
      'select',
      'iframe',
      'object',
      'embed',
      'link',
      'meta',
      'base',
      'svg',
      'math',
    ],
    FORBID_ATTR: ['style', 'srcset', 'action', 'formaction', 'xlink:href'],
    ALLOW_DATA_ATTR: false,
    ADD_ATTR: ['data-lang'],
  };
  return {
    render(md: string): string {
      const html = marked.parse(md, { async: false });
      return purify.sanitize(html, config) as unknown as string;
    },
  };
}
