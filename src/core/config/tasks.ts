/**
 * `switchyard.tasks`, entry by entry: each task's ordered model references, checked in words (never the schema's
 * regex) with a "did you mean" for a close task name or provider id.
 */
import { LOCAL_DEFAULTS, PRESETS } from '../providers/presets';
import { TASK_NAMES, isOneOf, type TaskName } from '../../protocol/vocabulary';
import type { CandidateSetting } from './config';
import { SETTINGS, validateAgainst, type JsonSchema } from './schema';
import { jsonClone, settingDefault, type Reader, type TaskEntry } from './settings';

/** Splits "providerId/model" at the first slash (model names may contain slashes, e.g. OpenRouter's). */
export function splitRef(ref: string): { providerId: string; model: string } | undefined {
  const slash = ref.indexOf('/');
  if (slash <= 0 || slash === ref.length - 1) return undefined;
  return { providerId: ref.slice(0, slash), model: ref.slice(slash + 1) };
}

function normalizeCandidate(item: TaskEntry): CandidateSetting {
  if (typeof item === 'string') return { ref: item };
  const { model, ...params } = item;
  return { ref: model, ...params };
}

/** The example every "not a model reference" problem gives. */
const REF_EXAMPLE = '"ollama/qwen2.5-coder:7b"';

/** Edit distance, for "did you mean" (short names only: tasks and provider ids). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known name closest to `name` when it is close enough to be a typo (case alone, or a few letters). */
export function closest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === name.toLowerCase() ? 0 : distance(name.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.min(2, Math.floor(best.length / 3))) ? best : undefined;
}

/** What is wrong with a reference: `drop` when it can never resolve, else only a warning (the router skips it). */
type RefProblem = { message: string; drop: boolean } | undefined;

/** What the references are checked against. */
interface RefCheck {
  pattern: RegExp;
  providerIds: ReadonlySet<string>;
}

/**
 * What is wrong with one model reference: `drop` when it can never resolve (not a reference at all), or only a
 * warning (an unknown provider id close to a known one: kept, the router skips it). Undefined when it is fine.
 */
function refProblem(ref: unknown, path: string, check: RefCheck): RefProblem {
  if (typeof ref !== 'string' || !check.pattern.test(ref)) {
    const text = JSON.stringify(ref) ?? String(ref);
    const hint =
      typeof ref !== 'string'
        ? ''
        : closest(ref, ['auto'])
          ? '; did you mean "auto"?'
          : !ref.includes('/') && ref.trim()
            ? `; write the provider id first, e.g. "ollama/${ref.trim()}"`
            : '';
    const shownRef = text.length > 60 ? `${text.slice(0, 57)}...` : text;
    return { message: `${path}: ${shownRef} is not a model reference like ${REF_EXAMPLE} (or "auto")${hint}`, drop: true };
  }
  const split = splitRef(ref);
  if (split && !check.providerIds.has(split.providerId)) {
    const near = closest(split.providerId, check.providerIds);
    if (near) {
      return { message: `${path}: there is no provider "${split.providerId}"; did you mean "${near}/${split.model}"?`, drop: false };
    }
  }
  return undefined;
}

/** One task's entries: the valid ones kept, the others dropped, a problem for each (pushed to `problems`). */
function taskEntries(task: TaskName, raw: unknown[], check: RefCheck, problems: string[]): { kept: CandidateSetting[]; dropped: number } {
  const entrySchema: JsonSchema = SETTINGS['switchyard.tasks']!.properties![task]!.items ?? {};
  const kept: CandidateSetting[] = [];
  let dropped = 0;
  raw.forEach((item, i) => {
    const path = `switchyard.tasks.${task}[${i}]`;
    const isObject = typeof item === 'object' && item !== null && !Array.isArray(item);
    // A reference is checked here, in words; an object's other fields by the schema (no patterns left in them).
    const ref = isObject ? (item as Record<string, unknown>).model : item;
    const wrong =
      isObject && ref === undefined
        ? { message: `${path}: missing "model" (a model reference like ${REF_EXAMPLE})`, drop: true }
        : refProblem(ref, isObject ? `${path}.model` : path, check);
    const schemaProblems = !wrong?.drop && isObject ? validateAgainst(entrySchema, item, path) : [];
    if (wrong?.drop || schemaProblems.length) {
      problems.push(`${wrong?.drop ? wrong.message : schemaProblems.join('; ')} (ignored)`);
      dropped++;
      return;
    }
    if (wrong) problems.push(wrong.message);
    kept.push(normalizeCandidate(jsonClone(item) as TaskEntry));
  });
  return { kept, dropped };
}

/**
 * `switchyard.tasks`, entry by entry. Every problem names its full path (`switchyard.tasks.chat[1]`) and says what
 * is wrong in words (never the schema's regex), with a "did you mean" for a close task name or provider id; all of
 * them are reported as one problem, so the user sees one message listing everything to fix.
 */
export function parseTasks(rawTasks: unknown, r: Reader, configuredIds: ReadonlySet<string>): Record<TaskName, CandidateSetting[]> {
  const taskSchema = SETTINGS['switchyard.tasks']!;
  const taskDefaults = settingDefault('switchyard.tasks');
  const tasks = {} as Record<TaskName, CandidateSetting[]>;
  const isRecord = typeof rawTasks === 'object' && rawTasks !== null && !Array.isArray(rawTasks);
  if (rawTasks !== undefined && !isRecord) {
    r.report('switchyard.tasks', validateAgainst(taskSchema, rawTasks, 'switchyard.tasks'), 'using the defaults');
  }
  const taskObj = isRecord ? (rawTasks as Record<string, unknown>) : {};
  const check: RefCheck = {
    pattern: new RegExp(taskSchema.properties!.chat!.items!.anyOf![0]!.pattern!),
    providerIds: new Set([...configuredIds, ...Object.keys(PRESETS), ...LOCAL_DEFAULTS.map((p) => p.id)]),
  };
  const problems: string[] = [];
  const emptied: TaskName[] = [];

  for (const name of Object.keys(taskObj)) {
    if (isOneOf(TASK_NAMES, name)) continue;
    const near = closest(name, TASK_NAMES);
    const guess = near ? `; did you mean "${near}"?` : '';
    problems.push(`switchyard.tasks.${name}: unknown task "${name}"${guess} (tasks: ${TASK_NAMES.join(', ')}; ignored)`);
  }
  for (const task of TASK_NAMES) {
    const raw = taskObj[task];
    if (raw === undefined || !Array.isArray(raw)) {
      if (raw !== undefined) {
        const got = JSON.stringify(raw)?.slice(0, 60);
        problems.push(`switchyard.tasks.${task}: expected a list of models like [${REF_EXAMPLE}], got ${got} (using the default)`);
      }
      tasks[task] = taskDefaults[task].map(normalizeCandidate);
      continue;
    }
    const { kept, dropped } = taskEntries(task, raw, check, problems);
    if (dropped > 0 && kept.length === 0) {
      emptied.push(task);
      if (task === 'embed') {
        const why = 'switchyard.tasks.embed has no valid model left';
        problems.push(`${why}, so the workspace index is keyword-only (no embeddings) until this is fixed`);
      }
    }
    tasks[task] = kept;
  }
  if (problems.length) {
    const numbered = problems.map((p, i) => `(${i + 1}) ${p}`).join('; ');
    r.problems.push({
      key: 'switchyard.tasks',
      message: problems.length === 1 ? problems[0]! : `switchyard.tasks has ${problems.length} problems: ${numbered}`,
      ...(emptied.length ? { emptiedTasks: emptied } : {}),
    });
  }
  return tasks;
}
