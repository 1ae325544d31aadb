/**
 * Where an inline suggestion goes on the cursor's line, and what text it carries. Pure (no `vscode`), so the rules are
 * unit-tested.
 *
 * VS Code shows an inline item when the text its range covers is a prefix of the item's text, and a range must begin
 * and end on the cursor's line. Its guide prefers replacements over insertions (the item survives the user deleting
 * what they typed), so the range runs from the line's start to the cursor and the text repeats the line's start.
 * The range never covers the text after the cursor: the service's post-processing already balanced the suggestion
 * against it (a closer the suffix has is not repeated, an overlap with it is trimmed), so it stays as it is.
 *
 * One case needs the text changed: a suggestion of several lines typed before closers on the same line
 * (`function f() {|}`): post-processing drops the suggestion's own closing line, so inserted as it is the closer would
 * end up glued to the last line (`  return 1;}`). The closer goes back on a line of its own, at the line's indent.
 */

export interface LineEdit {
  /** Start and end of the range on the cursor's line (UTF-16 columns). */
  startCharacter: number;
  endCharacter: number;
  /** The text that replaces the range. */
  insertText: string;
}

/** The suggest widget's selected item (VS Code's `selectedCompletionInfo`), on the cursor's line. */
export interface SelectedItem {
  startCharacter: number;
  endCharacter: number;
  text: string;
}

/**
 * @param line the whole text of the cursor's line (without its line break)
 * @param character the cursor's column
 * @param suggestion the text to insert at the cursor (the service's answer)
 * @param selected the suggest widget's selected item: the suggestion then continues that item's text (it was asked
 *   for as if the item were accepted), and VS Code wants the item's own range, its text extended
 */
export function inlineEdit(line: string, character: number, suggestion: string, selected?: SelectedItem): LineEdit {
  const at = Math.max(0, Math.min(character, line.length));
  const end = selected ? Math.max(at, Math.min(selected.endCharacter, line.length)) : at;
  const after = line.slice(end);
  let text = suggestion;
  if (text.includes('\n') && after.trim() !== '' && !/\n[ \t]*$/.test(text)) {
    const indent = /^[ \t]*/.exec(line)![0];
    text += `\n${indent}`;
  }
  if (selected) {
    const start = Math.max(0, Math.min(selected.startCharacter, end));
    return { startCharacter: start, endCharacter: end, insertText: selected.text + text };
  }
  return { startCharacter: 0, endCharacter: at, insertText: line.slice(0, at) + text };
}

/** The text before and after the cursor as the model should see it: with the selected item applied when there is one. */
export function contextAround(
  text: string,
  offset: number,
  selected?: { start: number; end: number; text: string },
): { prefix: string; suffix: string } {
  if (!selected) return { prefix: text.slice(0, offset), suffix: text.slice(offset) };
  return { prefix: text.slice(0, selected.start) + selected.text, suffix: text.slice(Math.max(offset, selected.end)) };
}
