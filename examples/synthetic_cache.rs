//! Writes a synthetic cache of N build records (2 runtime rows each, with
//! per-iteration samples files), to time `turnkey report` at scale
//! (scripts/bench_report.sh).
//!
//!     cargo run --release --example synthetic_cache -- DIR [N]
//!
//! Records are written straight to disk (no per-record lock or fsync: this
//! is test data). Every 4 consecutive builds are one model at batch 1, 2, 4
//! and 8 (sweeps); 1% of the rows failed.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use turnkey::bench::stats::LatencyStats;
use turnkey::cache::{
    Cache, CheckStatus, OutputCheck, Record, RuntimeRow, Status, SystemInfo, TensorSpec,
};
use turnkey::graph::DType;

const ITERATIONS: usize = 100;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: synthetic_cache DIR [N]   (N records, default 10000)");
        return ExitCode::from(2);
    };
    let n: usize = match args.next().map(|s| s.parse()) {
        None => 10_000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("N must be a whole number: {e}");
            return ExitCode::from(2);
        }
    };
    match write(&dir, n) {
        Ok(()) => {
            println!("wrote {n} records into {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write(dir: &std::path::Path, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let cache = Cache::open(Some(dir))?;
    let system = SystemInfo::collect();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for i in 0..n {
        let model = i / 4;
        let batch = 1u64 << (i % 4);
        let name = format!("model{model:05}_turnkey_{i:08x}");
        let build_dir = cache.build_dir(&name)?;
        std::fs::create_dir_all(build_dir.join("samples"))?;
        let mut r = Record::new(&name);
        let id = &mut r.identity;
        id.hash = format!("{i:064x}");
        id.script = format!("models/synthetic/model{model:05}.rhai");
        id.model_class = Some(format!("Model{}", model % 97));
        id.script_args = format!("--batch_size {batch}");
        for (k, v) in [
            ("author", "turnkey"),
            ("task", ["Vision", "NLP", "Graph"][model % 3]),
            ("test_group", "synthetic"),
        ] {
            id.labels.insert(k.into(), vec![v.into()]);
        }
        id.inputs.push(TensorSpec::new(
            "x",
            &[batch as usize, 3, 224, 224],
            DType::Float32,
        ));
        id.params = Some(1_000_000 + model as u64 * 1000);
        id.flops = Some(batch * 2_000_000_000);
        id.opset = Some(17);
        r.system = system.clone();
        r.finish_stage("discover", Status::Successful, None);
        r.finish_stage("export", Status::Successful, None);
        // Latencies spread over four decades, like a real corpus.
        let base = 10f64.powf(rng.random_range(-2.0..2.0)) * batch as f64;
        for (k, rt) in ["ort", "tract"].iter().enumerate() {
            let mut row = RuntimeRow::new(rt, "cpu");
            row.runtime_version = Some(if k == 0 { "1.32.0" } else { "0.23.0" }.into());
            row.device_name = system.cpu_model.clone();
            row.batch_size = Some(batch);
            if rng.random_range(0..100) == 0 {
                row.status = Status::Crashed;
                row.error = Some("killed by signal 11 (SIGSEGV)".into());
                r.set_row(row);
                continue;
            }
            let scale = base * (1.0 + k as f64 * 0.3);
            let samples: Vec<f64> = (0..ITERATIONS)
                .map(|_| scale * rng.random_range(0.95..1.2))
                .collect();
            let mut csv = String::from("iteration,latency_ms\n");
            for (j, s) in samples.iter().enumerate() {
                let _ = writeln!(csv, "{j},{s}");
            }
            let file = format!("samples/{rt}-cpu.csv");
            std::fs::write(build_dir.join(&file), csv)?;
            let stats = LatencyStats::from_samples(&samples).expect("finite samples");
            row.status = Status::Successful;
            row.iterations = Some(ITERATIONS as u64);
            row.set_latency(&stats);
            row.stability = Some("stable".into());
            row.throughput = Some(stats.throughput(batch));
            row.compile_ms = Some(scale * 20.0);
            row.first_ms = Some(scale * 3.0);
            row.peak_rss_mb = Some(120.0 + model as f64 % 50.0);
            row.samples_file = Some(file);
            row.check = Some(OutputCheck {
                reference: "ort/cpu".into(),
                status: if k == 0 {
                    CheckStatus::Reference
                } else {
                    CheckStatus::Passed
                },
                max_abs_diff: Some(1e-6),
                ..Default::default()
            });
            r.set_row(row);
        }
        std::fs::write(build_dir.join("record.json"), r.to_json())?;
    }
    Ok(())
}
