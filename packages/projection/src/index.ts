export * from "./run-out.js";
