// The Get Started walkthrough (contributes.walkthroughs): its steps cover finding or starting a local server (Ollama,
// llama.cpp, the embedded runtime with a model download), models per task, privacy and the gateway; every step's
// markdown ships (media/** is in .vscodeignore's allow-list) and every command it links or waits for is declared.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import manifest from '../../package.json';

const root = path.join(__dirname, '../..');
interface Step {
  id: string;
  title: string;
  description: string;
  media: { markdown?: string; image?: string; altText?: string };
  completionEvents?: string[];
}
const contributes = manifest.contributes as unknown as {
  commands: { command: string; title: string }[];
  walkthroughs?: { id: string; title: string; steps: Step[] }[];
  menus: Record<string, { command?: string; submenu?: string; group?: string }[]>;
  submenus?: { id: string; label: string }[];
};

test('the walkthrough covers local servers (Ollama, llama.cpp, the embedded runtime), models per task, privacy and the gateway', () => {
  const [walk] = contributes.walkthroughs ?? [];
  assert.ok(walk, 'a walkthrough');
  const text = walk.steps
    .map((s) => `${s.title}\n${s.description}\n${s.media.markdown ? fs.readFileSync(path.join(root, s.media.markdown), 'utf8') : ''}`)
    .join('\n');
  for (const needed of [
    /Ollama/,
    /llama\.cpp/,
    /Download GGUF Model/,
    /per task/i,
    /local-only/,
    /Stay Local/,
    /gateway/i,
    /switchyard\/chat/,
  ])
    assert.match(text, needed);
});

test('every walkthrough step has markdown that ships, and links and waits only on declared commands', () => {
  const declared = new Set(contributes.commands.map((c) => c.command));
  const ignore = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8');
  assert.match(ignore, /^!media\/\*\*$/m, 'media/** ships in the .vsix');
  for (const step of contributes.walkthroughs![0]!.steps) {
    assert.ok(step.media.markdown, `${step.id}: markdown media`);
    assert.ok(fs.existsSync(path.join(root, step.media.markdown!)), `${step.id}: ${step.media.markdown} exists`);
    const linked = [...step.description.matchAll(/\(command:([\w.]+)/g)].map((m) => m[1]!);
    assert.ok(linked.length > 0, `${step.id}: at least one button`);
    const waited = (step.completionEvents ?? []).filter((e) => e.startsWith('onCommand:')).map((e) => e.slice('onCommand:'.length));
    for (const c of [...linked, ...waited]) assert.ok(declared.has(c), `${step.id}: ${c} is a declared command`);
  }
});

test('the editor commands (Explain, Edit Selection, Summarize) sit in a Switchyard group of the editor context menu', () => {
  const ctx = contributes.menus['editor/context']!;
  const sub = ctx.find((m) => m.submenu);
  assert.ok(sub, 'a submenu in the editor context menu');
  assert.equal(contributes.submenus?.find((s) => s.id === sub.submenu)?.label, 'Switchyard');
  const inGroup = contributes.menus[sub.submenu!]!.map((m) => m.command);
  for (const c of [
    'switchyard.explainSelection',
    'switchyard.explainFile',
    'switchyard.editSelection',
    'switchyard.summarizeSelection',
    'switchyard.summarizeFile',
  ]) {
    assert.ok(inGroup.includes(c), `${c} in the Switchyard group`);
  }
  assert.ok(!ctx.some((m) => m.command?.startsWith('switchyard.')), "not loose among other extensions' entries");
});
