import { InvalidArgumentError } from "@tollgate/errors";
import { quoteProviderCost, quoteUsage, totalMicros, withinPriceRange, type RateTable, type Usage } from "@tollgate/rating";

/** What a usage costs at one rate table version: its unit, bucket and the sum of its rounded line items. */
export interface TablePrice {
  unit: string;
  bucket: string;
  amountMicros: bigint;
}

/**
 * Prices usage at one rate table version; a bring-your-own-model account's
 * replies at their provider cost (`providerCost`). Throws INVALID_ARGUMENT or
 * NOT_FOUND on `field` (an unknown model, a price out of range, two units).
 */
export function priceAt(table: RateTable, usage: Usage, field: string, providerCost: boolean): TablePrice {
  const lines = withinPriceRange((providerCost ? quoteProviderCost(table, usage, field) : undefined) ?? quoteUsage(table, usage, field), field);
  if (new Set(lines.map((line) => line.unit)).size > 1) throw new InvalidArgumentError(field, "prices in more than one unit; send one usage per unit");
  return { unit: lines[0]?.unit ?? "credits", bucket: lines[0]?.bucket ?? "ai", amountMicros: totalMicros(lines) };
}
