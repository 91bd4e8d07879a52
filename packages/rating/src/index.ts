export * from "./types.js";
export { quote, quoteProviderCost, quoteUsage, roundHalfUp, totalMicros, versionInEffect } from "./quote.js";
export * from "./codec.js";
