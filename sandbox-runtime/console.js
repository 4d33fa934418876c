// Builds the `console` agent code sees: every call becomes one line of text, formatted
// roughly like Node (strings as they are, other values as JSON), handed to `emit`.
//
// Evaluates to `createConsole(render, emit, maxChars)`, where `render` is render.js,
// `emit(level, text)` records a line and `maxChars` caps each rendered argument.
(function () {
  'use strict';

  const str = String;
  const apply = Reflect.apply;
  const join = Array.prototype.join;
  const toTag = Object.prototype.toString;
  const symbolToString = Symbol.prototype.toString;
  const is = Object.is;

  // One console argument as text.
  function show(value, render, maxChars) {
    switch (typeof value) {
      case 'string':
        return value;
      case 'undefined':
        return 'undefined';
      case 'number':
        return is(value, -0) ? '-0' : str(value);
      case 'bigint':
        return str(value) + 'n';
      case 'symbol':
        return apply(symbolToString, value, []);
      case 'function':
        return value.name ? '[Function: ' + value.name + ']' : '[Function (anonymous)]';
      case 'boolean':
        return str(value);
      default:
        break;
    }
    if (value === null) return 'null';
    if (apply(toTag, value, []) === '[object Error]') {
      const head = str(value.name) + ': ' + str(value.message);
      const stack = typeof value.stack === 'string' ? value.stack.trimEnd() : '';
      return stack ? head + '\n' + stack : head;
    }
    return render(value, maxChars).json;
  }

  return function createConsole(render, emit, maxChars) {
    function writer(level) {
      return function () {
        const parts = [];
        for (let i = 0; i < arguments.length; i++) parts[i] = show(arguments[i], render, maxChars);
        emit(level, apply(join, parts, [' ']));
      };
    }
    return {
      log: writer('log'),
      info: writer('info'),
      warn: writer('warn'),
      error: writer('error'),
      debug: writer('log'),
    };
  };
})()
