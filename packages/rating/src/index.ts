export * from "./types.js";
export { type RateLine, MAX_PRICED_MICROS, QUANTITY_PER_RATE, withinPriceRange, quote, quoteProviderCost, quoteUsage, rateLines, roundHalfUp, totalMicros, versionForUsage, versionInEffect } from "./quote.js";
export * from "./codec.js";
export { formatAmount, formatMicros, MICROS_PER_UNIT } from "./amounts.js";
export { checkTableId } from "./table-id.js";
