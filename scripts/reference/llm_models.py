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
OUTPUTS = ["llm/llama_tiny", "llm/smollm_135m", "llm/qwen2_0_5b"]


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
        num_attention_heads=4, num_key_value_heads=2, sliding_window=5)),
}


def _make(cls, conf, cfg):
    def make():
        return getattr(transformers, cls)(getattr(transformers, conf)(**cfg))
    return (f"{cls}({conf}(**{cfg}))", make)


def models():
    return {
        "llm/llama_tiny": _make("LlamaForCausalLM", "LlamaConfig", TINY),
        "llm/tinyllama_1_1b": _make("LlamaForCausalLM", "LlamaConfig", TINYLLAMA),
        "llm/llama_3_2_1b": _make("LlamaForCausalLM", "LlamaConfig", LLAMA_3_2_1B),
        "llm/qwen2_0_5b": _make("Qwen2ForCausalLM", "Qwen2Config", QWEN2_0_5B),
        "llm/smollm_135m": _make("LlamaForCausalLM", "LlamaConfig", SMOLLM_135M),
        "llm/mistral_7b_v0_1": _make("MistralForCausalLM", "MistralConfig", MISTRAL_7B),
    }
