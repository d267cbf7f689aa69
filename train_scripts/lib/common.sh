# Shared by every train script: sourced after the script sets RECIPE (a Table 1 row).
# The paper's numbers come from fairseq_recipes/recipes.py (R_* variables), never typed
# here; every setting can be overridden from the environment.

# ---- environment ------------------------------------------------------------------
source "$(dirname "${BASH_SOURCE[0]}")/preamble.sh" # ROOT, PYTHON, light, fail
RECIPE_VARS="$(light -m fairseq_recipes.recipes shell "$RECIPE" 2>/dev/null)" || {
  echo "error: cannot load recipe $RECIPE with $PYTHON (environment missing? run tools/bootstrap.sh)" >&2
  exit 2
}
eval "$RECIPE_VARS"
# every setting given in the environment is checked before any arithmetic or fairseq-train
# (fairseq_recipes/script_settings.py: the valid values of each)
light -m fairseq_recipes.script_settings check || exit 2

# GPUS_PER_NODE's default: one process per GPU (per CPU rank without GPUs), on fairseq's
# distributed engine, 1M tokens per update whatever the cluster (docs/distributed.md)
detect_gpus() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -c GPU || echo 0; }
# Every setting's default, in order: script_defaults, which recipes.py shell emitted above
# from fairseq_recipes/script_settings.py, where each setting, its default and its meaning
# are declared once (`python -m fairseq_recipes.recipes shell RECIPE` prints them). The
# paper's values are the recipe's R_* variables; smoke mode (SMOKE=1) shrinks the width
# and the update count (keeping the layer counts and the proportions of multi-phase
# schedules) and runs on CPU. Values set in the environment win.
script_defaults

# the values derived above (smoke mode's width, the scaled update counts) agree too
light -m fairseq_recipes.script_settings check UPDATES="$UPDATES" WARMUP="$WARMUP" \
  EMBED_DIM="$EMBED_DIM" FFN_DIM="$FFN_DIM" HEADS="$HEADS" || exit 2

# Width: the architecture's unless set (smoke mode sets it; the layer counts always stay).
SHAPE_ARGS=()
for side in encoder $( (( R_DECODER_LAYERS > 0 )) && echo decoder ); do
  if [[ -n "$EMBED_DIM" ]]; then SHAPE_ARGS+=(--$side-embed-dim "$EMBED_DIM"); fi
  if [[ -n "$FFN_DIM" ]]; then SHAPE_ARGS+=(--$side-ffn-embed-dim "$FFN_DIM"); fi
  if [[ -n "$HEADS" ]]; then SHAPE_ARGS+=(--$side-attention-heads "$HEADS"); fi
done

# fairseq's data path (DATA/shard0:DATA/shard1:...) and per-language validation subsets
data_path() { light -m fairseq_recipes.preprocessing.manifest data-path "$DATA"; }
valid_subsets() { light -m fairseq_recipes.preprocessing.manifest valid-subsets "$DATA"; }

# Processes: per node and in all, and how they are started (LAUNCHER).
if [[ "$SMOKE" == 1 ]]; then NODES=1; fi
if (( GPUS_PER_NODE > 0 )); then PROCS_PER_NODE="$GPUS_PER_NODE"; else PROCS_PER_NODE="$CPU_RANKS"; fi
WORLD=$(( PROCS_PER_NODE * NODES ))
if [[ -z "$LAUNCHER" ]]; then
  if [[ -n "${SLURM_PROCID:-}" && "${SLURM_NTASKS:-1}" -gt 1 ]]; then LAUNCHER=slurm
  elif (( NODES > 1 || (GPUS_PER_NODE == 0 && CPU_RANKS > 1) )); then LAUNCHER=torchrun
  else LAUNCHER=fairseq; fi
fi
case "$LAUNCHER" in
  fairseq) (( NODES == 1 )) || fail "LAUNCHER=fairseq starts processes on this machine only (NODES=$NODES): use torchrun or srun"
           (( GPUS_PER_NODE > 0 || CPU_RANKS == 1 )) || fail "LAUNCHER=fairseq spawns one process per GPU; CPU_RANKS=$CPU_RANKS needs LAUNCHER=torchrun" ;;
  torchrun) ;;
  slurm) [[ "${SLURM_NTASKS:-}" == "$WORLD" ]] \
           || fail "under srun, SLURM_NTASKS (${SLURM_NTASKS:-unset}) must be GPUS_PER_NODE x NODES = $WORLD: one task per GPU" ;;
  *) fail "LAUNCHER=$LAUNCHER: expected fairseq, torchrun or slurm" ;;
esac
# this process's rank under srun (each task runs the script); 0 otherwise
LOCAL_LOG_RANK="${SLURM_PROCID:-0}"

# Numeric precision and optimizer sharding (GPUs; CPU runs stay fp32).
precision_args() {
  if (( GPUS_PER_NODE == 0 )); then
    [[ -z "$PRECISION" || "$PRECISION" == fp32 ]] || fail "PRECISION=$PRECISION needs GPUS_PER_NODE > 0 (CPU runs are fp32)"
    return
  fi
  if [[ -z "$PRECISION" ]]; then
    PRECISION=$("$PYTHON" -c "import torch; print('bf16' if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else 'fp16')")
  fi
  case "$PRECISION" in
    bf16|fp16|memory-efficient-bf16|memory-efficient-fp16) ARGS+=(--"$PRECISION") ;;
    fp32) ;;
    *) fail "PRECISION=$PRECISION: expected bf16, fp16, memory-efficient-bf16, memory-efficient-fp16 or fp32" ;;
  esac
}
zero_args() {
  [[ "$ZERO" == 1 ]] || return 0
  light -c "import fairscale" 2>/dev/null || fail "ZERO=1 needs fairscale: pip install -e '.[zero]'"
  ARGS+=(--zero-sharding os)
  # fairseq refuses ZeRO over fp16's flat fp32 master buffer (bf16's is never flat)
  if [[ "$PRECISION" == fp16 ]]; then ARGS+=(--fp16-no-flatten-grads); fi
}

# Everything a pre-training stage passes to fairseq-train (scripts add their own).
pretrain_args() {
  [[ -f "$DATA/manifest.json" ]] || fail "$DATA/manifest.json: not found (DATA must be recipes-preprocess output)"
  UPDATE_FREQ=$(( (TOKENS_PER_UPDATE + MAX_TOKENS * WORLD - 1) / (MAX_TOKENS * WORLD) ))
  ARGS=(
    "$(data_path)"
    --user-dir "$ROOT/fairseq_recipes"
    --task "$R_TASK" --arch "$R_ARCH" --criterion "$R_CRITERION" "${SHAPE_ARGS[@]}"
    --tokens-per-sample "$TOKENS_PER_SAMPLE" --multilang-sampling-alpha "$SAMPLING_ALPHA"
    --valid-subset "$(valid_subsets)"
    --dropout "$DROPOUT"
    --optimizer adam --adam-betas "$ADAM_BETAS" --adam-eps "$ADAM_EPS"
    --weight-decay "$WEIGHT_DECAY" --clip-norm "$CLIP_NORM"
    --lr-scheduler polynomial_decay --lr "$PEAK_LR" --warmup-updates "$WARMUP"
    --end-learning-rate "$END_LR" --power 1 --total-num-update "$UPDATES"
    --max-update "$UPDATES" --max-tokens "$MAX_TOKENS" --update-freq "$UPDATE_FREQ"
    --required-batch-size-multiple 1 --num-workers "$NUM_WORKERS"
    --save-dir "$SAVE_DIR" --save-interval-updates "$SAVE_INTERVAL" --keep-interval-updates 2
    --seed "$SEED" --log-format json --log-interval "$LOG_INTERVAL"
    --skip-invalid-size-inputs-valid-test
  )
  if [[ -n "$R_NOISE_MODE" ]]; then ARGS+=(--noise-mode "$R_NOISE_MODE"); fi
  if (( R_UNTIE_OUTPUT )); then ARGS+=(--untie-weights-roberta); fi
  if (( GPUS_PER_NODE == 0 )); then ARGS+=(--cpu); fi
  if (( WORLD > 1 )); then
    ARGS+=(--distributed-world-size "$WORLD" --ddp-backend "$DDP_BACKEND")
    if (( GPUS_PER_NODE == 0 )); then ARGS+=(--distributed-backend gloo); fi
    if [[ "$LAUNCHER" == slurm ]]; then ARGS+=(--distributed-port "$MASTER_PORT"); fi
  fi
  precision_args
  zero_args
}

# Recipe 2: warm start the seq2seq encoder from the MLM encoder INIT (on a new run only:
# a rerun resumes from SAVE_DIR/checkpoint_last.pt and no longer needs INIT).
warm_start_args() {
  ARGS+=(--init-encoder-from "$INIT" --freeze-encoder-updates "$FREEZE_ENCODER_UPDATES"
         --cross-attention "$R_CROSS_ATTENTION")
  # while frozen, the encoder gets no gradient: PyTorch DDP must look for unused
  # parameters at every step (the set changes at the switch); legacy_ddp needs nothing
  if (( WORLD > 1 && FREEZE_ENCODER_UPDATES != 0 )) && [[ "$DDP_BACKEND" != legacy_ddp ]]; then
    ARGS+=(--find-unused-parameters)
  fi
}

# Recipe 3: how MLM and span denoising share the updates, and their weights.
joint_args() {
  ARGS+=(--objective-schedule "$OBJECTIVE_SCHEDULE" --mlm-share "$MLM_SHARE"
         --mlm-weight "$MLM_WEIGHT" --denoising-weight "$DENOISING_WEIGHT")
  # an update of one objective leaves the decoder or the MLM head without a gradient:
  # PyTorch DDP must look for unused parameters (the set changes from update to update)
  if (( WORLD > 1 )) && [[ "$OBJECTIVE_SCHEDULE" != sum && "$DDP_BACKEND" != legacy_ddp ]]; then
    ARGS+=(--find-unused-parameters)
  fi
}

# Recipe 1, stage 1: the encoder of the seq2seq checkpoint INIT as a roberta_12e checkpoint
# (SAVE_DIR/encoder_init.pt), which stage 2 trains as a fresh run (--finetune-from-model;
# fairseq ignores it once SAVE_DIR/checkpoint_last.pt exists).
extracted_encoder_args() {
  local init_encoder="$SAVE_DIR/encoder_init.pt"
  if [[ "$DRY_RUN" != 1 && ! -f "$init_encoder" && ! -f "$SAVE_DIR/checkpoint_last.pt" ]]; then
    [[ -f "$INIT" ]] || fail "$INIT: not found (INIT must be the final checkpoint of $R_INIT_FROM)"
    make_save_dir
    "$PYTHON" -m fairseq_recipes.checkpoints.extract_encoder --input "$INIT" --output "$init_encoder" \
      | tee -a "$SAVE_DIR/train.log"
  fi
  ARGS+=(--finetune-from-model "$init_encoder")
}

# SAVE_DIR, or one line saying why it cannot be made (a read-only or full file system)
make_save_dir() {
  local why
  why="$(mkdir -p "$SAVE_DIR" 2>&1)" || fail "$SAVE_DIR: cannot write: $(tr '[:upper:]' '[:lower:]' <<<"${why##*: }")"
}

# Run fairseq-train, teeing its output into SAVE_DIR/train.log (under srun, ranks other
# than 0 into train.rank<R>.log). fairseq resumes from SAVE_DIR/checkpoint_last.pt by
# itself, so running the script again continues.
run_train() {
  local log="$SAVE_DIR/train.log" cmd
  if [[ "$LOCAL_LOG_RANK" != 0 ]]; then log="$SAVE_DIR/train.rank$LOCAL_LOG_RANK.log"; fi
  case "$LAUNCHER" in
    torchrun)
      cmd=("$PYTHON" -m torch.distributed.run --nproc-per-node "$PROCS_PER_NODE")
      if (( NODES == 1 )); then cmd+=(--standalone)
      else cmd+=(--nnodes "$NODES" --node-rank "$NODE_RANK" --master-addr "$MASTER_ADDR" --master-port "$MASTER_PORT"); fi
      cmd+=(-m fairseq_cli.train) ;;
    *) cmd=("$PYTHON" -m fairseq_cli.train) ;;
  esac
  if [[ "$DRY_RUN" == 1 ]]; then
    printf '%q ' "${cmd[@]}" "$@"; echo
    return
  fi
  make_save_dir
  echo "[$RECIPE] $(date -u +%FT%TZ) launcher=$LAUNCHER world=$WORLD update_freq=$UPDATE_FREQ updates=$UPDATES precision=${PRECISION:-fp32} zero=$ZERO smoke=$SMOKE" \
    | tee -a "$log"
  "${cmd[@]}" "$@" 2>&1 | tee -a "$log"
}
