/**
 * The privacy policy: whether a request may go to a cloud provider. Local means loopback or a host the user
 * marked local. Untrusted workspaces and workspaces that opted out are local-only whatever the setting says.
 */
import type { PrivacyMode, SwitchyardConfig } from '../config/config';
import { isLoopbackHost } from '../providers/index';

export interface PrivacyContext {
  mode: PrivacyMode;
  /** False in an untrusted workspace. */
  trusted: boolean;
  /** The workspace opted out of cloud use. */
  workspaceOptOut: boolean;
  /** A privacy setting is invalid: local-only whatever the mode says (the config's privacyLock). */
  locked?: string;
}

/** The privacy context of a config, for hosts that add what they know of the workspace (trust, opt-out elsewhere). */
export function privacyContext(config: SwitchyardConfig, workspace: { trusted?: boolean; optedOut?: boolean } = {}): PrivacyContext {
  return {
    mode: config.privacyLock ? 'local-only' : config.privacy,
    trusted: workspace.trusted ?? true,
    workspaceOptOut: config.workspaceCloudOptOut || workspace.optedOut === true,
    ...(config.privacyLock ? { locked: config.privacyLock } : {}),
  };
}

export interface CloudRequest {
  task: string;
  providerId: string;
  model: string;
}

/**
 * Asks the user before the first cloud use of a workspace (privacy `ask`). Resolves true to allow this request.
 * Hosts that cannot ask (the CLI without --allow-cloud) leave it undefined and cloud is refused.
 */
export type AskCloud = (request: CloudRequest) => Promise<boolean>;

export type CloudVerdict = { allowed: true } | { allowed: 'ask' } | { allowed: false; reason: string };

/** The mode that actually applies, with the reason when it is stricter than the setting. */
export function effectiveMode(ctx: PrivacyContext): { mode: PrivacyMode; because?: string } {
  if (ctx.locked) return { mode: 'local-only', because: `a privacy setting is invalid: ${ctx.locked}` };
  if (!ctx.trusted) return { mode: 'local-only', because: 'the workspace is not trusted' };
  if (ctx.workspaceOptOut) return { mode: 'local-only', because: 'this workspace opted out of cloud use' };
  return { mode: ctx.mode };
}

export function cloudVerdict(ctx: PrivacyContext, canAsk: boolean): CloudVerdict {
  const { mode, because } = effectiveMode(ctx);
  if (mode === 'local-only') return { allowed: false, reason: `privacy is local-only${because ? ` (${because})` : ''}` };
  if (mode === 'allow') return { allowed: true };
  return canAsk
    ? { allowed: 'ask' }
    : { allowed: false, reason: 'privacy is "ask" and there is no one to ask (the CLI needs --allow-cloud)' };
}

/** Whether a base URL's host is this machine or one the user listed as local. */
export function isLocalUrl(baseUrl: string, localHosts: readonly string[] = []): boolean {
  if (isLoopbackHost(baseUrl)) return true;
  try {
    const host = new URL(baseUrl).hostname.toLowerCase();
    return localHosts.some((h) => h.toLowerCase() === host);
  } catch {
    return false;
  }
}
