#!/usr/bin/env bash
# Every command and output of docs/own-images.md, from the repository root:
#   bash benchmarks/figures/own_images_walkthrough.sh [MINUTES]     (default 3 minutes of training)
# Writes benchmarks/figures/own-images/*.txt and docs/img/own-images-{step0,samples}.png; works in $WORK (default /tmp/gankit-own-images).
set -euo pipefail
MINUTES=${1:-3}
WORK=${WORK:-/tmp/gankit-own-images}
PY=${PYTHON:-python}
G="$PY -m gankit.cli"
OUT=benchmarks/figures/own-images
IMG=docs/img
rm -rf "$WORK/runs" "$WORK/pictures-32"
$PY benchmarks/figures/own_images_folder.py "$WORK/pictures"
show() { echo "\$ gankit ${*}" | sed "s#$WORK#~#g"; $G "$@" 2>&1 | sed "s#$WORK#~#g"; }
show data check "folder:$WORK/pictures" > $OUT/own-images-check.txt
show data prepare "$WORK/pictures" --out "$WORK/pictures-32" --size 32 --fit pad --split 0.1 > $OUT/own-images-prepare.txt
show data check "folder:$WORK/pictures-32/train" > $OUT/own-images-check-prepared.txt
$G train dcgan --data "folder:$WORK/pictures-32/train" data.background=black train.batch_size=16 \
   --minutes "$MINUTES" --out "$WORK/runs" --no-progress train.threads=1 train.log_every=100 > "$WORK/train.log" 2>&1
RUN=$(ls -d "$WORK"/runs/*/ | head -1)
tail -2 "$WORK/train.log" | sed "s#$WORK#~#g" > $OUT/own-images-train.txt
show info "$RUN" | grep -E "^(recipe|step|data|train_seconds):" > $OUT/own-images-info.txt
$G sample "$RUN" -n 64 --out $IMG/own-images-samples.png > /dev/null
cp "$RUN/samples/step-0000000.png" $IMG/own-images-step0.png
echo "done: $RUN"
