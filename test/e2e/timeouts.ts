// One scale for every timeout of the e2e and integration tiers, so a busy machine gets more time without editing
// numbers: SWITCHYARD_E2E_TIMEOUT_SCALE=<factor> multiplies them all (default 1; 2 under CI=1). The extension host
// inherits the variable from code-server's environment, so test/integration's timeouts follow the same factor.
// No vscode or playwright imports here: test/integration bundles this file too.

function readScale(): number {
  const raw = process.env.SWITCHYARD_E2E_TIMEOUT_SCALE;
  if (raw !== undefined && raw.trim() !== '') {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`SWITCHYARD_E2E_TIMEOUT_SCALE must be a positive number, got "${raw}"`);
    return n;
  }
  return process.env.CI && process.env.CI !== '0' && process.env.CI !== 'false' ? 2 : 1;
}

export const timeoutScale = readScale();

/** A timeout in ms, scaled by SWITCHYARD_E2E_TIMEOUT_SCALE: write `t(15_000)` wherever a test or helper gives up. */
export function t(ms: number): number {
  return Math.round(ms * timeoutScale);
}
