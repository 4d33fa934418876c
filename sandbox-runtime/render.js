// Renders a value as JSON text no longer than a character budget.
//
// The sandbox first asks the engine's own JSON.stringify for the text, stopping past the
// budget (`stringify_within`, crates/sandbox/src/quickjs/run.rs); this runs for the values that
// did not fit, or that JSON.stringify rejects.
//
// Evaluates to `render(value, maxChars)`, which returns `{ json, truncation }`:
// - if the whole value fits, `json` is exactly what JSON.stringify(value) gives (with
//   `undefined` as "null"), and `truncation` is null;
// - otherwise the value is cut structurally, so `json` stays valid JSON: arrays keep their
//   first items and end with "… N more items", objects keep their first keys and end with
//   "…": "N more keys", strings keep their start and end with "… (N more chars)".
//   `truncation` then says how much was cut and how big the whole value is (measured up to a
//   bound, never materialised: rendering the whole spec would take hundreds of megabytes).
// Values JSON.stringify rejects do not fail: a BigInt becomes its decimal string and a cycle
// the string "[Circular]".
(function () {
  'use strict';

  const str = String;
  const objectKeys = Object.keys;
  const isArray = Array.isArray;
  const stringify = JSON.stringify;
  const isFinite = Number.isFinite;
  const floor = Math.floor;
  const max = Math.max;
  const min = Math.min;
  const apply = Reflect.apply;
  const join = Array.prototype.join;
  const toTag = Object.prototype.toString;
  const unbox = {
    __proto__: null,
    '[object Number]': Number.prototype.valueOf,
    '[object String]': String.prototype.valueOf,
    '[object Boolean]': Boolean.prototype.valueOf,
    '[object BigInt]': BigInt.prototype.valueOf,
  };

  // How many times the budget the full size is measured up to before reporting a lower bound.
  const MEASURE_FACTOR = 10;
  // A truncated container gives each oversized member at least 1/FAIR_SHARE of its budget.
  const FAIR_SHARE = 8;
  // Below this many characters a member is not worth showing; it is counted as omitted.
  const MIN_CHILD = 40;
  // Room kept for the final "… N more items" marker, separator included.
  const MARKER_ROOM = 32;

  // Applies what JSON.stringify does before writing a value: toJSON, then unboxing.
  // Returns `undefined` for values JSON leaves out (undefined, functions, symbols).
  function prepare(value, key) {
    if (value !== null && (typeof value === 'object' || typeof value === 'bigint')) {
      const toJSON = value.toJSON;
      if (typeof toJSON === 'function') value = apply(toJSON, value, [key]);
    }
    if (value !== null && typeof value === 'object' && !isArray(value)) {
      const valueOf = unbox[apply(toTag, value, [])];
      if (valueOf !== undefined) {
        try {
          value = apply(valueOf, value, []);
        } catch (_) {
          // A spoofed Symbol.toStringTag: an ordinary object after all.
        }
      }
    }
    if (typeof value === 'function' || typeof value === 'symbol') return undefined;
    return value;
  }

  // The JSON text of a prepared primitive.
  function primitive(value) {
    if (value === null) return 'null';
    switch (typeof value) {
      case 'string':
        return stringify(value);
      case 'number':
        return isFinite(value) ? str(value) : 'null';
      case 'boolean':
        return value ? 'true' : 'false';
      case 'bigint':
        return '"' + str(value) + '"';
      default:
        return 'null';
    }
  }

  // The members of a container, read lazily: arrays are not copied, however long.
  function membersOf(value) {
    if (isArray(value)) {
      return { length: value.length, key: (i) => str(i), prefix: () => '' };
    }
    const keys = objectKeys(value);
    return { length: keys.length, key: (i) => keys[i], prefix: (i) => stringify(keys[i]) + ':' };
  }

  // Appends `text` to a writer; false once the writer is past its limit.
  function emit(out, text) {
    out.length += text.length;
    if (out.length > out.limit) return false;
    if (out.parts !== null) out.parts[out.parts.length] = text;
    return true;
  }

  // Writes the exact JSON of a prepared value; false as soon as it passes the writer's limit.
  // `ancestors` holds the containers being written, to turn cycles into "[Circular]".
  function write(value, out, ancestors) {
    if (value === null || typeof value !== 'object') return emit(out, primitive(value));
    if (ancestors.has(value)) return emit(out, '"[Circular]"');
    ancestors.add(value);
    const array = isArray(value);
    const members = membersOf(value);
    let fits = emit(out, array ? '[' : '{');
    let first = true;
    for (let i = 0; fits && i < members.length; i++) {
      const key = members.key(i);
      const child = prepare(value[key], key);
      if (child === undefined && !array) continue;
      fits = emit(out, (first ? '' : ',') + members.prefix(i));
      first = false;
      if (fits) fits = child === undefined ? emit(out, 'null') : write(child, out, ancestors);
    }
    ancestors.delete(value);
    return fits && emit(out, array ? ']' : '}');
  }

  // The exact JSON of a prepared value if it is at most `limit` characters, else null.
  function exact(value, limit, ancestors) {
    const out = { parts: [], length: 0, limit };
    return write(value, out, ancestors) ? apply(join, out.parts, ['']) : null;
  }

  // The length of the exact JSON of a prepared value if it is at most `limit`, else null.
  function measure(value, limit) {
    const out = { parts: null, length: 0, limit };
    return write(value, out, new Set()) ? out.length : null;
  }

  // Writes n with thousands separators.
  function count(n) {
    const digits = str(n);
    let text = '';
    for (let i = 0; i < digits.length; i++) {
      if (i > 0 && (digits.length - i) % 3 === 0) text += ',';
      text += digits[i];
    }
    return text;
  }

  // A string cut to fit `budget` characters of JSON, with an in-band marker.
  function fitString(value, budget, cuts) {
    let keep = min(value.length, budget);
    for (;;) {
      if (keep > 0 && keep < value.length) {
        const unit = value.charCodeAt(keep - 1);
        if (unit >= 0xd800 && unit <= 0xdbff) keep -= 1;
      }
      const text = stringify(value.slice(0, keep) + '… (' + count(value.length - keep) + ' more chars)');
      if (text.length <= budget || keep === 0) {
        cuts.chars += value.length - keep;
        return text;
      }
      keep = max(0, keep - (text.length - budget));
    }
  }

  // JSON for a prepared value known not to fit in `known` characters, in at most `budget`
  // characters (budget >= MIN_CHILD): cuts what does not fit and records the cuts.
  function fit(value, budget, known, ancestors, cuts) {
    if (budget > known) {
      const whole = exact(value, budget, ancestors);
      if (whole !== null) return whole;
    }
    if (typeof value === 'string') return fitString(value, budget, cuts);
    if (typeof value === 'bigint') return fitString(str(value), budget, cuts);
    const array = isArray(value);
    ancestors.add(value);
    const members = membersOf(value);
    const inner = budget - 2;
    const share = max(MIN_CHILD, floor(inner / FAIR_SHARE));
    // First pass: walk the members in order, taking those that fit whole and reserving a
    // fair share for each oversized one, until the budget is committed.
    const chosen = [];
    let committed = 0;
    let oversized = 0;
    let index = 0;
    for (; index < members.length; index++) {
      const key = members.key(index);
      const child = prepare(value[key], key);
      if (child === undefined && !array) continue;
      const prefix = members.prefix(index);
      const separator = chosen.length > 0 ? 1 : 0;
      const room = inner - MARKER_ROOM - committed - separator - prefix.length;
      if (room < MIN_CHILD) break;
      const text = child === undefined ? 'null' : exact(child, room, ancestors);
      if (text !== null) {
        chosen[chosen.length] = { prefix, text, child, room };
        committed += separator + prefix.length + text.length;
      } else {
        if (room < share) break;
        chosen[chosen.length] = { prefix, text, child, room };
        committed += separator + prefix.length + share;
        oversized += 1;
      }
    }
    const omitted = members.length - index;
    // Second pass: share what is left evenly among the oversized members.
    let spare = inner - (omitted > 0 ? MARKER_ROOM : 0) - committed + oversized * share;
    let out = array ? '[' : '{';
    for (let i = 0; i < chosen.length; i++) {
      let text = chosen[i].text;
      if (text === null) {
        text = fit(chosen[i].child, floor(spare / oversized), chosen[i].room, ancestors, cuts);
        spare -= text.length;
        oversized -= 1;
      }
      out += (i > 0 ? ',' : '') + chosen[i].prefix + text;
    }
    if (omitted > 0) {
      const separator = chosen.length > 0 ? ',' : '';
      const plural = omitted === 1 ? '' : 's';
      if (array) {
        cuts.items += omitted;
        out += separator + stringify('… ' + count(omitted) + ' more item' + plural);
      } else {
        cuts.keys += omitted;
        out += separator + '"…":' + stringify(count(omitted) + ' more key' + plural);
      }
    }
    ancestors.delete(value);
    return out + (array ? ']' : '}');
  }

  return function render(value, maxChars) {
    const prepared = prepare(value, '');
    const top = prepared === undefined ? null : prepared;
    const whole = exact(top, maxChars, new Set());
    if (whole !== null) return { json: whole, truncation: null };
    const bound = maxChars * MEASURE_FACTOR;
    const measured = measure(top, bound);
    const cuts = { items: 0, keys: 0, chars: 0 };
    const json = fit(top, max(maxChars, MIN_CHILD), maxChars, new Set(), cuts);
    return {
      json,
      truncation: {
        fullChars: measured === null ? bound : measured,
        fullIsLowerBound: measured === null,
        shownChars: json.length,
        omittedItems: cuts.items,
        omittedKeys: cuts.keys,
        omittedChars: cuts.chars,
      },
    };
  };
})()
