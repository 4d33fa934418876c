// Makes an `execute` realm repeatable: its clock is read from the host, which may record the
// readings and hand them back when the same code runs again, and its random numbers come from
// the call's recorded seed, so running the same code again sees the same values.
//
// Evaluates to `seedRealm(clock, seedHigh, seedLow)`. `Date.now()`, `new Date()` and `Date()`
// each read `clock()` (Unix milliseconds, never going backwards), so time moves during the
// call; dates built from arguments behave as ever. `Math.random` draws from sfc32 seeded by the
// two 32-bit halves.
(function () {
  'use strict';

  return function seedRealm(clock, seedHigh, seedLow) {
    const RealDate = Date;
    const construct = Reflect.construct;
    const SeededDate = function Date(...args) {
      if (new.target === undefined) return new RealDate(clock()).toString();
      return construct(RealDate, args.length === 0 ? [clock()] : args, new.target);
    };
    Object.defineProperty(SeededDate, 'prototype', { value: RealDate.prototype });
    Object.defineProperty(SeededDate, 'length', { value: 7 });
    SeededDate.now = function now() {
      return clock();
    };
    SeededDate.parse = RealDate.parse;
    SeededDate.UTC = RealDate.UTC;
    Object.defineProperty(RealDate.prototype, 'constructor', {
      value: SeededDate,
      writable: true,
      configurable: true,
    });
    Object.defineProperty(globalThis, 'Date', {
      value: SeededDate,
      writable: true,
      configurable: true,
    });

    let a = seedHigh >>> 0;
    let b = seedLow >>> 0;
    let c = (seedHigh ^ 0x9e3779b9) >>> 0;
    let d = 1;
    const random = function random() {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      return (t >>> 0) / 4294967296;
    };
    for (let i = 0; i < 12; i += 1) random();
    Object.defineProperty(Math, 'random', {
      value: random,
      writable: true,
      configurable: true,
    });
  };
})()
