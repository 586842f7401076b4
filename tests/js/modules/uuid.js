// require('uuid') and require('utils').
const uuid = require('uuid');
const { v3, v4, v5, validate, version } = require('uuid');
const utils = require('utils');

export default (request, response) => {
  const fours = [];
  for (let i = 0; i < 50; i++) fours.push(v4());
  let badVersion;
  try {
    version('not-a-uuid');
    badVersion = 'returned';
  } catch (e) {
    badVersion = `${e.name}: ${e.message}`;
  }
  const ints = [];
  for (let i = 0; i < 500; i++) ints.push(utils.randomInt(5, 15));
  const result = {
    v3: [v3('www.example.com', v3.DNS), v3('http://example.com/ü', uuid.v3.URL)],
    v5: [v5('www.example.com', v5.DNS), v5('http://example.com/ü', v5.URL)],
    v4: fours,
    v4Versions: fours.map(version),
    validate: [
      validate(fours[0]),
      validate('5df41881-3aed-3515-88a7-2f4a814cf09e'),
      validate(uuid.NIL),
      validate('5df41881-3aed-3515-88a7-2f4a814cf09'),
      validate('5df41881-3aed-0515-88a7-2f4a814cf09e'),
      validate(42),
    ],
    version: [version('5df41881-3aed-3515-88a7-2f4a814cf09e'), version('2ed6657d-e927-568b-95e1-2665a8aea6a2')],
    badVersion,
    randomInt: { min: Math.min(...ints), max: Math.max(...ints), distinct: new Set(ints).size, integers: ints.every(Number.isInteger) },
    isNumeric: [5, 3.14, -17, '42', '-3.5', '1e3', ' 7 ', 'five', '', ' ', null, undefined, {}, [], true, NaN, Infinity, '0x1f'].map(utils.isNumeric),
  };
  return response.send(JSON.stringify(result), 200);
};
