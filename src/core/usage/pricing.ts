/** Estimated cost of a cloud request from the catalog's list prices. */
import { estimateCost, lookupModel } from '../config/catalog';
import type { ProviderConfig } from '../providers/types';

export function priceOf(provider: ProviderConfig, model: string, inputTokens: number, outputTokens: number): number | undefined {
  return estimateCost(lookupModel(provider.preset ?? provider.id, model)?.price, inputTokens, outputTokens);
}
