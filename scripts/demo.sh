#!/usr/bin/env bash
# The main job for a newcomer: builds the example functions and edgefn, then
# starts a node on the embedded defaults with the examples deployed
# (examples/edgefn.toml) and prints what to try. Ctrl-C stops it.
#
# Usage: scripts/demo.sh [--listen ADDR] [--data-dir DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

listen=127.0.0.1:8080
data_dir="$root/edgefn-data"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --listen) listen="$2"; shift 2 ;;
        --data-dir) data_dir="$2"; shift 2 ;;
        *) echo "usage: scripts/demo.sh [--listen ADDR] [--data-dir DIR]" >&2; exit 2 ;;
    esac
done

scripts/build-guests.sh --manifest examples/Cargo.toml
cargo build --release --locked -p edgefn
bin="$root/target/release/edgefn"
export EDGEFN_SERVER="http://$listen"

cat <<MSG

edgefn is starting on $EDGEFN_SERVER with the examples deployed:
  moderate  before-publish on chat.*   normalises text, rejects banned words ("spam", "scam")
  forward   after-publish on chat.*    POSTs each message to http://127.0.0.1:9000/hook (logs a
                                       connection error unless something listens there)
  hello     endpoint                   $EDGEFN_SERVER/v1/fn/hello/...
  counter, js-counter (JavaScript)     after-publish on chat.* + endpoint: messages per channel

Try, in another terminal (export EDGEFN_SERVER=$EDGEFN_SERVER):
  $bin subscribe 'chat.*'
  $bin publish chat.lobby '{"text":"  hello    world "}'     # arrives normalised, "moderated": true
  $bin publish chat.lobby '{"text":"buy spam now"}'         # refused by moderate (403)
  $bin history chat.lobby
  curl '$EDGEFN_SERVER/v1/fn/hello/greet?name=you'
  curl $EDGEFN_SERVER/v1/fn/js-counter/chat.lobby              # counted by examples/js/counter.js
  EDGEFN_ADMIN_KEY=\$(cat $data_dir/admin.key) $bin functions logs forward

MSG
exec "$bin" serve --listen "$listen" --data-dir "$data_dir" --config examples/edgefn.toml
