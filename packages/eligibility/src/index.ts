export * from "./engine.js";
export * from "./codec.js";
export * from "./work-kind.js";
