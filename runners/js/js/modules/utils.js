// require('utils'): `randomInt(min, max)` -> a random integer in [min, max)
// (from Math.random, which the runner seeds from the host on each
// invocation; not for secrets); `isNumeric(value)` -> whether `value` is a
// finite number or a string that is one (`'42'`, `'-3.5'`, `'1e3'`; not `''`,
// `' '`, `'0x1f'` or `'Infinity'`).
function randomInt(min, max) {
  const low = Math.ceil(Number(min));
  const high = Math.ceil(Number(max));
  if (!Number.isFinite(low) || !Number.isFinite(high)) throw new TypeError('utils.randomInt: min and max must be numbers');
  if (high <= low) return low;
  return low + Math.floor(Math.random() * (high - low));
}

function isNumeric(value) {
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'string') return false;
  return /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value);
}

module.exports = { randomInt, isNumeric };
