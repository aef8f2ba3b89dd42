#!/usr/bin/env bash
# Greedy generation, turnkey's `lm.generate` (static KV cache, ONNX Runtime
# on the CPU) side by side with Hugging Face transformers' generate() on
# PyTorch CPU (its default dynamic cache), on the same configs with random
# weights, the same prompt and new-token counts and the same thread count:
#   SmolLM-135M (models/llm/smollm_135m.rhai's config) and TinyLlama-1.1B
#   (models/llm/tinyllama_1_1b.rhai's). Medians of RUNS repetitions each:
#   TTFT (prefill + first token) and generation tokens/s over the decode
#   steps, and the ratios turnkey / transformers (TTFT: lower is better,
#   tokens/s: higher is better).
#
# Usage (from anywhere): scripts/bench_generate.sh [RUNS]
#   RUNS           repetitions per tool and model (default 3)
#   MODELS         which configs: "smollm tinyllama" (default both)
#   PROMPT, NEW    prompt tokens and new tokens (default 64 and 32)
#   THREADS        intra-op threads for both (default: all cores)
#   TURNKEY_BIN    use this binary and skip `cargo build --release`
#   BENCH_DIR      parent folder of the outputs (default $TMPDIR or /tmp)
# Needs the reference venv (scripts/setup_reference.sh: torch, transformers).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/bench.sh
bench_runs bench_generate "${1:-${BENCH_RUNS:-3}}"
bench_binary bench_generate
PY=$(scripts/setup_reference.sh)
THREADS=${THREADS:-$(nproc)}
WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/turnkey-bench-generate.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "generate: turnkey (ort, static KV cache) vs transformers generate() (torch CPU), $RUNS runs, median"
echo "binary: $BIN ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); threads $THREADS; prompt ${PROMPT:-64}, new ${NEW:-32}, batch 1"
echo

OMP_NUM_THREADS=$THREADS "$PY" - "$BIN" "$WORK" "$RUNS" "$THREADS" "${PROMPT:-64}" "${NEW:-32}" "${MODELS:-smollm tinyllama}" <<'PYEOF'
import json, os, re, statistics, subprocess, sys, time
import torch, transformers

bin_, work, runs, threads, P, N, which = sys.argv[1:]
runs, threads, P, N = int(runs), int(threads), int(P), int(N)
torch.set_num_threads(threads)

# The zoo scripts' configs, read from the scripts themselves (one source).
ZOO = {"smollm": "models/llm/smollm_135m.rhai", "tinyllama": "models/llm/tinyllama_1_1b.rhai"}


def config_of(path):
    text = open(path).read()
    body = re.search(r"transformers::llama\(#\{(.*?)\}\);", text, re.S).group(1)
    return body, {k: eval(v.replace("()", "None").replace("true", "True").replace("false", "False"))
                  for k, v in re.findall(r"(\w+):\s*([^,]+?)\s*(?:,|$)", body.strip())}


def turnkey(name, body, vocab):
    script = os.path.join(work, f"{name}_generate.rhai")
    open(script, "w").write(
        'let args = parse(["max_seq_length", "max_new_tokens"]);\n'
        f"let lm = transformers::llama(#{{{body}}});\n"
        f"lm.generate(#{{ input_ids: randint(0, {vocab}, [1, args.max_seq_length]) }}, "
        "#{ max_new_tokens: args.max_new_tokens });\n")
    cache = os.path.join(work, f"cache_{name}")
    subprocess.run([bin_, "-d", cache, "--runtime", "ort", "--threads", str(threads),
                    "--iterations", str(runs), script, "--script-args",
                    f"--max_seq_length {P} --max_new_tokens {N}"], check=True,
                   stdout=subprocess.DEVNULL)
    builds = os.listdir(os.path.join(cache, "builds"))
    rec = json.load(open(os.path.join(cache, "builds", builds[0], "record.json")))
    g = rec["runtimes"][0]["generation"]
    return g["ttft_ms"], g["gen_tokens_per_s"]


def hf(cfg):
    keys = {k: v for k, v in cfg.items() if k != "model_type"}
    config = transformers.LlamaConfig(**keys)
    config.eos_token_id = None
    config.pad_token_id = 0
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    ids = torch.randint(0, cfg["vocab_size"], (1, P))
    kw = dict(do_sample=False, eos_token_id=None, pad_token_id=0)
    ttft, e2e = [], []
    with torch.inference_mode():
        model.generate(input_ids=ids, max_new_tokens=N, min_new_tokens=N, **kw)  # warm-up
        for _ in range(runs):
            t = time.perf_counter()
            model.generate(input_ids=ids, max_new_tokens=1, min_new_tokens=1, **kw)
            ttft.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            out = model.generate(input_ids=ids, max_new_tokens=N, min_new_tokens=N, **kw)
            e2e.append((time.perf_counter() - t) * 1e3)
            assert out.shape[1] == P + N
    t1, te = statistics.median(ttft), statistics.median(e2e)
    return t1, (N - 1) / ((te - t1) / 1e3)


print(f"{'model':<10} {'tool':<13} {'TTFT ms':>9} {'gen tok/s':>10}")
for name in which.split():
    body, cfg = config_of(ZOO[name])
    k_ttft, k_tps = turnkey(name, body, cfg["vocab_size"])
    h_ttft, h_tps = hf(cfg)
    print(f"{name:<10} {'turnkey/ort':<13} {k_ttft:>9.1f} {k_tps:>10.1f}")
    print(f"{name:<10} {'transformers':<13} {h_ttft:>9.1f} {h_tps:>10.1f}")
    print(f"{name:<10} {'ratio':<13} {h_ttft / k_ttft:>8.2f}x {k_tps / h_tps:>9.2f}x   (>1: turnkey ahead)")
    sys.stdout.flush()
PYEOF
