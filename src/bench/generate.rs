//! The generation task of a worker (issue #18): prefill once, then N - 1
//! decode steps, each fed the previous step's present keys/values and the
//! greedy token, every step timed; repeated for TTFT statistics.

use super::stats::LatencyStats;
use super::verdict::{self, Evidence, Stop};
use super::worker::{WorkerError, WorkerResult, WorkerSpec, read_inputs};
use crate::cache::generation::{GenerationInfo, GenerationStats};
use crate::graph::{DType, HostTensor, HostValue};
use crate::onnx::write_values;
use crate::runtime::{self, RuntimeError, Session, SessionOptions};
use std::time::{Duration, Instant};

/// Timed repetitions when neither --iterations nor the time floors say more.
const MIN_REPETITIONS: u64 = 3;

/// One prefill + decode loop's timings and what it generated.
struct Run {
    ttft_ms: f64,
    decode_ms: Vec<f64>,
    /// [batch][N] greedy tokens.
    tokens: Vec<Vec<i64>>,
    /// The last position's logits of each step, [batch][N][vocab].
    logits: Vec<Vec<Vec<f32>>>,
}

fn bad(spec: &WorkerSpec, message: String) -> WorkerError {
    WorkerError::Spec {
        path: spec.onnx.clone(),
        message,
    }
}

/// Runs the generation row of `spec` (whose `generation` is set).
pub fn run(
    spec: &WorkerSpec,
    g: &GenerationInfo,
    result: &mut WorkerResult,
) -> Result<(), WorkerError> {
    let inputs = read_inputs(&spec.inputs_dir)?;
    let prompt: Vec<(String, HostTensor)> = inputs
        .iter()
        .filter_map(|(n, v)| v.as_tensor().map(|t| (n.clone(), t.clone())))
        .collect();
    let rt = runtime::by_name(&spec.runtime)?;
    result.runtime_version = rt.version();
    let opts = |shapes: Vec<(String, DType, Vec<usize>)>| SessionOptions {
        threads: spec.threads,
        device: spec.device,
        precision: spec.precision,
        graph_optimization: spec.graph_optimization,
        input_shapes: shapes,
    };
    let decode_path = spec.onnx.with_file_name(&g.decode_onnx);
    let t = Instant::now();
    let mut prefill = rt.load(
        &spec.onnx,
        &opts(
            prompt
                .iter()
                .map(|(n, t)| (n.clone(), t.dtype, t.shape.clone()))
                .collect(),
        ),
    )?;
    let mut decode = rt.load(&decode_path, &opts(decode_shapes(g)))?;
    result.compile_ms = Some(t.elapsed().as_secs_f64() * 1e3);
    result.details = prefill.details();

    // The first generation, untimed as a whole (first_ms), is the one saved.
    let t = Instant::now();
    let first = generate_once(spec, g, &prompt, prefill.as_mut(), decode.as_mut())?;
    result.first_ms = Some(t.elapsed().as_secs_f64() * 1e3);
    result.warmup_iterations = 1;

    let bench = &spec.bench;
    let mut runs = Vec::new();
    let started = Instant::now();
    let stop = loop {
        runs.push(generate_once(
            spec,
            g,
            &prompt,
            prefill.as_mut(),
            decode.as_mut(),
        )?);
        let n = runs.len() as u64;
        let elapsed = started.elapsed();
        match bench.iterations {
            Some(want) if n >= want => break Stop::Iterations,
            Some(_) => {}
            None if n >= MIN_REPETITIONS && elapsed >= bench.min_time => break Stop::Target,
            None if elapsed >= bench.max_time.max(Duration::from_millis(1)) => break Stop::MaxTime,
            None => {}
        }
    };
    result.total_ms = Some(started.elapsed().as_secs_f64() * 1e3);
    if let Some(p) = &spec.samples_path {
        // The row's latency samples: one end-to-end generation each.
        let e2e: Vec<f64> = runs
            .iter()
            .map(|r| r.ttft_ms + r.decode_ms.iter().sum::<f64>())
            .collect();
        super::worker::write_samples(p, &e2e)?;
    }
    let stats = summarize(g, &runs, spec.batch_size);
    let e2e: Vec<f64> = runs
        .iter()
        .map(|r| r.ttft_ms + r.decode_ms.iter().sum::<f64>())
        .collect();
    let e2e_stats =
        LatencyStats::from_samples(&e2e).ok_or_else(|| bad(spec, "no timed generation".into()))?;
    result.iterations = runs.len() as u64;
    result.stop = Some(stop);
    result.throughput = Some(e2e_stats.throughput(spec.batch_size));
    result.stability = Some(verdict::judge(&Evidence {
        stats: &e2e_stats,
        target_ci_pct: bench.target_ci_pct,
        stop,
        max_time_s: bench.max_time.as_secs_f64(),
        host: None,
        warmup_steady: None,
        gpu_throttle: &[],
        trials: None,
    }));
    result.stats = Some(e2e_stats);
    result.generation = Some(GenerationStats {
        tokens: first.tokens.clone(),
        ..stats
    });

    let Some(dir) = &spec.outputs_dir else {
        return Ok(());
    };
    let outputs = saved_outputs(&first);
    result.outputs = outputs.iter().map(|(n, _)| n.clone()).collect();
    std::fs::create_dir_all(dir).map_err(|source| WorkerError::Io {
        path: dir.clone(),
        source,
    })?;
    write_values(dir, "output", &outputs)?;
    Ok(())
}

/// The decode graph's inputs: one token, its position, the cache.
fn decode_shapes(g: &GenerationInfo) -> Vec<(String, DType, Vec<usize>)> {
    let b = g.batch_size as usize;
    let kv = vec![
        b,
        g.kv_heads as usize,
        g.max_cache_len as usize,
        g.head_dim as usize,
    ];
    let mut out = vec![
        ("input_ids".to_string(), DType::Int64, vec![b, 1]),
        ("cache_position".to_string(), DType::Int64, vec![1]),
    ];
    for i in 0..g.layers {
        for part in ["key", "value"] {
            out.push((
                format!("past_key_values.{i}.{part}"),
                DType::Float32,
                kv.clone(),
            ));
        }
    }
    out
}

/// One generation: prefill, then decode steps until N tokens.
fn generate_once(
    spec: &WorkerSpec,
    g: &GenerationInfo,
    prompt: &[(String, HostTensor)],
    prefill: &mut dyn Session,
    decode: &mut dyn Session,
) -> Result<Run, WorkerError> {
    let b = g.batch_size as usize;
    let n = g.new_tokens as usize;
    let mut run = Run {
        ttft_ms: 0.0,
        decode_ms: Vec::with_capacity(n.saturating_sub(1)),
        tokens: vec![Vec::with_capacity(n); b],
        logits: vec![Vec::with_capacity(n); b],
    };
    let t = Instant::now();
    prefill.set_inputs(prompt)?;
    prefill.run()?;
    let mut outs = prefill.outputs()?;
    let mut next = pick(spec, &mut outs, &mut run)?;
    run.ttft_ms = t.elapsed().as_secs_f64() * 1e3;
    for step in 1..n {
        let t = Instant::now();
        let position = g.prompt_tokens as usize + step - 1;
        let mut feed = Vec::with_capacity(2 + 2 * g.layers as usize);
        feed.push((
            "input_ids".to_string(),
            HostTensor::from_fn(DType::Int64, &[b, 1], |i| next[i] as f64),
        ));
        feed.push((
            "cache_position".to_string(),
            HostTensor::from_fn(DType::Int64, &[1], |_| position as f64),
        ));
        // present.N.key of this step is past_key_values.N.key of the next.
        for (name, t) in outs.drain(..) {
            if let Some(rest) = name.strip_prefix("present.") {
                feed.push((format!("past_key_values.{rest}"), t));
            }
        }
        decode.set_inputs(&feed)?;
        decode.run()?;
        outs = decode.outputs()?;
        next = pick(spec, &mut outs, &mut run)?;
        run.decode_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(run)
}

/// The greedy tokens from the last position's logits (ties: the lowest id,
/// as torch.argmax); keeps the tokens and those logits in `run`.
fn pick(
    spec: &WorkerSpec,
    outs: &mut [(String, HostTensor)],
    run: &mut Run,
) -> Result<Vec<i64>, WorkerError> {
    let logits = outs
        .iter()
        .find(|(n, _)| n == "logits")
        .map(|(_, t)| t)
        .ok_or_else(|| bad(spec, "the graph has no 'logits' output".into()))?;
    let [b, s, v] = logits.shape[..] else {
        return Err(bad(spec, format!("logits have shape {:?}", logits.shape)));
    };
    let values = logits.to_f32_vec().ok_or_else(|| RuntimeError::Run {
        runtime: "generate",
        message: format!("logits are {}, not float32", logits.dtype),
    })?;
    let mut next = Vec::with_capacity(b);
    for i in 0..b {
        let row = &values[(i * s + s - 1) * v..(i * s + s) * v];
        let mut best = 0;
        for (j, x) in row.iter().enumerate() {
            if x.is_nan() {
                return Err(RuntimeError::Run {
                    runtime: "generate",
                    message: "NaN in the logits: greedy decoding is undefined".into(),
                }
                .into());
            }
            if *x > row[best] {
                best = j;
            }
        }
        next.push(best as i64);
        run.tokens[i].push(best as i64);
        run.logits[i].push(row.to_vec());
    }
    Ok(next)
}

fn summarize(g: &GenerationInfo, runs: &[Run], batch: u64) -> GenerationStats {
    let ttft: Vec<f64> = runs.iter().map(|r| r.ttft_ms).collect();
    let Some(ttft) = LatencyStats::from_samples(&ttft) else {
        return GenerationStats::default();
    };
    let all: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.decode_ms.iter().copied())
        .collect();
    let decode = LatencyStats::from_samples(&all);
    let steps = g.decode_steps() as usize;
    let by_step = (0..steps)
        .filter_map(|k| {
            let mut at: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.decode_ms.get(k).copied())
                .collect();
            at.sort_by(f64::total_cmp);
            (!at.is_empty()).then(|| median_sorted(&at))
        })
        .collect();
    let decode_total: f64 = all.iter().sum();
    let e2e: Vec<f64> = runs
        .iter()
        .map(|r| r.ttft_ms + r.decode_ms.iter().sum::<f64>())
        .collect();
    let mut e2e_sorted = e2e.clone();
    e2e_sorted.sort_by(f64::total_cmp);
    GenerationStats {
        repetitions: runs.len() as u64,
        decode_steps: steps as u64,
        ttft_ms: ttft.median_ms,
        ttft_p90_ms: ttft.p90_ms,
        ttft_min_ms: ttft.min_ms,
        ttft_max_ms: ttft.max_ms,
        decode_ms_median: decode.as_ref().map(|d| d.median_ms),
        decode_ms_p90: decode.as_ref().map(|d| d.p90_ms),
        decode_ms_p99: decode.as_ref().map(|d| d.p99_ms),
        decode_ms_by_step: by_step,
        gen_tokens_per_s: (decode_total > 0.0)
            .then(|| (batch as f64) * all.len() as f64 / (decode_total / 1e3)),
        prompt_tokens_per_s: (batch * g.prompt_tokens) as f64 / (ttft.median_ms / 1e3),
        e2e_ms: median_sorted(&e2e_sorted),
        kv_cache_bytes: g.kv_cache_bytes(),
        tokens: Vec::new(),
        tokens_match: None,
    }
}

fn median_sorted(x: &[f64]) -> f64 {
    let n = x.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        x[n / 2]
    } else {
        (x[n / 2 - 1] + x[n / 2]) / 2.0
    }
}

/// What the row saves and checks across runtimes: the greedy tokens
/// [batch, N] and each step's last-position logits [batch, N, vocab].
fn saved_outputs(first: &Run) -> Vec<(String, HostValue)> {
    let b = first.tokens.len();
    let n = first.tokens.first().map_or(0, Vec::len);
    let v = first
        .logits
        .first()
        .and_then(|l| l.first())
        .map_or(0, Vec::len);
    let tokens: Vec<i64> = first.tokens.iter().flatten().copied().collect();
    let logits: Vec<f32> = first.logits.iter().flatten().flatten().copied().collect();
    vec![
        (
            "tokens".to_string(),
            HostValue::Tensor(HostTensor::from_fn(DType::Int64, &[b, n], |i| {
                tokens[i] as f64
            })),
        ),
        (
            "logits".to_string(),
            HostValue::Tensor(HostTensor::from_fn(DType::Float32, &[b, n, v], |i| {
                logits[i] as f64
            })),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> GenerationInfo {
        GenerationInfo {
            prompt_tokens: 10,
            new_tokens: 4,
            max_cache_len: 14,
            batch_size: 2,
            layers: 1,
            kv_heads: 1,
            head_dim: 8,
            kv_dtype_bytes: 4,
            decode_onnx: "decode.onnx".into(),
        }
    }

    fn run(ttft: f64, decode: &[f64]) -> Run {
        Run {
            ttft_ms: ttft,
            decode_ms: decode.to_vec(),
            tokens: vec![vec![1, 2, 3, 4]; 2],
            logits: vec![vec![vec![0.0]; 4]; 2],
        }
    }

    #[test]
    fn statistics_count_steps_batch_and_context() {
        let runs = [
            run(4.0, &[1.0, 2.0, 3.0]),
            run(6.0, &[1.0, 2.0, 5.0]),
            run(5.0, &[1.0, 2.0, 4.0]),
        ];
        let s = summarize(&info(), &runs, 2);
        assert_eq!(s.repetitions, 3);
        assert_eq!(s.decode_steps, 3);
        assert_eq!(s.ttft_ms, 5.0);
        // Step k's median over repetitions.
        assert_eq!(s.decode_ms_by_step, vec![1.0, 2.0, 4.0]);
        assert_eq!(s.decode_ms_median, Some(2.0));
        // 2 sequences x 9 steps in 21 ms.
        let tps = s.gen_tokens_per_s.unwrap();
        assert!((tps - 2.0 * 9.0 / 0.021).abs() < 1e-6, "{tps}");
        // 2 x 10 prompt tokens in the median TTFT (5 ms).
        assert!((s.prompt_tokens_per_s - 4000.0).abs() < 1e-6);
        // 4 + 6, 6 + 8, 5 + 7.
        assert_eq!(s.e2e_ms, 12.0);
        assert_eq!(s.kv_cache_bytes, 2 * 8 * 14 * 2 * 4);
    }

    #[test]
    fn one_new_token_has_no_decode_statistics() {
        let mut g = info();
        g.new_tokens = 1;
        let s = summarize(&g, &[run(3.0, &[])], 1);
        assert_eq!(s.decode_steps, 0);
        assert_eq!(s.decode_ms_median, None);
        assert_eq!(s.gen_tokens_per_s, None);
        assert!(s.decode_ms_by_step.is_empty());
    }

    #[test]
    fn saved_outputs_are_tokens_and_step_logits() {
        let out = saved_outputs(&run(1.0, &[1.0, 1.0, 1.0]));
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["tokens", "logits"]);
        let t = out[0].1.as_tensor().unwrap();
        assert_eq!(t.shape, [2, 4]);
        assert_eq!(t.to_i64_vec().unwrap(), [1, 2, 3, 4, 1, 2, 3, 4]);
        assert_eq!(out[1].1.as_tensor().unwrap().shape, [2, 4, 1]);
    }
}
