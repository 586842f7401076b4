// Before Publish: moderates chat messages shaped like {"text": "..."}, as
// the Rust `moderate` example does, written the way PubNub Functions are.
// - tidies the text (trims it, collapses runs of whitespace);
// - refuses a message that contains a banned word (setting `banned_words`:
//   comma-separated, case-insensitive, whole words; an entry may be several
//   words, e.g. "free money");
// - marks the messages it lets through with "moderated": true.
// Any other payload passes unchanged.
//
//   edgefn deploy examples/js/moderate.js --name moderate --before-publish 'chat.*' \
//       --set banned_words=spam,scam
const vault = require('vault');

// Compiled once, when the module loads. (`split` with a regular expression
// would compile a copy on every call, which costs more than all the rest.)
const WORD = /[\p{L}\p{N}']+/gu;
const NOT_SPACE = /\S+/g;

const words = (text) => text.toLowerCase().match(WORD) ?? [];

function findBanned(text, banned) {
  const textWords = words(text);
  return banned.split(',').map((entry) => entry.trim()).find((entry) => {
    const entryWords = words(entry);
    if (entryWords.length === 0) return false;
    for (let i = 0; i + entryWords.length <= textWords.length; i++) {
      if (entryWords.every((w, j) => textWords[i + j] === w)) return true;
    }
    return false;
  });
}

export default async (request) => {
  const message = request.message;
  if (message === null || typeof message !== 'object' || typeof message.text !== 'string') {
    return request.ok();
  }
  const text = (message.text.match(NOT_SPACE) ?? []).join(' ');
  const banned = await vault.get('banned_words').catch(() => '');
  const word = findBanned(text, banned);
  if (word !== undefined) {
    return request.abort(`message contains banned word ${JSON.stringify(word)}`);
  }
  message.text = text;
  message.moderated = true;
  return request.ok();
};
