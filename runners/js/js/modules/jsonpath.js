// require('jsonpath'): `JSONPath({path, json, wrap, resultType})` (or
// `JSONPath(path, json)`) in the shape of the jsonpath-plus package PubNub
// offers, over a subset of its syntax written here (no eval):
// - `$` (the root; may be left out), `.name`, `['name']` / `["name"]`,
//   `[n]` (negative from the end), `.*` / `[*]`, `..name` / `..*` /
//   `..[...]` (recursive descent), slices `[start:end:step]`, unions
//   `[0,2]` / `['a','b']`, script indexes `[(@.length-1)]`;
// - filters `[?(expr)]` over an array's items or an object's values, where
//   `expr` has `@` (the item) and `$` (the root) with `.name`, `['name']`
//   and `[n]` after them (`@.length` too), numbers, strings, true, false,
//   null, undefined, `== != === !== < <= > >=`, `&& || !`, `+ - * / %` and
//   parentheses; `@.x` alone tests that it is truthy.
// Options: `wrap` (default true: an array of results; false: the one result
// itself, or undefined when there is none), `resultType`: 'value'
// (default), 'path' (`$['a'][0]`), 'pointer' (`/a/0`), 'parent',
// 'parentProperty' or 'all'. Not here: `@property`/`@path` and the other
// `@`-names, `~` (property names), type selectors (`@string()`...),
// callbacks, `sandbox`, `flatten`, and JavaScript beyond the operators above
// in filters.

// --- the path -------------------------------------------------------------
function fail(path, at, what) {
  throw new SyntaxError(`jsonpath: ${what} at ${at} in ${path}`);
}

// The index of the `close` that ends the group opened at `open`, past
// quoted strings and nested groups.
function closing(s, open, close) {
  const start = s[open];
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'") {
      const end = s.indexOf(c, i + 1);
      if (end < 0) return -1;
      i = end;
    } else if (c === start) depth++;
    else if (c === close && --depth === 0) return i;
  }
  return -1;
}

function splitTopLevel(s) {
  const items = [];
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'") {
      const end = s.indexOf(c, i + 1);
      i = end < 0 ? s.length : end;
    } else if (c === ',') {
      items.push(s.slice(from, i));
      from = i + 1;
    }
  }
  items.push(s.slice(from));
  return items.map((x) => x.trim());
}

function unquote(item) {
  return item.slice(1, -1).replace(/\\(.)/g, '$1');
}

function bracketItem(item, path, at) {
  if (item === '*') return { kind: 'wildcard' };
  if (/^(['"]).*\1$/s.test(item)) return { kind: 'name', name: unquote(item) };
  if (/^-?\d+$/.test(item)) return { kind: 'index', index: Number(item) };
  if (item.includes(':')) {
    const parts = item.split(':').map((p) => p.trim());
    if (parts.length > 3 || !parts.every((p) => p === '' || /^-?\d+$/.test(p))) fail(path, at, `bad slice [${item}]`);
    const num = (p) => (p === '' || p === undefined ? undefined : Number(p));
    return { kind: 'slice', start: num(parts[0]), end: num(parts[1]), step: num(parts[2]) };
  }
  if (item === '') fail(path, at, 'an empty []');
  return { kind: 'name', name: item };
}

// `[...]` at s[i] -> [selector, index after it].
function bracket(s, i, path) {
  const end = closing(s, i, ']');
  if (end < 0) fail(path, i, 'an unclosed [');
  const inner = s.slice(i + 1, end).trim();
  if (inner.startsWith('?')) {
    const expr = inner.slice(1).trim();
    if (!expr.startsWith('(') || !expr.endsWith(')')) fail(path, i, 'a filter not written [?(...)]');
    return [{ kind: 'filter', test: compile(expr.slice(1, -1), path) }, end + 1];
  }
  if (inner.startsWith('(') && inner.endsWith(')')) return [{ kind: 'script', key: compile(inner.slice(1, -1), path) }, end + 1];
  const items = splitTopLevel(inner).map((item) => bracketItem(item, path, i));
  return [items.length === 1 ? items[0] : { kind: 'union', items }, end + 1];
}

// `.name` or `.*` at s[i] (past the dot) -> [selector, index after it].
function dotted(s, i, path) {
  if (s[i] === '*') return [{ kind: 'wildcard' }, i + 1];
  let j = i;
  while (j < s.length && s[j] !== '.' && s[j] !== '[') j++;
  if (j === i) fail(path, i, 'a missing name');
  return [{ kind: 'name', name: s.slice(i, j) }, j];
}

function parse(path) {
  const s = String(path).trim();
  const segments = [];
  let i = s.startsWith('$') ? 1 : 0;
  if (i === 0 && s !== '' && s[0] !== '.' && s[0] !== '[') {
    const [selector, next] = dotted(s, 0, s);
    segments.push({ selector, deep: false });
    i = next;
  }
  while (i < s.length) {
    let deep = false;
    if (s.startsWith('..', i)) {
      deep = true;
      i += 2;
    } else if (s[i] === '.') {
      i += 1;
    } else if (s[i] !== '[') {
      fail(s, i, `unexpected '${s[i]}'`);
    }
    const [selector, next] = s[i] === '[' ? bracket(s, i, s) : dotted(s, i, s);
    segments.push({ selector, deep });
    i = next;
  }
  return segments;
}

// --- filter and script expressions ----------------------------------------
const TOKEN = /\s*(?:(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(===|!==|==|!=|<=|>=|&&|\|\||[<>!()[\].@$+\-*/%])|([A-Za-z_][A-Za-z0-9_]*))/y;

function tokenize(text, path) {
  const tokens = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(text);
    if (m === null) fail(path, at, `cannot read the expression '${text}'`);
    at = TOKEN.lastIndex;
    if (m[1] !== undefined) tokens.push({ t: 'num', v: Number(m[1]) });
    else if (m[2] !== undefined) tokens.push({ t: 'str', v: unquote(m[2]) });
    else if (m[3] !== undefined) tokens.push({ t: m[3] });
    else tokens.push({ t: 'id', v: m[4] });
  }
  return tokens;
}

const BINARY = {
  '||': [1, (a, b) => a || b], '&&': [2, (a, b) => a && b],
  '==': [3, (a, b) => a == b], '!=': [3, (a, b) => a != b], // eslint-disable-line eqeqeq
  '===': [3, (a, b) => a === b], '!==': [3, (a, b) => a !== b],
  '<': [4, (a, b) => a < b], '<=': [4, (a, b) => a <= b], '>': [4, (a, b) => a > b], '>=': [4, (a, b) => a >= b],
  '+': [5, (a, b) => a + b], '-': [5, (a, b) => a - b],
  '*': [6, (a, b) => a * b], '/': [6, (a, b) => a / b], '%': [6, (a, b) => a % b],
};
const CONSTANTS = { true: true, false: false, null: null, undefined };

const member = (value, key) => (value === null || value === undefined ? undefined : Object(value)[key]);

// Compiles `text` to a function of (item, root).
function compile(text, path) {
  const tokens = tokenize(text, path);
  let k = 0;
  const peek = () => tokens[k];
  const take = (t) => {
    const token = tokens[k];
    if (token === undefined || (t !== undefined && token.t !== t)) fail(path, k, `expected ${t || 'more'} in '${text}'`);
    k++;
    return token;
  };
  function primary() {
    const token = take();
    if (token.t === 'num' || token.t === 'str') return () => token.v;
    if (token.t === 'id') {
      if (!(token.v in CONSTANTS)) fail(path, k, `unknown name '${token.v}' in '${text}'`);
      return () => CONSTANTS[token.v];
    }
    if (token.t === '(') {
      const inner = expression(0);
      take(')');
      return inner;
    }
    if (token.t === '!') {
      const operand = primary();
      return (item, root) => !operand(item, root);
    }
    if (token.t === '-') {
      const operand = primary();
      return (item, root) => -operand(item, root);
    }
    if (token.t === '@' || token.t === '$') {
      let get = token.t === '@' ? (item) => item : (item, root) => root;
      for (;;) {
        const next = peek();
        if (next !== undefined && next.t === '.') {
          take('.');
          const name = take('id').v;
          const base = get;
          get = (item, root) => member(base(item, root), name);
        } else if (next !== undefined && next.t === '[') {
          take('[');
          const key = take();
          if (key.t !== 'num' && key.t !== 'str') fail(path, k, `expected a name or index in [] in '${text}'`);
          take(']');
          const base = get;
          get = (item, root) => {
            const value = base(item, root);
            const index = Array.isArray(value) && key.v < 0 ? value.length + key.v : key.v;
            return member(value, index);
          };
        } else break;
      }
      return get;
    }
    return fail(path, k, `unexpected '${token.t}' in '${text}'`);
  }
  function expression(min) {
    let left = primary();
    for (;;) {
      const op = peek();
      const rule = op && BINARY[op.t];
      if (!rule || rule[0] <= min) return left;
      take();
      const right = expression(rule[0]);
      const [, apply] = rule;
      const l = left;
      if (op.t === '&&') left = (item, root) => l(item, root) && right(item, root);
      else if (op.t === '||') left = (item, root) => l(item, root) || right(item, root);
      else left = (item, root) => apply(l(item, root), right(item, root));
    }
  }
  const compiled = expression(0);
  if (k !== tokens.length) fail(path, k, `unexpected '${tokens[k].t}' in '${text}'`);
  return compiled;
}

// --- evaluation -----------------------------------------------------------
const own = (value, key) => value !== null && typeof value === 'object' && Object.prototype.hasOwnProperty.call(value, key);

// The members of `node` that `selector` picks: nodes {value, path, parent, key}.
function select(node, selector, root, out) {
  const { value } = node;
  const child = (key) => out.push({ value: value[key], path: node.path.concat([key]), parent: value, key });
  const isArray = Array.isArray(value);
  switch (selector.kind) {
    case 'name': {
      const key = isArray && /^\d+$/.test(selector.name) ? Number(selector.name) : selector.name;
      if (own(value, key)) child(key);
      return;
    }
    case 'index': {
      if (!isArray) {
        if (own(value, String(selector.index))) child(String(selector.index));
        return;
      }
      const index = selector.index < 0 ? value.length + selector.index : selector.index;
      if (index >= 0 && index < value.length) child(index);
      return;
    }
    case 'wildcard':
      if (isArray) value.forEach((_, i) => child(i));
      else if (value !== null && typeof value === 'object') Object.keys(value).forEach(child);
      return;
    case 'slice': {
      if (!isArray) return;
      const n = value.length;
      const step = selector.step === undefined ? 1 : selector.step;
      if (step === 0) return;
      const bound = (v, fallback) => {
        if (v === undefined) return fallback;
        return v < 0 ? Math.max(n + v, step > 0 ? 0 : -1) : Math.min(v, step > 0 ? n : n - 1);
      };
      const start = bound(selector.start, step > 0 ? 0 : n - 1);
      const end = bound(selector.end, step > 0 ? n : -1);
      for (let i = start; step > 0 ? i < end : i > end; i += step) child(i);
      return;
    }
    case 'union':
      for (const item of selector.items) select(node, item, root, out);
      return;
    case 'filter': {
      if (value === null || typeof value !== 'object') return;
      const keys = isArray ? value.map((_, i) => i) : Object.keys(value);
      for (const key of keys) {
        let passed = false;
        try {
          passed = Boolean(selector.test(value[key], root));
        } catch (_) {
          passed = false;
        }
        if (passed) child(key);
      }
      return;
    }
    case 'script': {
      const key = selector.key(value, root);
      if (typeof key === 'number' && isArray) select(node, { kind: 'index', index: key }, root, out);
      else if (key !== undefined && key !== null) select(node, { kind: 'name', name: String(key) }, root, out);
      return;
    }
    default:
      throw new Error(`jsonpath: unknown selector ${selector.kind}`);
  }
}

// `node` and everything below it, in document order.
function descendants(node, out) {
  out.push(node);
  const { value } = node;
  if (value === null || typeof value !== 'object') return;
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  for (const key of keys) descendants({ value: value[key], path: node.path.concat([key]), parent: value, key }, out);
}

function toPath(path) {
  return `$${path.map((key) => (typeof key === 'number' ? `[${key}]` : `['${String(key).replace(/'/g, "\\'")}']`)).join('')}`;
}
function toPointer(path) {
  return path.map((key) => `/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function result(node, type) {
  switch (type) {
    case 'path': return toPath(node.path);
    case 'pointer': return toPointer(node.path);
    case 'parent': return node.parent;
    case 'parentProperty': return node.key;
    case 'all': return { path: toPath(node.path), value: node.value, parent: node.parent, parentProperty: node.key, pointer: toPointer(node.path) };
    default: return node.value;
  }
}

function JSONPath(options, json) {
  const o = typeof options === 'string' ? { path: options, json } : Object.assign({}, options || {});
  if (o.path === undefined) throw new TypeError('JSONPath: `path` is required');
  if (!('json' in o)) throw new TypeError('JSONPath: `json` is required');
  const path = Array.isArray(o.path) ? `$${o.path.map((k) => `[${JSON.stringify(k)}]`).join('')}` : o.path;
  const root = o.json;
  let nodes = [{ value: root, path: [], parent: null, key: null }];
  for (const segment of parse(path)) {
    const next = [];
    for (const node of nodes) {
      if (segment.deep) {
        const all = [];
        descendants(node, all);
        for (const each of all) select(each, segment.selector, root, next);
      } else {
        select(node, segment.selector, root, next);
      }
    }
    nodes = next;
  }
  const results = nodes.map((node) => result(node, o.resultType));
  if (o.wrap === false) {
    if (results.length === 0) return undefined;
    return results.length === 1 ? results[0] : results;
  }
  return results;
}

module.exports = { JSONPath };
