// Locks the realm that holds the shared spec, so no call can leave anything behind in it.
//
// Every search call runs in a fresh realm, but the spec's objects come from this one and
// carry its prototypes: `Object.getPrototypeOf(spec)` is this realm's Object.prototype and
// `spec.constructor.constructor` its Function. So this realm is made immutable and unable
// to compile code: the Function constructors are replaced by throwing stubs, `eval` is
// removed, the accessors that set realm-wide error state become plain values, and then
// everything reachable from the global object and the hidden intrinsics is frozen (the spec
// itself is frozen as it is built).
//
// Evaluates to `lockdown()`. Run it once, after the spec and every helper are built.
(function () {
  'use strict';

  return function lockdown() {
    const getPrototypeOf = Object.getPrototypeOf;
    const defineProperty = Object.defineProperty;
    const freeze = Object.freeze;
    const ownKeys = Reflect.ownKeys;
    const describe = Object.getOwnPropertyDescriptor;

    const refuse = function () {
      throw new TypeError('code generation is disabled in the shared spec realm');
    };
    const functionPrototypes = [
      Function.prototype,
      getPrototypeOf(async function () {}),
      getPrototypeOf(function* () {}),
      getPrototypeOf(async function* () {}),
    ];
    for (const prototype of functionPrototypes) {
      defineProperty(prototype, 'constructor', { value: refuse, writable: false, configurable: false });
    }
    defineProperty(globalThis, 'Function', { value: refuse, writable: false, configurable: false });
    delete globalThis.eval;
    for (const name of ['prepareStackTrace', 'stackTraceLimit']) {
      defineProperty(Error, name, { value: Error[name], writable: false, configurable: false });
    }

    const roots = [globalThis, refuse, ...functionPrototypes];
    const samples = [
      [][Symbol.iterator](),
      new Map()[Symbol.iterator](),
      new Set()[Symbol.iterator](),
      ''[Symbol.iterator](),
      /x/[Symbol.matchAll](''),
      (function* () {})(),
      (async function* () {})(),
      [].values().map((x) => x),
      Iterator.from({ next() { return { done: true }; } }),
      (function () { return arguments; })(),
    ];
    for (const sample of samples) roots.push(getPrototypeOf(sample));

    const seen = new Set();
    const queue = roots.slice();
    while (queue.length > 0) {
      const value = queue.pop();
      if (value === null || (typeof value !== 'object' && typeof value !== 'function')) continue;
      if (seen.has(value)) continue;
      seen.add(value);
      for (const key of ownKeys(value)) {
        const descriptor = describe(value, key);
        if (descriptor === undefined) continue;
        if ('value' in descriptor) queue.push(descriptor.value);
        if (descriptor.get) queue.push(descriptor.get);
        if (descriptor.set) queue.push(descriptor.set);
      }
      queue.push(getPrototypeOf(value));
      freeze(value);
    }
  };
})()
