/**
 * Switchyard's routed virtual models in VS Code's own model picker: `vscode.lm.registerLanguageModelChatProvider`
 * (declared under contributes.languageModelChatProviders, vendor "switchyard"). Every chat participant or extension
 * calling `vscode.lm.selectChatModels({ vendor: 'switchyard' })` gets the user's routing, with streaming,
 * cancellation, token counting and the same privacy rules. On a VS Code without the API this registers nothing.
 */
import * as vscode from 'vscode';
import { CHAT_TASKS } from '../../core/config/config';
import { describeCandidate } from '../../core/describe';
import { runTurn, turnOfMessages } from '../../core/chat/turn';
import { parseSampling } from '../../core/gateway/chatWire';
import { estimateTokens } from '../../core/providers/tokenEstimate';
import type { ChatImage, ChatMessage, ToolCall, ToolSpec } from '../../core/providers/types';
import { DEFAULT_CONTEXT_WINDOW, knownContextWindow } from '../../core/routing/window';
import type { Services } from '../services';

const LM_VENDOR = 'switchyard';

/** The virtual chat models: every chat task (not embed, not complete), then the aliases of those tasks. */
function virtualModels(services: Services): { id: string; task: string }[] {
  const config = services.switchyard.config;
  const out = CHAT_TASKS.map((t) => ({ id: `switchyard/${t}`, task: t as string }));
  for (const [alias, task] of Object.entries(config.aliases)) {
    if ((CHAT_TASKS as readonly string[]).includes(task)) out.push({ id: `switchyard/${alias}`, task });
  }
  return out;
}

function partText(part: unknown): string {
  if (part instanceof vscode.LanguageModelTextPart) return part.value;
  if (part instanceof vscode.LanguageModelToolResultPart) return part.content.map(partText).join('');
  if (part instanceof vscode.LanguageModelToolCallPart) return '';
  const value = part && typeof part === 'object' && 'value' in part ? (part as { value: unknown }).value : undefined;
  if (typeof value === 'string') return value;
  return '';
}

/**
 * An image data part (LanguageModelDataPart with an image/* mime type, newer than the API this extension is built
 * against: read by shape) as the router's image; other data parts (JSON, cache hints) are not content.
 */
function imageOf(part: unknown): ChatImage | undefined {
  if (!part || typeof part !== 'object') return undefined;
  const p = part as { mimeType?: unknown; data?: unknown };
  if (typeof p.mimeType !== 'string' || !p.mimeType.toLowerCase().startsWith('image/') || !(p.data instanceof Uint8Array)) return undefined;
  return { mimeType: p.mimeType.toLowerCase(), data: Buffer.from(p.data).toString('base64') };
}

/**
 * VS Code's messages in the router's terms: an assistant message's tool calls become `toolCalls` (arguments as JSON
 * text), each tool result of a user message becomes a `tool` message answering its call, after the user's text, and
 * a user message's image data parts become its images.
 */
function toMessages(messages: readonly vscode.LanguageModelChatRequestMessage[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const m of messages) {
    const Role = vscode.LanguageModelChatMessageRole;
    const role = m.role === Role.Assistant ? 'assistant' : m.role === Role.User ? 'user' : 'system';
    const text = m.content
      .filter((p) => !(p instanceof vscode.LanguageModelToolResultPart))
      .map(partText)
      .join('');
    const calls: ToolCall[] = m.content
      .filter((p): p is vscode.LanguageModelToolCallPart => p instanceof vscode.LanguageModelToolCallPart)
      .map((p) => ({ id: p.callId, name: p.name, arguments: JSON.stringify(p.input ?? {}) }));
    const results = m.content.filter((p): p is vscode.LanguageModelToolResultPart => p instanceof vscode.LanguageModelToolResultPart);
    const images = role === 'user' ? m.content.map(imageOf).filter((i): i is ChatImage => i !== undefined) : [];
    if (role === 'assistant' && calls.length) out.push({ role, content: text, toolCalls: calls });
    else if (images.length) out.push({ role, content: text, imageParts: images });
    else if (text || results.length === 0) out.push({ role, content: text });
    for (const r of results) out.push({ role: 'tool', content: r.content.map(partText).join(''), toolCallId: r.callId });
  }
  return out;
}

function toTools(tools: readonly vscode.LanguageModelChatTool[] | undefined): ToolSpec[] | undefined {
  if (!tools?.length) return undefined;
  return tools.map((t) => ({
    name: t.name,
    description: t.description,
    ...(t.inputSchema ? { parameters: t.inputSchema as Record<string, unknown> } : {}),
  }));
}

/** The arguments of a finished call as VS Code's `input` object (a model's malformed JSON becomes `{}`, not a throw). */
function parseInput(text: string): object {
  try {
    const v: unknown = JSON.parse(text || '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? v : { value: v };
  } catch {
    return {};
  }
}

type ThinkingPartClass = new (value: string) => vscode.LanguageModelResponsePart;

/**
 * Reports reasoning as VS Code's thinking part where this VS Code has one (LanguageModelThinkingPart, newer than the
 * API this extension is built against) and takes it from a provider; elsewhere reasoning is left out, never passed
 * as answer text.
 */
function thinkingReporter(progress: vscode.Progress<vscode.LanguageModelResponsePart>): (text: string) => void {
  let Part: ThinkingPartClass | undefined;
  try {
    Part = (vscode as unknown as { LanguageModelThinkingPart?: ThinkingPartClass }).LanguageModelThinkingPart;
  } catch {
    Part = undefined;
  }
  return (text) => {
    if (!Part) return;
    try {
      progress.report(new Part(text));
    } catch {
      Part = undefined;
    }
  };
}

/** The picker's entry of each virtual model: the route's model now, its window, tool calling, image input. */
async function chatInformation(services: Services): Promise<vscode.LanguageModelChatInformation[]> {
  const router = services.switchyard.router;
  return Promise.all(
    virtualModels(services).map(async ({ id, task }) => {
      let detail = 'routed by Switchyard';
      let contextLength: number | undefined;
      // Agent mode lists only models that call tools: a route whose model is known not to is not offered there.
      let toolCalling = true;
      // Image attachments only where a candidate of the route is known to take images (others are skipped for them).
      let imageInput = false;
      try {
        imageInput = await router.routeTakesImages(id);
        toolCalling = await router.routeCallsTools(id);
        const plan = await router.plan(id);
        const c = plan.candidate;
        if (c) {
          detail = describeCandidate(c);
          contextLength = knownContextWindow(c, services.switchyard.registry);
        } else detail = 'no model available now';
      } catch {
        // shown as routed; the request will say what is wrong
      }
      return {
        id,
        name: `Switchyard ${id.slice('switchyard/'.length)}`,
        family: 'switchyard',
        version: '1',
        detail,
        tooltip: `The ${task} task's current route: ${detail}. Switchyard falls back and applies your privacy setting per request.`,
        maxInputTokens: contextLength ?? DEFAULT_CONTEXT_WINDOW,
        maxOutputTokens: 4096,
        capabilities: { imageInput, toolCalling },
        // VS Code 1.120+ hides third-party models from the picker unless they say they may be chosen there.
        isUserSelectable: true,
      } as vscode.LanguageModelChatInformation;
    }),
  );
}

/** One request from a chat participant or extension: the chat view's turn, streamed back as VS Code's parts. */
async function respond(
  services: Services,
  model: vscode.LanguageModelChatInformation,
  messages: readonly vscode.LanguageModelChatRequestMessage[],
  options: vscode.ProvideLanguageModelChatResponseOptions,
  progress: vscode.Progress<vscode.LanguageModelResponsePart>,
  token: vscode.CancellationToken,
): Promise<void> {
  const controller = new AbortController();
  const sub = token.onCancellationRequested(() => controller.abort());
  const modelOptions = options.modelOptions ?? {};
  const tools = toTools(options.tools);
  const calls = new Map<number, { id: string; name: string; args: string }>();
  const reasoning = thinkingReporter(progress);
  try {
    // The chat view's turn: the history cut to the window of the model that answers, `<think>` text as reasoning.
    for await (const ev of runTurn(
      { router: services.switchyard.router, providers: services.switchyard.registry },
      {
        task: model.id,
        ...turnOfMessages(toMessages(messages)),
        signal: controller.signal,
        temperature: typeof modelOptions.temperature === 'number' ? modelOptions.temperature : undefined,
        maxTokens: [modelOptions.maxTokens, modelOptions.max_tokens].find((v): v is number => typeof v === 'number'),
        // stop, top_p, seed, presence_penalty, frequency_penalty under OpenAI's names, checked as the gateway checks them.
        sampling: parseSampling(modelOptions as Record<string, unknown>),
        tools,
        toolChoice: tools && options.toolMode === vscode.LanguageModelChatToolMode.Required ? 'required' : undefined,
      },
    )) {
      if (ev.type === 'text') progress.report(new vscode.LanguageModelTextPart(ev.text));
      else if (ev.type === 'reasoning') reasoning(ev.text);
      else if (ev.type === 'notice') services.log.info(`language model ${model.id}: ${ev.text}`);
      else if (ev.type === 'toolCall') calls.set(ev.index, { id: ev.id, name: ev.name, args: '' });
      else if (ev.type === 'toolCallArgs') {
        const call = calls.get(ev.index);
        if (call) call.args += ev.text;
      } else if (ev.type === 'toolCallEnd') {
        const call = calls.get(ev.index);
        if (call) progress.report(new vscode.LanguageModelToolCallPart(call.id, call.name, parseInput(call.args)));
      } else if (ev.type === 'route') services.log.info(`language model ${model.id} → ${describeCandidate(ev.route)}`);
    }
  } catch (e) {
    if (token.isCancellationRequested) return;
    throw e instanceof Error ? new Error(`Switchyard: ${e.message}`) : e;
  } finally {
    sub.dispose();
  }
}

export function registerLanguageModels(services: Services): vscode.Disposable[] {
  const lm = vscode.lm as Partial<typeof vscode.lm> | undefined;
  if (typeof lm?.registerLanguageModelChatProvider !== 'function') {
    services.log.info(
      `language models: this VS Code (${vscode.version}) has no registerLanguageModelChatProvider; ` +
        "Switchyard's models are not in its model picker",
    );
    return [];
  }
  const changed = new vscode.EventEmitter<void>();
  const provider: vscode.LanguageModelChatProvider = {
    onDidChangeLanguageModelChatInformation: changed.event,
    provideLanguageModelChatInformation: () => chatInformation(services),
    provideLanguageModelChatResponse: (model, messages, options, progress, token) =>
      respond(services, model, messages, options, progress, token),
    async provideTokenCount(_model, text) {
      return estimateTokens(typeof text === 'string' ? text : text.content.map(partText).join(''));
    },
  };
  const registration = lm.registerLanguageModelChatProvider(LM_VENDOR, provider);
  // VS Code resolves a provider's models only when something asks for them (Manage Models, selectChatModels) or the
  // provider says they changed: say so once now, or the model picker lists only "Auto" until Manage Models is opened.
  const announce = setTimeout(() => changed.fire(), 0);
  // What the picker shows (the route's model, its window, tool calling, image input) is learnt from the servers: say
  // it changed when a provider's health turns (a server started after VS Code, one gone down, models first listed),
  // coalesced, as the status bar does; otherwise it stays as found at activation until a settings change.
  let soon: ReturnType<typeof setTimeout> | undefined;
  const health = services.switchyard.router.health.onChange(() => {
    clearTimeout(soon);
    soon = setTimeout(() => changed.fire(), 200);
  });
  return [
    changed,
    registration,
    {
      dispose: () => {
        clearTimeout(announce);
        clearTimeout(soon);
        health.dispose();
      },
    },
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('switchyard')) changed.fire();
    }),
  ];
}
