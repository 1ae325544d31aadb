/**
 * How usage numbers read, the same in `switchyard usage` and the Show Usage view (both import this; webviews may
 * import only src/protocol). `none` is what stands for no value: the terminal's ASCII "-", the view's "–".
 */

/** Milliseconds, whole: "412 ms". */
export function formatMs(v: number | undefined, none = '–'): string {
  return v === undefined ? none : `${v.toFixed(0)} ms`;
}

/** US dollars: "$0", "$0.00042" under a cent, "$1.25" otherwise. */
export function formatUsd(v: number): string {
  return v === 0 ? '$0' : v < 0.01 ? `$${v.toFixed(5)}` : `$${v.toFixed(2)}`;
}

/** `part` of `whole` as a whole percentage: "75%". */
export function formatShare(part: number, whole: number, none = '–'): string {
  return whole === 0 ? none : `${Math.round((100 * part) / whole)}%`;
}
