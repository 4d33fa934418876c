// Builds each API's `request(options)` (`cloudflare.request` by default): a thin wrapper over
// the host's `send`, which takes the API's index and the options as JSON text, starts the
// request outside the sandbox and returns its id. The host later calls
// `settle(id, envelope, failure)` once the request has finished.
//
// Evaluates to `createApi(send, names)`, where `names` are the globals agent code reaches the
// APIs by, returning `{ apis, settle }`, one api per name. Only the apis are given to agent
// code; `send` and `settle` stay in this closure and in Rust.
(function () {
  'use strict';

  const str = String;
  const stringify = JSON.stringify;
  const isArray = Array.isArray;
  const objectKeys = Object.keys;
  const isFinite = Number.isFinite;
  const apply = Reflect.apply;
  const join = Array.prototype.join;
  const slice = String.prototype.slice;
  const PromiseCtor = Promise;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const MapCtor = Map;
  const mapGet = Map.prototype.get;
  const mapSet = Map.prototype.set;
  const mapDelete = Map.prototype.delete;
  const SetCtor = Set;
  const setHas = Set.prototype.has;
  const setAdd = Set.prototype.add;
  const setDelete = Set.prototype.delete;

  // Throws if `value` (found at `path`) cannot travel as JSON without silently changing;
  // `misuse` makes the error.
  function checkJson(value, path, ancestors, misuse) {
    switch (typeof value) {
      case 'bigint':
        throw misuse(path + ' is a BigInt, which JSON cannot carry; convert it with String() or Number()');
      case 'function':
        throw misuse(path + ' is a function, which JSON cannot carry');
      case 'symbol':
        throw misuse(path + ' is a symbol, which JSON cannot carry');
      case 'number':
        if (!isFinite(value)) throw misuse(path + ' is ' + str(value) + ', which JSON cannot carry');
        return;
      case 'object':
        break;
      default:
        return;
    }
    if (value === null || typeof value.toJSON === 'function') return;
    if (apply(setHas, ancestors, [value])) throw misuse(path + ' contains itself, which JSON cannot carry');
    apply(setAdd, ancestors, [value]);
    const array = isArray(value);
    const keys = objectKeys(value);
    for (let i = 0; i < keys.length; i++) {
      const where = array ? path + '[' + keys[i] + ']' : path + '.' + keys[i];
      checkJson(value[keys[i]], where, ancestors, misuse);
    }
    apply(setDelete, ancestors, [value]);
  }

  // The Error a failed API envelope rejects with: HTTP status, error codes and messages.
  function apiError(envelope) {
    const errors = isArray(envelope.errors) ? envelope.errors : [];
    const details = [];
    for (let i = 0; i < errors.length; i++) {
      const entry = errors[i];
      if (entry !== null && typeof entry === 'object') {
        const code = entry.code !== undefined ? '[' + str(entry.code) + '] ' : '';
        details[i] = code + (entry.message !== undefined ? str(entry.message) : stringify(entry));
      } else {
        details[i] = str(entry);
      }
    }
    const status = envelope.status;
    let message = 'Cloudflare API error';
    if (status !== undefined && status !== null) message += ' (HTTP ' + str(status) + ')';
    if (details.length > 0) message += ': ' + apply(join, details, ['; ']);
    const error = new ErrorCtor(message);
    error.status = status;
    error.errors = errors;
    error.messages = envelope.messages;
    return error;
  }

  // The summary of a generic envelope's body: its `message` (or `error`) text, else the body
  // itself, at most 300 characters.
  function bodySummary(data) {
    let text = '';
    if (typeof data === 'string') {
      text = data;
    } else if (data !== null && typeof data === 'object') {
      if (typeof data.message === 'string') text = data.message;
      else if (typeof data.error === 'string') text = data.error;
      else text = stringify(data);
    } else if (data !== null && data !== undefined) {
      text = str(data);
    }
    return text.length > 300 ? apply(slice, text, [0, 300]) + '...' : text;
  }

  // The Error a generic envelope with an error status rejects with: status and body summary.
  function httpError(name, envelope) {
    const summary = bodySummary(envelope.data);
    let message = name + ' API error (HTTP ' + str(envelope.status) + ')';
    if (summary !== '') message += ': ' + summary;
    const error = new ErrorCtor(message);
    error.status = envelope.status;
    error.headers = envelope.headers;
    error.data = envelope.data;
    return error;
  }

  return function createApi(send, names) {
    const pending = new MapCtor();

    function settle(id, envelope, failure) {
      const waiter = apply(mapGet, pending, [id]);
      if (waiter === undefined) return;
      apply(mapDelete, pending, [id]);
      if (failure !== null) {
        waiter.reject(new ErrorCtor(failure));
      } else if (envelope !== null && typeof envelope === 'object' && envelope.success === false) {
        waiter.reject(apiError(envelope));
      } else if (
        envelope !== null && typeof envelope === 'object' &&
        envelope.success === undefined && envelope.ok === false
      ) {
        waiter.reject(httpError(waiter.name, envelope));
      } else {
        waiter.resolve(envelope);
      }
    }

    // The `request` of the API at `index`, reached as `name`.
    function makeRequest(index, name) {
      // An error about the options agent code passed.
      function misuse(message) {
        return new TypeErrorCtor(name + '.request: ' + message);
      }

      return function request(options) {
        if (options === null || typeof options !== 'object' || isArray(options)) {
          return PromiseCtor.reject(
            misuse('expects one options object, e.g. { method: "GET", path: "/zones" }'),
          );
        }
        try {
          checkJson(options, 'options', new SetCtor(), misuse);
        } catch (error) {
          return PromiseCtor.reject(error);
        }
        return new PromiseCtor(function (resolve, reject) {
          const id = send(index, stringify(options));
          apply(mapSet, pending, [id, { resolve, reject, name }]);
        });
      };
    }

    const apis = [];
    for (let i = 0; i < names.length; i++) apis[i] = { request: makeRequest(i, names[i]) };
    return { apis, settle };
  };
})()
