export * from "./engine.js";
export * from "./codec.js";
