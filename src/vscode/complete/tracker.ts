/**
 * Which suggestions the user saw and which they took, for the usage ledger: one `shown` per suggestion displayed and
 * at most one `accepted` (whole, or the part taken word by word). Pure (no `vscode`): the provider feeds it what VS
 * Code tells it, and tests feed it the same.
 *
 * What VS Code tells a stable-API extension: the items it returned (an item returned for a request that was not
 * canceled is shown), the item's `command` (run when the whole item is accepted), and document changes. It does not
 * report partial accepts (that event is a proposed API), so they are read from the document: a change that inserts,
 * in one edit of two or more characters at the suggestion's place, the start of what is left of it, is a partial
 * accept (typing inserts one character at a time; VS Code's accept-word inserts the word at once).
 *
 * The same suggestion offered again (VS Code asks again for the same place, or the user typed its first characters
 * and the cache answered the rest) is the same showing, not a new one.
 */

export interface TrackedCompletion {
  id: string;
  text: string;
  source: 'cache' | 'typedAhead' | 'model';
}

export interface TrackerSink<C extends TrackedCompletion> {
  shown(completion: C): void;
  /** `acceptedText` only for a partial accept. */
  accepted(completion: C, acceptedText?: string): void;
}

/** One edit of a document, in offsets of the text before the edit. */
export interface DocumentEdit {
  offset: number;
  /** Characters replaced. */
  removed: number;
  text: string;
}

interface Live<C> {
  completion: C;
  /** Ids of the items that stand for it (the first, and those offered for what was left of it). */
  ids: Set<string>;
  document: string;
  /** Where what is left of it would be inserted. */
  offset: number;
  left: string;
  /** Taken by partial accepts so far. */
  taken: string;
}

export class SuggestionTracker<C extends TrackedCompletion> {
  private live: Live<C> | undefined;

  constructor(private readonly sink: TrackerSink<C>) {}

  /**
   * VS Code got `completion` for `document` at `offset` (the cursor) and will show it. Returns true when this is a new
   * showing (recorded as shown), false when it continues the live one.
   */
  offer(completion: C, document: string, offset: number): boolean {
    const l = this.live;
    if (l && l.document === document && l.offset === offset && (completion.text === l.left || completion.source === 'typedAhead')) {
      l.ids.add(completion.id);
      l.left = completion.text;
      return false;
    }
    this.end();
    this.live = { completion, ids: new Set([completion.id]), document, offset, left: completion.text, taken: '' };
    this.sink.shown(completion);
    return true;
  }

  /** The item's command ran: the whole of what was left was accepted. */
  acceptedWhole(id: string): void {
    const l = this.live;
    if (!l || !l.ids.has(id)) return;
    this.live = undefined;
    this.sink.accepted(l.completion);
  }

  /** The document changed (edits in the order VS Code reports them). */
  changed(document: string, edits: readonly DocumentEdit[]): void {
    const l = this.live;
    if (!l || l.document !== document || edits.length === 0) return;
    const e = edits.length === 1 ? asInsert(edits[0]!, l.offset) : edits[0]!;
    if (edits.length === 1 && e.removed === 0 && e.offset === l.offset && e.text !== '' && l.left.startsWith(e.text)) {
      // A partial accept (two or more characters at once, not all of it: the command reports the whole), or the
      // user typing the suggestion's next character (not an accept: the cache shows the rest).
      if (e.text.length >= 2 && e.text.length < l.left.length) l.taken += e.text;
      if (e.text.length < l.left.length) {
        l.offset += e.text.length;
        l.left = l.left.slice(e.text.length);
        return;
      }
      // All of it inserted: the item's command comes next (or came first); keep it live until then.
      l.offset += e.text.length;
      l.left = '';
      return;
    }
    this.end();
  }

  /** The live suggestion is over (another was offered, the user typed something else, completions went off). */
  end(): void {
    const l = this.live;
    this.live = undefined;
    if (l && l.taken !== '') this.sink.accepted(l.completion, l.taken);
  }
}

/**
 * An accept replaces the item's range (the line's start up to the cursor) with the item's text, which repeats that
 * start: an edit that ends at the suggestion's place and is longer than what it replaced is read as inserting the rest.
 */
function asInsert(e: DocumentEdit, at: number): DocumentEdit {
  if (e.removed > 0 && e.offset + e.removed === at && e.text.length > e.removed)
    return { offset: at, removed: 0, text: e.text.slice(e.removed) };
  return e;
}
