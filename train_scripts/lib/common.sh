# Shared by every train script: sourced after the script sets RECIPE (a Table 1 row).
# The paper's numbers come from fairseq_recipes/recipes.py (R_* variables), never typed
# here; every variable below can be overridden from the environment.

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

SMOKE="${SMOKE:-0}" # 1: same script, tiny width, few updates, on CPU
# Smoke mode: shrink the width and the update count (keeping the layer counts and the
# proportions of multi-phase schedules), and run on CPU. Values set in the environment win.
if [[ "$SMOKE" == 1 ]]; then
  : "${GPUS_PER_NODE:=0}"
  : "${UPDATE_DIVISOR:=$R_SMOKE_UPDATE_DIVISOR}"
  : "${WARMUP:=$R_SMOKE_WARMUP_UPDATES}"
  : "${PEAK_LR:=$(light -c "print($R_PEAK_LR * $R_SMOKE_PEAK_LR_SCALE)")}"
  : "${MAX_TOKENS:=$R_SMOKE_MAX_TOKENS}"
  : "${TOKENS_PER_UPDATE:=$R_SMOKE_TOKENS_PER_UPDATE}"
  : "${TOKENS_PER_SAMPLE:=$R_SMOKE_TOKENS_PER_SAMPLE}"
  : "${EMBED_DIM:=$R_SMOKE_EMBED_DIM}"
  : "${FFN_DIM:=$R_SMOKE_FFN_DIM}"
  : "${HEADS:=$R_SMOKE_HEADS}"
  : "${LOG_INTERVAL:=5}"
fi
# UPDATE_DIVISOR scales every update count of the stage (a multi-phase schedule keeps its
# proportions): 1 is the paper, smoke mode divides by 20,000.
UPDATE_DIVISOR="${UPDATE_DIVISOR:-1}"
: "${UPDATES:=$(( (R_UPDATES + UPDATE_DIVISOR - 1) / UPDATE_DIVISOR ))}"
: "${WARMUP:=$(( (R_WARMUP_UPDATES + UPDATE_DIVISOR - 1) / UPDATE_DIVISOR ))}"
if (( R_FREEZE_ENCODER_UPDATES > 0 )); then
  : "${FREEZE_ENCODER_UPDATES:=$(( (R_FREEZE_ENCODER_UPDATES + UPDATE_DIVISOR - 1) / UPDATE_DIVISOR ))}"
fi
if [[ "$SMOKE" == 1 ]]; then
  : "${SAVE_INTERVAL:=$(( UPDATES / 2 > 0 ? UPDATES / 2 : 1 ))}"
fi

# ---- data, output, mode -----------------------------------------------------------
DATA="${DATA:-data-bin}"                        # recipes-preprocess output: manifest.json + shard*/
SAVE_DIR="${SAVE_DIR:-checkpoints/$RECIPE}"     # checkpoints and train.log; a rerun resumes from checkpoint_last.pt
DRY_RUN="${DRY_RUN:-0}"                         # 1: print the command (launcher included) instead of running it

# ---- recipes: the stage this one starts from --------------------------------------
INIT="${INIT:-$(dirname "$SAVE_DIR")/${R_INIT_FROM:-none}/checkpoint_last.pt}" # final checkpoint of stage R_INIT_FROM (recipes 1 and 2)
FREEZE_ENCODER_UPDATES="${FREEZE_ENCODER_UPDATES:-$R_FREEZE_ENCODER_UPDATES}" # recipe 2: encoder frozen for the first N updates, -1 throughout
OBJECTIVE_SCHEDULE="${OBJECTIVE_SCHEDULE:-$R_OBJECTIVE_SCHEDULE}" # recipe 3: alternate (one objective per update, MLM evenly spread) | sample (MLM drawn per update) | sum (both every update)
MLM_SHARE="${MLM_SHARE:-$R_MLM_SHARE}"          # recipe 3: fraction of the updates that train MLM only (alternate, sample)
MLM_WEIGHT="${MLM_WEIGHT:-$R_MLM_WEIGHT}"       # recipe 3: weight of the MLM loss (its mean over the masked positions)
DENOISING_WEIGHT="${DENOISING_WEIGHT:-$R_DENOISING_WEIGHT}" # recipe 3: weight of the span-denoising loss (its mean per target token)

# ---- hardware: 1M tokens per update whatever the cluster --------------------------
# One process per GPU (per CPU rank without GPUs), on fairseq's distributed engine; see
# README "Training on several GPUs or machines" for the torchrun and Slurm commands.
detect_gpus() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -c GPU || echo 0; }
GPUS_PER_NODE="${GPUS_PER_NODE:-$(detect_gpus)}" # GPUs per machine; 0 trains on CPU
NODES="${NODES:-${SLURM_NNODES:-1}}"            # machines
CPU_RANKS="${CPU_RANKS:-1}"                     # without GPUs: training processes on this machine (gloo)
LAUNCHER="${LAUNCHER:-}"                        # fairseq | torchrun | slurm; empty: slurm under srun, else torchrun for several processes on CPU or several nodes, else fairseq (spawns one process per GPU)
NODE_RANK="${NODE_RANK:-0}"                     # torchrun on several nodes: this machine's index (0 .. NODES-1)
MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"         # torchrun on several nodes: node 0's address
MASTER_PORT="${MASTER_PORT:-29500}"             # torchrun on several nodes, Slurm: rendezvous port on node 0
DDP_BACKEND="${DDP_BACKEND:-c10d}"              # PyTorch DDP (c10d) or fairseq's legacy_ddp (no overlap of communication with backward)
PRECISION="${PRECISION:-}"                      # GPUs: bf16 | fp16 | memory-efficient-bf16 | memory-efficient-fp16 | fp32; empty: bf16 where the GPU has it (A100, H100), else fp16. CPU: fp32
ZERO="${ZERO:-0}"                               # 1: ZeRO stage 1 (the paper's DeepSpeed setting): optimizer state sharded across ranks, fairseq's --zero-sharding os (needs fairscale: pip install -e '.[zero]')
MAX_TOKENS="${MAX_TOKENS:-8192}"                # tokens per process per forward pass (16 blocks of 512)
TOKENS_PER_UPDATE="${TOKENS_PER_UPDATE:-$R_TOKENS_PER_UPDATE}" # = max_tokens x update_freq x world size (paper: 1M)

# ---- model and objective ----------------------------------------------------------
TOKENS_PER_SAMPLE="${TOKENS_PER_SAMPLE:-$R_TOKENS_PER_SAMPLE}" # block length, bos/eos included
DROPOUT="${DROPOUT:-$R_DROPOUT}"                # dropout everywhere (attention: XLM-R's, from the arch)
SAMPLING_ALPHA="${SAMPLING_ALPHA:-$R_SAMPLING_ALPHA}" # language sampling exponent, p_i ~ (n_i/N)^alpha

# ---- optimisation -----------------------------------------------------------------
# set above: UPDATE_DIVISOR divides every update count (1: the paper's; smoke: 20,000),
# UPDATES = R_UPDATES / UPDATE_DIVISOR, WARMUP (linear from 0) scaled the same way
PEAK_LR="${PEAK_LR:-$R_PEAK_LR}"                # learning rate at the end of warmup
END_LR="${END_LR:-$R_END_LR}"                   # reached by linear decay at the last update
ADAM_BETAS="${ADAM_BETAS:-$R_ADAM_BETAS}"       # Adam betas (XLM-R's; the paper says Adam only)
ADAM_EPS="${ADAM_EPS:-$R_ADAM_EPS}"             # Adam epsilon (XLM-R's)
WEIGHT_DECAY="${WEIGHT_DECAY:-$R_WEIGHT_DECAY}" # decoupled weight decay (XLM-R's)
CLIP_NORM="${CLIP_NORM:-$R_CLIP_NORM}"          # gradient clipping, 0 = off (XLM-R's)
SEED="${SEED:-1}"                               # data order, noise and initialisation
LOG_INTERVAL="${LOG_INTERVAL:-100}"             # updates between log lines
SAVE_INTERVAL="${SAVE_INTERVAL:-5000}"          # updates between checkpoints (also the resume granularity)
NUM_WORKERS="${NUM_WORKERS:-1}"                 # data-loading processes per rank (fairseq's default 1); 0 loads in the training process. On CPU at the real shapes use 0: a worker is forked from the trainer and keeps the pages the trainer then rewrites (its weights, and on resume Adam's state: +3.5 to +10 GB for a 12e12d model)
EMBED_DIM="${EMBED_DIM:-}"                      # model width (empty: the architecture's, 1024)
FFN_DIM="${FFN_DIM:-}"                          # feed-forward width (empty: the architecture's, 4096)
HEADS="${HEADS:-}"                              # attention heads (empty: the architecture's, 16)

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
data_path() { light -m fairseq_recipes.data.manifest data-path "$DATA"; }
valid_subsets() { light -m fairseq_recipes.data.manifest valid-subsets "$DATA"; }

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
