/**
 * Images in chat messages (issue 14), one place for every caller: a client's `image_url` becomes a ChatImage only
 * from a data URL (base64 bytes in the request itself). A remote URL is refused, never fetched: fetching it would make
 * Switchyard (or the local model server, which llama-server does for http URLs) reach any address a request names,
 * and what the model saw could no longer be shown from the request alone.
 */
import type { ChatImage, ChatMessage } from './types';

/** A data URL's image, or why it is not one (`remote`: an http(s) or other URL to fetch, refused). */
export type ImageUrlResult = { image: ChatImage } | { error: string; remote: boolean };

const DATA_URL = /^data:(image\/[a-z0-9.+-]+)(?:;[a-z0-9.+-]+=[^;,]*)*;base64,([\s\S]*)$/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Parses an `image_url.url`: `data:image/<type>;base64,<bytes>` only. */
export function parseImageUrl(url: string, detail?: unknown): ImageUrlResult {
  const trimmed = url.trim();
  if (!/^data:/i.test(trimmed)) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
    return {
      error:
        `image URLs are not fetched${scheme ? ` (${scheme}: URL)` : ''}: ` +
        `send the image inline as a data URL (data:image/png;base64,…)`,
      remote: true,
    };
  }
  const m = DATA_URL.exec(trimmed);
  if (!m) return { error: 'an image data URL must be data:image/<type>;base64,<data>', remote: false };
  const data = m[2]!.replace(/\s+/g, '');
  if (data === '' || data.length % 4 === 1 || !BASE64.test(data))
    return { error: 'the image data URL does not hold valid base64', remote: false };
  const d = detail === 'auto' || detail === 'low' || detail === 'high' ? detail : undefined;
  return { image: { mimeType: m[1]!.toLowerCase(), data, ...(d ? { detail: d } : {}) } };
}

/** An image as a data URL (OpenAI's `image_url.url`). */
export function imageDataUrl(image: ChatImage): string {
  return `data:${image.mimeType};base64,${image.data}`;
}

/** How many images the messages carry. */
export function imageCount(messages: readonly ChatMessage[] | undefined): number {
  return (messages ?? []).reduce((n, m) => n + (m.imageParts?.length ?? 0), 0);
}

/** The decoded size of an image's bytes. */
export function imageBytes(image: ChatImage): number {
  const pad = image.data.endsWith('==') ? 2 : image.data.endsWith('=') ? 1 : 0;
  return Math.floor((image.data.length * 3) / 4) - pad;
}
