#!/usr/bin/env bash
# The GPU recipe for the blur-depth pair of issue 4: the 12-frame network and its single-frame
# ablation, fine-tuned side by side with identical data, steps, batch and schedule.
#
#   bash scripts/gpu_blur_depth.sh data            # export clips for SECS seconds on all cores
#   bash scripts/gpu_blur_depth.sh probe           # seconds per step of the network at BATCH
#   bash scripts/gpu_blur_depth.sh train STEPS     # both runs at once on one GPU, into RUNS/
#   bash scripts/gpu_blur_depth.sh all             # the three in one call: data, probe, then as many
#                                                  # steps as TRAIN_SECS allows and EPOCHS passes over
#                                                  # the clips; weights and logs copied to OUT if set
#
# Settings (environment): DATA (clip folder), RUNS (run folders), COUNT, SECS, START_SEED, SHARD,
# BATCH, LR, NET_INIT / ABL_INIT (checkpoints to start from), TRAIN_SECS, EPOCHS, OUT,
# PY (python with torch + CUDA).
# Without a GPU the same commands run on the CPU, only far slower.
#
# Measured on a lent H200 (2026-11-22): the network trains at 0.079 s per step at batch 32, but the
# machine's 16 cores exported only 1.35 clips/s, so 704 clips fed 2 600 steps and both models
# overfit (docs/results.md, "Blur-depth results"). A likely cause: glibc handed the simulator's large
# temporaries back to the kernel after every use, so each clip took ~24 k page faults, which are
# slow on virtual machines; export workers now keep that memory (data/shards.py). Check the
# export rate in the first call before planning a run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
DATA=${DATA:-/tmp/blur-gpu/data}
RUNS=${RUNS:-/tmp/blur-gpu/runs}
COUNT=${COUNT:-16384}
SECS=${SECS:-200}
START_SEED=${START_SEED:-40000}
SHARD=${SHARD:-16}  # small shards: an export stopped at SECS loses less unfinished work
TRAIN_SECS=${TRAIN_SECS:-200}  # with SECS, the probe and validation: about 8 min, inside a 10-min device call
EPOCHS=${EPOCHS:-4}
BATCH=${BATCH:-32}
LR=${LR:-0.0006}
NET_INIT=${NET_INIT:-blur-depth-small}
ABL_INIT=${ABL_INIT:-blur-depth-single-frame}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
md() { "$PY" -m motiondepth.cli "$@"; }
tr() { "$PY" -m motiondepth.train.run "$@"; }  # the torchrun-friendly entry (has --no-progress)
export_args=(export-data blur --shard-size "$SHARD" --shake handheld --start-seed "$START_SEED" --out "$DATA")
common=(shards="$DATA" preload=true data.shake=handheld batch_size="$BATCH" train.amp=true train.prefetch=4
        train.lr="$LR" train.warmup=100 train.log_every=50 train.ckpt_every=1000)

mkdir -p "$RUNS"
case "${1:-}" in
data)
    # Stop after SECS; the finished shards (written atomically) that form a prefix become the set.
    timeout "$SECS" "$PY" -m motiondepth.cli "${export_args[@]}" --count "$COUNT" --workers "$(nproc)" || true
    pkill -f "motiondepth.cli export-data" || true
    sleep 1
    if [ ! -f "$DATA/index.json" ]; then
        n=0
        while [ -f "$(printf '%s/shard-%05d.npz' "$DATA" "$n")" ]; do n=$((n + 1)); done
        md "${export_args[@]}" --count $((n * SHARD))  # every shard exists: writes index.json only
    fi
    count=$("$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['count'])" "$DATA/index.json")
    echo "data: $count clips in $DATA"
    ;;
probe)
    rm -rf "$RUNS/probe"
    tr blur-depth --preset small --out "$RUNS/probe" --no-progress "${common[@]}" \
        train.init="$NET_INIT" train.steps=60 train.val_every=0 train.log_every=10 >/dev/null
    "$PY" - "$RUNS/probe/log.jsonl" <<'EOF'
import json, sys
t = {r["step"]: r["seconds"] for r in map(json.loads, open(sys.argv[1])) if "seconds" in r}
step = (t[60] - t[20]) / 40
print(f"network: {step:.3f} s per step")
open(sys.argv[1].replace("log.jsonl", "step_s"), "w").write(f"{step}\n")
EOF
    ;;
train)
    steps=${2:?train STEPS}
    val=$((steps / 4))
    tr blur-depth --preset small --out "$RUNS/network" --no-progress "${common[@]}" \
        train.init="$NET_INIT" train.steps="$steps" train.val_every="$val" > "$RUNS/network.out" 2>&1 &
    tr blur-depth --preset single-frame --out "$RUNS/ablation" --no-progress "${common[@]}" \
        train.init="$ABL_INIT" train.steps="$steps" train.val_every="$val" > "$RUNS/ablation.out" 2>&1 &
    wait
    grep -h '"val"' "$RUNS"/network/log.jsonl "$RUNS"/ablation/log.jsonl
    ;;
all)
    [ -f "$DATA/index.json" ] || bash "$0" data
    bash "$0" probe
    steps=$("$PY" - "$DATA/index.json" "$RUNS/probe/step_s" <<EOF
import json, sys
count = json.load(open(sys.argv[1]))["count"]
step_s = float(open(sys.argv[2]).read()) * 1.3  # the ablation beside it slows the network by about 30 %
print(max(100, min(int($TRAIN_SECS / step_s), $EPOCHS * count // $BATCH)))
EOF
)
    echo "training $steps steps"
    bash "$0" train "$steps"
    if [ -n "${OUT:-}" ]; then
        for r in network ablation; do
            mkdir -p "$OUT/$r"
            cp "$RUNS/$r/model.safetensors" "$RUNS/$r/model.json" "$RUNS/$r/log.jsonl" "$OUT/$r/"
        done
    fi
    ;;
*)
    sed -n 2,18p "$0"
    exit 2
    ;;
esac
