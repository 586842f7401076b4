// require('jsonpath') and require('advanced_math').
const { JSONPath } = require('jsonpath');
const math = require('advanced_math');

const store = {
  store: {
    book: [
      { category: 'reference', author: 'Nigel Rees', title: 'Sayings of the Century', price: 8.95 },
      { category: 'fiction', author: 'Evelyn Waugh', title: 'Sword of Honour', price: 12.99 },
      { category: 'fiction', author: 'Herman Melville', title: 'Moby Dick', isbn: '0-553-21311-3', price: 8.99 },
      { category: 'fiction', author: 'J. R. R. Tolkien', title: 'The Lord of the Rings', isbn: '0-395-19395-8', price: 22.99 },
    ],
    bicycle: { color: 'red', price: 19.95 },
  },
  'odd key': { "it's": 1 },
};

export default (request, response) => {
  const q = (path, extra) => JSONPath(Object.assign({ path, json: store }, extra || {}));
  let badPath;
  try {
    q('$.store[?(@.price >)]');
    badPath = 'parsed';
  } catch (e) {
    badPath = e.name;
  }
  const result = {
    authors: q('$.store.book[*].author'),
    allAuthors: q('$..author'),
    storeChildren: q('$.store.*').length,
    prices: q('$.store..price'),
    third: q('$..book[2].title'),
    last: q('$..book[-1:].title'),
    lastScript: q('$..book[(@.length-1)].title'),
    firstTwo: q('$..book[0,1].title'),
    sliceTwo: q('$..book[:2].title'),
    stepped: q('$.store.book[0:4:2].title'),
    withIsbn: q('$..book[?(@.isbn)].title'),
    cheap: q('$..book[?(@.price < 10)].title'),
    fictionCheap: q("$..book[?(@.category === 'fiction' && @.price < 20)].author"),
    notFiction: q('$..book[?(!(@.category == "fiction"))].author'),
    vsRoot: q('$..book[?(@.price > $.store.bicycle.price)].title'),
    bracketNames: q("$['store']['bicycle']['color']"),
    quoted: q(`$['odd key']["it's"]`),
    union: q("$.store.bicycle['color','price']"),
    paths: q('$..book[?(@.price > 20)]', { resultType: 'path' }),
    pointers: q('$.store.bicycle.*', { resultType: 'pointer' }),
    noMatch: q('$.nothing.here'),
    unwrapped: q('$.store.bicycle.color', { wrap: false }),
    unwrappedNone: q('$.nothing', { wrap: false }) === undefined,
    shorthand: JSONPath('$.store.bicycle.color', store),
    noDollar: q('store.bicycle.price'),
    everything: q('$..*').length,
    badPath,
    distance: math.getDistance(40.7128, -74.0060, 34.0522, -118.2437),
    zero: math.getDistance(51.5, -0.12, 51.5, -0.12),
    deg2rad: [math.deg2rad(180), math.deg2rad(90), math.deg2rad(0)],
  };
  return response.send(JSON.stringify(result), 200);
};
