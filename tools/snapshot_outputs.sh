#!/usr/bin/env bash
# What a refactor must not change, written to a folder for `diff -r`: `eventfeed extract` over
# the shared corpus and seeds, and every feed file `run --once` writes from the bundled samples
# and from the corpus (file times fixed, so the bytes depend on the code alone).
#   tools/snapshot_outputs.sh CHECKOUT OUT     e.g. a worktree of the commit before, then after:
#   diff -r -q --exclude='run-*.log' /tmp/before /tmp/after    (prints nothing when unchanged)
# CHECKOUT needs its venv (`make venv`). SHARED defaults to ../shared beside this checkout.
set -euo pipefail
src=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
shared=${SHARED:-$(cd "$(dirname "$0")/../../shared" && pwd)}
rm -rf "${out:?}"/*
cd "$src"
.venv/bin/eventfeed extract --format jsonl "$shared"/corpus/articles/* "$shared"/seeds/* \
    > "$out/extract.jsonl"
for set in samples corpus; do
    work=$(mktemp -d)
    mkdir -p "$work/articles" "$work/state"
    if [ "$set" = samples ]; then
        cp -r examples/articles/. "$work/articles/"
    else
        cp "$shared"/corpus/articles/* "$shared"/seeds/* "$work/articles/"
    fi
    find "$work/articles" -exec touch -d 2026-01-01T00:00:00Z {} +
    cat > "$work/config.yaml" <<YAML
articles: {folder: $work/articles}
state: {url: "sqlite:///$work/state/eventfeed.db"}
feeds: {folder: $out/feeds-$set}
YAML
    .venv/bin/eventfeed run --once --config "$work/config.yaml" > "$out/run-$set.log" 2>&1
    rm -rf "$work"
done
