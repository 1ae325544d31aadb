/**
 * What the inline completions status bar item says: on (and the model that serves), off, snoozed (until when), no
 * model (why), or the last failure with a next step. Pure (no `vscode`), so the words are unit-tested. A failure is
 * shown here and in the log, never as a notification: completions are asked for at every pause in typing.
 */
import type { ErrorKind } from '../../core/errors';
import { describeCandidate } from '../../core/describe';
import type { CompletionStatus } from '../../core/complete/service';
import { kindInWords } from '../chat/errorActions';

export interface CompletionFailure {
  kind: ErrorKind | string;
  /** The core's message (names the candidates tried and why each failed; never code or keys). */
  message: string;
}

export interface StatusView {
  text: string;
  /** Markdown-free lines (the item renders them as text). */
  tooltip: string[];
  /** Paint the item as a warning. */
  warning: boolean;
}

/** What to do next about a failure of this kind. */
export function nextStep(kind: ErrorKind | string): string {
  switch (kind) {
    case 'unreachable':
      return 'Start the model server (Ollama, llama.cpp, LM Studio) or check switchyard.providers, then Refresh Provider Health.';
    case 'timeout':
      return (
        'The model answered too slowly: try a smaller code model in ' +
        'switchyard.tasks.complete, or a longer switchyard.completion.debounceMs.'
      );
    case 'modelMissing':
      return 'Pull the model (Switchyard: Pull Model) or pick another in switchyard.tasks.complete.';
    case 'unsupported':
      return (
        'This model cannot fill in the middle (instruct-only): use a code ' +
        'model such as qwen2.5-coder, starcoder2, codegemma or deepseek-coder.'
      );
    case 'config':
      return (
        'Start a local server with a code model that fills in the middle ' +
        '(qwen2.5-coder, starcoder2, codegemma), or add one to switchyard.tasks.complete.'
      );
    case 'policy':
      return (
        'Cloud completions need switchyard.completion.allowCloud and a ' +
        'privacy setting that allows cloud use; or use a local code model.'
      );
    case 'auth':
      return "Set the provider's API key (Switchyard: Set API Key).";
    case 'rateLimited':
      return 'The provider is rate limiting: wait, or snooze completions for a while.';
    case 'contextOverflow':
      return 'Lower switchyard.completion.maxPrefixTokens / maxSuffixTokens, or use a model with a larger context.';
    default:
      return 'See Switchyard: Show Logs for details.';
  }
}

function clock(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** The item for a status, and the last failure since the last answer (if any). */
export function statusView(status: CompletionStatus | undefined, failure?: CompletionFailure): StatusView {
  const click = 'Click for options (turn on/off, snooze, routes, settings).';
  if (!status) return { text: '$(loading~spin) Complete', tooltip: ['Switchyard inline completions: finding a model…'], warning: false };
  switch (status.state) {
    case 'disabled':
      return {
        text: '$(circle-slash) Complete: off',
        tooltip: ['Switchyard inline completions are off (switchyard.completion.enabled).', click],
        warning: false,
      };
    case 'snoozed':
      return {
        text: '$(clock) Complete: snoozed',
        tooltip: [`Switchyard inline completions are snoozed until ${clock(status.until)}.`, click],
        warning: false,
      };
    case 'noModel':
      return {
        // Not painted as a warning: many users have no code model and want none; the words say how to get one.
        text: '$(circle-slash) Complete: no model',
        tooltip: [`Switchyard inline completions have no model: ${status.reason}.`, nextStep('config'), click],
        warning: false,
      };
    case 'enabled': {
      const r = status.route;
      const served = `Switchyard inline completions from ${describeCandidate(r)}, after a ${status.debounceMs} ms pause in typing.`;
      if (failure) {
        return {
          text: `$(warning) ${r.model}`,
          tooltip: [
            `The last inline completion failed (${kindInWords(failure.kind)}): ${failure.message}`,
            nextStep(failure.kind),
            served,
            click,
          ],
          warning: true,
        };
      }
      return { text: `${r.local ? '$(sparkle)' : '$(cloud)'} ${r.model}`, tooltip: [served, click], warning: false };
    }
  }
}
