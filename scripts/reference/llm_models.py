"""Llama-style decoders (models/llm/): LlamaForCausalLM, Qwen2ForCausalLM and
MistralForCausalLM with each script's config.json values."""

import transformers

LIBRARIES = {"transformers": transformers.__version__}

TINY = dict(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2)
TINYLLAMA = dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                 num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048,
                 rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False)
LLAMA_3_2_1B = dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                    num_attention_heads=32, num_key_value_heads=8, head_dim=64,
                    max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=500000.0,
                    tie_word_embeddings=True,
                    rope_scaling=dict(factor=32.0, high_freq_factor=4.0, low_freq_factor=1.0,
                                      original_max_position_embeddings=8192, rope_type="llama3"))
QWEN2_0_5B = dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                  num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=131072,
                  rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True,
                  use_sliding_window=False)
SMOLLM_135M = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                   num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048,
                   rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True)
MISTRAL_7B = dict(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=32768,
                  rms_norm_eps=1e-5, rope_theta=10000.0, sliding_window=4096, tie_word_embeddings=False)

# The scripts whose outputs scripts/reference_outputs.py compares; the 1B
# models are over the 2 GB a single ONNX protobuf holds, which that script
# rewrites in memory, and are checked by names and counts.
OUTPUTS = ["llm/llama_tiny", "llm/smollm_135m", "llm/qwen2_0_5b", "llm/pythia_14m", "llm/pythia_70m",
           "llm/pythia_160m", "llm/opt_125m", "llm/smollm2_135m"]


# Small variants under tests/data/llm/ whose outputs reference_outputs.py
# also compares: Llama 3 RoPE scaling with head_dim and tied head, Qwen2's
# q/k/v biases, Mistral's sliding window (shorter than the sequence).
VARIANTS = {
    "tests/data/llm/llama3_tied_tiny.rhai": ("LlamaForCausalLM", "LlamaConfig", dict(
        vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=1, head_dim=32, rope_theta=500000.0,
        tie_word_embeddings=True, attention_bias=True, mlp_bias=True,
        rope_scaling=dict(factor=32.0, high_freq_factor=4.0, low_freq_factor=1.0,
                          original_max_position_embeddings=64, rope_type="llama3"))),
    "tests/data/llm/qwen2_tiny.rhai": ("Qwen2ForCausalLM", "Qwen2Config", dict(
        vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, rope_theta=1000000.0)),
    "tests/data/llm/mistral_window_tiny.rhai": ("MistralForCausalLM", "MistralConfig", dict(
        vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, sliding_window=5, pad_token_id=None)),
}


def _make(cls, conf, cfg):
    def make():
        return getattr(transformers, cls)(getattr(transformers, conf)(**cfg))
    return (f"{cls}({conf}(**{cfg}))", make)


def models():
    return {f"llm/{stem}": _make(*ref) for stem, (_, ref) in DECODERS.items()} | {
        "llm/llama_tiny": _make("LlamaForCausalLM", "LlamaConfig", TINY),
        "llm/tinyllama_1_1b": _make("LlamaForCausalLM", "LlamaConfig", TINYLLAMA),
        "llm/llama_3_2_1b": _make("LlamaForCausalLM", "LlamaConfig", LLAMA_3_2_1B),
        "llm/qwen2_0_5b": _make("Qwen2ForCausalLM", "Qwen2Config", QWEN2_0_5B),
        "llm/smollm_135m": _make("LlamaForCausalLM", "LlamaConfig", SMOLLM_135M),
        "llm/mistral_7b_v0_1": _make("MistralForCausalLM", "MistralConfig", MISTRAL_7B),
    }


# ---------------------------------------------------------------- more decoders
# config.json values of the hub checkpoints (the keys that shape the model;
# the rest take the config class's defaults, as from_pretrained gives them).
# Each entry: script stem -> (model class, config class, hub id, config).
LLAMA2 = dict(vocab_size=32000, max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0,
              tie_word_embeddings=False)
LLAMA3 = dict(vocab_size=128256, rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False)
LLAMA31_ROPE = dict(factor=8.0, high_freq_factor=4.0, low_freq_factor=1.0,
                    original_max_position_embeddings=8192, rope_type="llama3")
LLAMA32_ROPE = dict(LLAMA31_ROPE, factor=32.0)
QWEN = dict(rms_norm_eps=1e-6, rope_theta=1000000.0, use_sliding_window=False)
SMOL = dict(vocab_size=49152, rms_norm_eps=1e-5, tie_word_embeddings=True)
PYTHIA = dict(max_position_embeddings=2048, rotary_pct=0.25, rotary_emb_base=10000, layer_norm_eps=1e-5,
              use_parallel_residual=True, tie_word_embeddings=False, hidden_act="gelu")
OPT = dict(vocab_size=50272, max_position_embeddings=2048, do_layer_norm_before=True,
           activation_function="relu", enable_bias=True)
CODELLAMA = dict(max_position_embeddings=16384, rms_norm_eps=1e-5, rope_theta=1000000.0,
                 tie_word_embeddings=False)
PHI1 = dict(vocab_size=51200, hidden_size=2048, intermediate_size=8192, num_hidden_layers=24,
            num_attention_heads=32, num_key_value_heads=32, hidden_act="gelu_new", max_position_embeddings=2048,
            layer_norm_eps=1e-5, partial_rotary_factor=0.5, rope_theta=10000.0, qk_layernorm=False,
            tie_word_embeddings=False)


def _llama(**kw):
    return ("LlamaForCausalLM", "LlamaConfig", kw)


def _pythia(hidden, layers, heads, vocab):
    return ("GPTNeoXForCausalLM", "GPTNeoXConfig", dict(PYTHIA, vocab_size=vocab, hidden_size=hidden,
            intermediate_size=4 * hidden, num_hidden_layers=layers, num_attention_heads=heads))


def _opt(hidden, layers, heads, **kw):
    return ("OPTForCausalLM", "OPTConfig", dict(OPT, hidden_size=hidden, ffn_dim=4 * hidden,
            num_hidden_layers=layers, num_attention_heads=heads, word_embed_proj_dim=hidden) | kw)


DECODERS = {
    "llama_2_7b": ("meta-llama/Llama-2-7b-hf", _llama(**LLAMA2, hidden_size=4096, intermediate_size=11008,
                   num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32)),
    "llama_2_13b": ("meta-llama/Llama-2-13b-hf", _llama(**LLAMA2, hidden_size=5120, intermediate_size=13824,
                    num_hidden_layers=40, num_attention_heads=40, num_key_value_heads=40)),
    "llama_2_70b": ("meta-llama/Llama-2-70b-hf", _llama(**LLAMA2, hidden_size=8192, intermediate_size=28672,
                    num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8)),
    "llama_3_8b": ("meta-llama/Meta-Llama-3-8B", _llama(**LLAMA3, hidden_size=4096, intermediate_size=14336,
                   num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                   max_position_embeddings=8192)),
    "llama_3_70b": ("meta-llama/Meta-Llama-3-70B", _llama(**LLAMA3, hidden_size=8192, intermediate_size=28672,
                    num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8,
                    max_position_embeddings=8192)),
    "llama_3_1_8b": ("meta-llama/Llama-3.1-8B", _llama(**LLAMA3, hidden_size=4096, intermediate_size=14336,
                     num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                     max_position_embeddings=131072, rope_scaling=LLAMA31_ROPE)),
    "llama_3_2_3b": ("meta-llama/Llama-3.2-3B", _llama(**dict(LLAMA3, tie_word_embeddings=True), hidden_size=3072,
                     intermediate_size=8192, num_hidden_layers=28, num_attention_heads=24,
                     num_key_value_heads=8, head_dim=128, max_position_embeddings=131072,
                     rope_scaling=LLAMA32_ROPE)),
    "mistral_7b_v0_3": ("mistralai/Mistral-7B-v0.3", ("MistralForCausalLM", "MistralConfig", dict(
        vocab_size=32768, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=32768, rms_norm_eps=1e-5,
        rope_theta=1000000.0, sliding_window=None, tie_word_embeddings=False))),
    "qwen2_1_5b": ("Qwen/Qwen2-1.5B", ("Qwen2ForCausalLM", "Qwen2Config", dict(QWEN,
        vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
        num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=131072,
        tie_word_embeddings=True))),
    "qwen2_7b": ("Qwen/Qwen2-7B", ("Qwen2ForCausalLM", "Qwen2Config", dict(QWEN,
        vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
        num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=131072,
        tie_word_embeddings=False))),
    "qwen2_5_0_5b": ("Qwen/Qwen2.5-0.5B", ("Qwen2ForCausalLM", "Qwen2Config", dict(QWEN,
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
        tie_word_embeddings=True))),
    "qwen2_5_1_5b": ("Qwen/Qwen2.5-1.5B", ("Qwen2ForCausalLM", "Qwen2Config", dict(QWEN,
        vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
        num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=131072,
        tie_word_embeddings=True))),
    "qwen2_5_3b": ("Qwen/Qwen2.5-3B", ("Qwen2ForCausalLM", "Qwen2Config", dict(QWEN,
        vocab_size=151936, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
        num_attention_heads=16, num_key_value_heads=2, max_position_embeddings=32768,
        tie_word_embeddings=True))),
    "qwen2_5_7b": ("Qwen/Qwen2.5-7B", ("Qwen2ForCausalLM", "Qwen2Config", dict(QWEN,
        vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
        num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=131072,
        tie_word_embeddings=False))),
    "smollm_360m": ("HuggingFaceTB/SmolLM-360M", _llama(**SMOL, hidden_size=960, intermediate_size=2560,
                    num_hidden_layers=32, num_attention_heads=15, num_key_value_heads=5,
                    max_position_embeddings=2048, rope_theta=10000.0)),
    "smollm_1_7b": ("HuggingFaceTB/SmolLM-1.7B", _llama(**SMOL, hidden_size=2048, intermediate_size=8192,
                    num_hidden_layers=24, num_attention_heads=32, num_key_value_heads=32,
                    max_position_embeddings=2048, rope_theta=10000.0)),
    "smollm2_135m": ("HuggingFaceTB/SmolLM2-135M", _llama(**SMOL, hidden_size=576, intermediate_size=1536,
                     num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                     max_position_embeddings=8192, rope_theta=100000.0)),
    "smollm2_360m": ("HuggingFaceTB/SmolLM2-360M", _llama(**SMOL, hidden_size=960, intermediate_size=2560,
                     num_hidden_layers=32, num_attention_heads=15, num_key_value_heads=5,
                     max_position_embeddings=8192, rope_theta=100000.0)),
    "smollm2_1_7b": ("HuggingFaceTB/SmolLM2-1.7B", _llama(**SMOL, hidden_size=2048, intermediate_size=8192,
                     num_hidden_layers=24, num_attention_heads=32, num_key_value_heads=32,
                     max_position_embeddings=8192, rope_theta=130000.0)),
    "phi_2": ("microsoft/phi-2", ("PhiForCausalLM", "PhiConfig", dict(
        vocab_size=51200, hidden_size=2560, intermediate_size=10240, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=32, hidden_act="gelu_new", max_position_embeddings=2048,
        layer_norm_eps=1e-5, partial_rotary_factor=0.4, rope_theta=10000.0, qk_layernorm=False,
        tie_word_embeddings=False))),
    "phi_3_mini_4k": ("microsoft/Phi-3-mini-4k-instruct", ("Phi3ForCausalLM", "Phi3Config", dict(
        vocab_size=32064, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=32, hidden_act="silu", max_position_embeddings=4096,
        original_max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0, sliding_window=2047,
        tie_word_embeddings=False))),
    "gemma_2b": ("google/gemma-2b", ("GemmaForCausalLM", "GemmaConfig", dict(
        vocab_size=256000, hidden_size=2048, intermediate_size=16384, num_hidden_layers=18,
        num_attention_heads=8, num_key_value_heads=1, head_dim=256, hidden_act="gelu",
        max_position_embeddings=8192, rms_norm_eps=1e-6, rope_theta=10000.0))),
    "gemma_7b": ("google/gemma-7b", ("GemmaForCausalLM", "GemmaConfig", dict(
        vocab_size=256000, hidden_size=3072, intermediate_size=24576, num_hidden_layers=28,
        num_attention_heads=16, num_key_value_heads=16, head_dim=256, hidden_act="gelu",
        max_position_embeddings=8192, rms_norm_eps=1e-6, rope_theta=10000.0))),
    "gemma_2_2b": ("google/gemma-2-2b", ("Gemma2ForCausalLM", "Gemma2Config", dict(
        vocab_size=256000, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
        num_attention_heads=8, num_key_value_heads=4, head_dim=256, hidden_activation="gelu_pytorch_tanh",
        max_position_embeddings=8192, rms_norm_eps=1e-6, rope_theta=10000.0, query_pre_attn_scalar=256,
        sliding_window=4096, final_logit_softcapping=30.0, attn_logit_softcapping=50.0))),
    "gemma_2_9b": ("google/gemma-2-9b", ("Gemma2ForCausalLM", "Gemma2Config", dict(
        vocab_size=256000, hidden_size=3584, intermediate_size=14336, num_hidden_layers=42,
        num_attention_heads=16, num_key_value_heads=8, head_dim=256, hidden_activation="gelu_pytorch_tanh",
        max_position_embeddings=8192, rms_norm_eps=1e-6, rope_theta=10000.0, query_pre_attn_scalar=256,
        sliding_window=4096, final_logit_softcapping=30.0, attn_logit_softcapping=50.0))),
    "pythia_70m": ("EleutherAI/pythia-70m", _pythia(512, 6, 8, 50304)),
    "pythia_160m": ("EleutherAI/pythia-160m", _pythia(768, 12, 12, 50304)),
    "pythia_410m": ("EleutherAI/pythia-410m", _pythia(1024, 24, 16, 50304)),
    "pythia_1b": ("EleutherAI/pythia-1b", _pythia(2048, 16, 8, 50304)),
    "pythia_1_4b": ("EleutherAI/pythia-1.4b", _pythia(2048, 24, 16, 50304)),
    "pythia_2_8b": ("EleutherAI/pythia-2.8b", _pythia(2560, 32, 32, 50304)),
    "pythia_6_9b": ("EleutherAI/pythia-6.9b", _pythia(4096, 32, 32, 50432)),
    "pythia_12b": ("EleutherAI/pythia-12b", _pythia(5120, 36, 40, 50688)),
    "opt_125m": ("facebook/opt-125m", _opt(768, 12, 12)),
    "opt_350m": ("facebook/opt-350m", _opt(1024, 24, 16, word_embed_proj_dim=512, do_layer_norm_before=False)),
    "opt_1_3b": ("facebook/opt-1.3b", _opt(2048, 24, 32)),
    "opt_2_7b": ("facebook/opt-2.7b", _opt(2560, 32, 32)),
    "opt_6_7b": ("facebook/opt-6.7b", _opt(4096, 32, 32)),
    "mixtral_8x7b": ("mistralai/Mixtral-8x7B-v0.1", ("MixtralForCausalLM", "MixtralConfig", dict(
        vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=32768, rms_norm_eps=1e-5,
        rope_theta=1000000.0, sliding_window=None, num_local_experts=8, num_experts_per_tok=2,
        tie_word_embeddings=False))),
    "pythia_14m": ("EleutherAI/pythia-14m", _pythia(128, 6, 4, 50304)),
    "pythia_31m": ("EleutherAI/pythia-31m", _pythia(256, 6, 8, 50304)),
    "opt_13b": ("facebook/opt-13b", _opt(5120, 40, 40)),
    "opt_30b": ("facebook/opt-30b", _opt(7168, 48, 56)),
    "opt_66b": ("facebook/opt-66b", _opt(9216, 64, 72)),
    "phi_1": ("microsoft/phi-1", ("PhiForCausalLM", "PhiConfig", dict(PHI1))),
    "phi_1_5": ("microsoft/phi-1_5", ("PhiForCausalLM", "PhiConfig", dict(PHI1))),
    "phi_3_medium_4k": ("microsoft/Phi-3-medium-4k-instruct", ("Phi3ForCausalLM", "Phi3Config", dict(
        vocab_size=32064, hidden_size=5120, intermediate_size=17920, num_hidden_layers=40,
        num_attention_heads=40, num_key_value_heads=10, hidden_act="silu", max_position_embeddings=4096,
        original_max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0, sliding_window=2047,
        tie_word_embeddings=False))),
    "llama_3_1_70b": ("meta-llama/Llama-3.1-70B", _llama(**LLAMA3, hidden_size=8192, intermediate_size=28672,
                      num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8,
                      max_position_embeddings=131072, rope_scaling=LLAMA31_ROPE)),
    "llama_3_1_405b": ("meta-llama/Llama-3.1-405B", _llama(**LLAMA3, hidden_size=16384, intermediate_size=53248,
                       num_hidden_layers=126, num_attention_heads=128, num_key_value_heads=8,
                       max_position_embeddings=131072, rope_scaling=LLAMA31_ROPE)),
    "qwen2_72b": ("Qwen/Qwen2-72B", ("Qwen2ForCausalLM", "Qwen2Config", dict(QWEN,
        vocab_size=152064, hidden_size=8192, intermediate_size=29568, num_hidden_layers=80,
        num_attention_heads=64, num_key_value_heads=8, max_position_embeddings=131072,
        tie_word_embeddings=False))),
    "qwen2_5_14b": ("Qwen/Qwen2.5-14B", ("Qwen2ForCausalLM", "Qwen2Config", dict(QWEN, rms_norm_eps=1e-5,
        vocab_size=152064, hidden_size=5120, intermediate_size=13824, num_hidden_layers=48,
        num_attention_heads=40, num_key_value_heads=8, max_position_embeddings=131072,
        tie_word_embeddings=False))),
    "qwen2_5_32b": ("Qwen/Qwen2.5-32B", ("Qwen2ForCausalLM", "Qwen2Config", dict(QWEN, rms_norm_eps=1e-5,
        vocab_size=152064, hidden_size=5120, intermediate_size=27648, num_hidden_layers=64,
        num_attention_heads=40, num_key_value_heads=8, max_position_embeddings=131072,
        tie_word_embeddings=False))),
    "qwen2_5_72b": ("Qwen/Qwen2.5-72B", ("Qwen2ForCausalLM", "Qwen2Config", dict(QWEN, rms_norm_eps=1e-5,
        vocab_size=152064, hidden_size=8192, intermediate_size=29568, num_hidden_layers=80,
        num_attention_heads=64, num_key_value_heads=8, max_position_embeddings=131072,
        tie_word_embeddings=False))),
    "gemma_2_27b": ("google/gemma-2-27b", ("Gemma2ForCausalLM", "Gemma2Config", dict(
        vocab_size=256000, hidden_size=4608, intermediate_size=36864, num_hidden_layers=46,
        num_attention_heads=32, num_key_value_heads=16, head_dim=128, hidden_activation="gelu_pytorch_tanh",
        max_position_embeddings=8192, rms_norm_eps=1e-6, rope_theta=10000.0, query_pre_attn_scalar=144,
        sliding_window=4096, final_logit_softcapping=30.0, attn_logit_softcapping=50.0))),
    "mixtral_8x22b": ("mistralai/Mixtral-8x22B-v0.1", ("MixtralForCausalLM", "MixtralConfig", dict(
        vocab_size=32000, hidden_size=6144, intermediate_size=16384, num_hidden_layers=56,
        num_attention_heads=48, num_key_value_heads=8, max_position_embeddings=65536, rms_norm_eps=1e-5,
        rope_theta=1000000.0, sliding_window=None, num_local_experts=8, num_experts_per_tok=2,
        tie_word_embeddings=False))),
    "falcon_40b": ("tiiuae/falcon-40b", ("FalconForCausalLM", "FalconConfig", dict(
        vocab_size=65024, hidden_size=8192, num_hidden_layers=60, num_attention_heads=128, num_kv_heads=8,
        layer_norm_epsilon=1e-5, alibi=False, bias=False, new_decoder_architecture=True,
        parallel_attn=True))),
    "gpt_neox_20b": ("EleutherAI/gpt-neox-20b", ("GPTNeoXForCausalLM", "GPTNeoXConfig", dict(PYTHIA,
        vocab_size=50432, hidden_size=6144, intermediate_size=24576, num_hidden_layers=44,
        num_attention_heads=64))),
    "codellama_7b": ("codellama/CodeLlama-7b-hf", _llama(**CODELLAMA, vocab_size=32016, hidden_size=4096,
                     intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                     num_key_value_heads=32)),
    "codellama_13b": ("codellama/CodeLlama-13b-hf", _llama(**CODELLAMA, vocab_size=32016, hidden_size=5120,
                      intermediate_size=13824, num_hidden_layers=40, num_attention_heads=40,
                      num_key_value_heads=40)),
    "codellama_34b": ("codellama/CodeLlama-34b-hf", _llama(**CODELLAMA, vocab_size=32000, hidden_size=8192,
                      intermediate_size=22016, num_hidden_layers=48, num_attention_heads=64,
                      num_key_value_heads=8)),
    "mistral_nemo_12b": ("mistralai/Mistral-Nemo-Base-2407", ("MistralForCausalLM", "MistralConfig", dict(
        vocab_size=131072, hidden_size=5120, intermediate_size=14336, num_hidden_layers=40,
        num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=128000,
        rms_norm_eps=1e-5, rope_theta=1000000.0, sliding_window=None, tie_word_embeddings=False))),
    "falcon_7b": ("tiiuae/falcon-7b", ("FalconForCausalLM", "FalconConfig", dict(
        vocab_size=65024, hidden_size=4544, num_hidden_layers=32, num_attention_heads=71,
        layer_norm_epsilon=1e-5, alibi=False, bias=False, multi_query=True, new_decoder_architecture=False,
        parallel_attn=True))),
}

# Tiny configs of each new family under tests/data/llm/, compared by
# reference_outputs.py (with a left-padded attention_mask).
VARIANTS.update({
    "tests/data/llm/phi_tiny.rhai": ("PhiForCausalLM", "PhiConfig", dict(
        vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, partial_rotary_factor=0.5, qk_layernorm=True)),
    "tests/data/llm/phi3_tiny.rhai": ("Phi3ForCausalLM", "Phi3Config", dict(
        vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, sliding_window=5, pad_token_id=None)),
    "tests/data/llm/gemma_tiny.rhai": ("GemmaForCausalLM", "GemmaConfig", dict(
        vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=1, head_dim=32)),
    "tests/data/llm/gemma2_tiny.rhai": ("Gemma2ForCausalLM", "Gemma2Config", dict(
        vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=32, query_pre_attn_scalar=24,
        sliding_window=5, attn_logit_softcapping=5.0, final_logit_softcapping=3.0)),
    "tests/data/llm/gpt_neox_tiny.rhai": ("GPTNeoXForCausalLM", "GPTNeoXConfig", dict(
        vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, rotary_pct=0.25)),
    "tests/data/llm/gpt_neox_serial_tiny.rhai": ("GPTNeoXForCausalLM", "GPTNeoXConfig", dict(
        vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, rotary_pct=0.5, use_parallel_residual=False)),
    "tests/data/llm/opt_tiny.rhai": ("OPTForCausalLM", "OPTConfig", dict(
        vocab_size=1000, hidden_size=64, ffn_dim=128, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=64)),
    "tests/data/llm/opt_post_norm_tiny.rhai": ("OPTForCausalLM", "OPTConfig", dict(
        vocab_size=1000, hidden_size=64, ffn_dim=128, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=64, word_embed_proj_dim=32, do_layer_norm_before=False)),
    "tests/data/llm/falcon_tiny.rhai": ("FalconForCausalLM", "FalconConfig", dict(
        vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4)),
    "tests/data/llm/mixtral_tiny.rhai": ("MixtralForCausalLM", "MixtralConfig", dict(
        vocab_size=1000, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
        sliding_window=5)),
    "tests/data/llm/falcon_new_arch_tiny.rhai": ("FalconForCausalLM", "FalconConfig", dict(
        vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_kv_heads=2,
        new_decoder_architecture=True)),
})
