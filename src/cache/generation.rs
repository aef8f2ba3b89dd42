//! Generation builds (`lm.generate`, issue #18): what a build generates
//! (part of its identity) and what a row measured while generating.

use serde::{Deserialize, Serialize};

/// A generation build's shape: prompt, new tokens and the static KV cache.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerationInfo {
    /// P: tokens in the prompt (the prefill graph's sequence length).
    pub prompt_tokens: u64,
    /// N: tokens generated: the first by prefill, N - 1 by decode steps.
    pub new_tokens: u64,
    /// M: positions of the static KV cache (P + N).
    pub max_cache_len: u64,
    pub batch_size: u64,
    pub layers: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    /// Bytes of one cache element (4 for float32).
    pub kv_dtype_bytes: u64,
    /// The decode graph's file in the build folder.
    pub decode_onnx: String,
}

impl GenerationInfo {
    /// Keys and values of every layer: 2 x layers x kv_heads x head_dim x M
    /// x batch x dtype bytes.
    pub fn kv_cache_bytes(&self) -> u64 {
        2 * self.layers
            * self.kv_heads
            * self.head_dim
            * self.max_cache_len
            * self.batch_size
            * self.kv_dtype_bytes
    }

    /// Decode steps of one generation: the first token comes from prefill.
    pub fn decode_steps(&self) -> u64 {
        self.new_tokens.saturating_sub(1)
    }
}

/// What a generation row measured over its repetitions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerationStats {
    /// Timed repetitions of the whole prefill + decode loop.
    pub repetitions: u64,
    /// Decode steps timed in each repetition.
    pub decode_steps: u64,
    /// Time to first token (prefill, greedy pick included): median, p90, min, max.
    pub ttft_ms: f64,
    pub ttft_p90_ms: f64,
    pub ttft_min_ms: f64,
    pub ttft_max_ms: f64,
    /// Per-token decode latency over every step of every repetition.
    pub decode_ms_median: Option<f64>,
    pub decode_ms_p90: Option<f64>,
    pub decode_ms_p99: Option<f64>,
    /// Median decode latency of step k (context P + k + 1), over repetitions:
    /// how a token's cost grows with context.
    pub decode_ms_by_step: Vec<f64>,
    /// Generated tokens per second over the decode steps (batch counted).
    pub gen_tokens_per_s: Option<f64>,
    /// Prompt tokens per second in prefill (batch counted).
    pub prompt_tokens_per_s: f64,
    /// Prompt to N tokens, median over repetitions.
    pub e2e_ms: f64,
    pub kv_cache_bytes: u64,
    /// The greedy tokens of the first repetition, [batch][N].
    pub tokens: Vec<Vec<i64>>,
    /// Whether the tokens equal the reference row's (none: this row is the reference).
    pub tokens_match: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_cache_bytes_counts_keys_and_values_of_every_layer() {
        // TinyLlama: 22 layers, 4 kv heads of 64, M = 128 + 32, batch 2, float32.
        let g = GenerationInfo {
            prompt_tokens: 128,
            new_tokens: 32,
            max_cache_len: 160,
            batch_size: 2,
            layers: 22,
            kv_heads: 4,
            head_dim: 64,
            kv_dtype_bytes: 4,
            decode_onnx: "decode.onnx".into(),
        };
        assert_eq!(g.kv_cache_bytes(), 2 * 22 * 4 * 64 * 160 * 2 * 4);
        assert_eq!(g.decode_steps(), 31);
    }
}
