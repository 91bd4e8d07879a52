/**
 * Removes `Object.prototype.__proto__`, as `node --disable-proto=delete` does. A key named `__proto__` in what a caller
 * sends (a map entry, which the generated decoders store with `map[key] = value`; a JSON document) is then an ordinary
 * key, kept and checked like any other, instead of replacing that object's prototype or vanishing unseen. Object
 * literals' `__proto__` and `Object.getPrototypeOf` are unaffected.
 *
 * This module imports nothing, so a process can harden itself before it loads anything else (the test processes do,
 * before their telemetry instruments the modules it patches).
 */
export function hardenObjectPrototype(): void {
  delete (Object.prototype as { __proto__?: unknown }).__proto__;
}
