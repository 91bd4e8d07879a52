export * from "./types.js";
export { quote, quoteUsage, roundHalfUp, totalMicros, versionInEffect } from "./quote.js";
export * from "./codec.js";
