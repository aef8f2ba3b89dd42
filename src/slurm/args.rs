//! The `--use-slurm` flags (flattened into `BenchArgs`) and Slurm's time format.

use clap::Args;

/// Scale-out flags. Every `--slurm-*` flag needs `--use-slurm`.
#[derive(Args, Debug, Clone, Default, PartialEq)]
#[command(next_help_heading = "Slurm (scale out)")]
pub struct SlurmArgs {
    /// Submit one Slurm job (sbatch) per input instead of running here; watch
    /// them and gather their records in the shared cache (-d).
    #[arg(long)]
    pub use_slurm: bool,

    /// Slurm partition of the jobs (sbatch --partition).
    #[arg(long, value_name = "P", requires = "use_slurm")]
    pub slurm_partition: Option<String>,

    /// Time limit of each job in Slurm's format (MM, MM:SS, HH:MM:SS,
    /// D-HH[:MM[:SS]]); default: --timeout per runtime plus 10 minutes.
    #[arg(long, value_name = "T", requires = "use_slurm")]
    pub slurm_time: Option<String>,

    /// CPUs per job (sbatch --cpus-per-task).
    #[arg(long, value_name = "N", requires = "use_slurm")]
    pub slurm_cpus: Option<u32>,

    /// Memory per job, e.g. 8G (sbatch --mem).
    #[arg(long, value_name = "M", requires = "use_slurm")]
    pub slurm_mem: Option<String>,

    /// Generic resources per job, e.g. gpu:1 (sbatch --gres).
    #[arg(long, value_name = "G", requires = "use_slurm")]
    pub slurm_gres: Option<String>,

    /// At most N of this run's jobs in the queue at once; the rest are
    /// submitted as earlier ones end.
    #[arg(long, value_name = "N", requires = "use_slurm")]
    pub slurm_max_jobs: Option<usize>,

    /// One more sbatch option, verbatim; repeatable (--sbatch-arg=--account=ml).
    #[arg(
        long = "sbatch-arg",
        value_name = "ARG",
        allow_hyphen_values = true,
        requires = "use_slurm"
    )]
    pub sbatch_args: Vec<String>,

    /// On Ctrl-C, cancel this run's jobs (scancel) instead of leaving them running.
    #[arg(long, requires = "use_slurm")]
    pub slurm_cancel_on_exit: bool,

    /// Longest pause between two polls of squeue, in seconds (polls start at
    /// 1 s and back off while nothing changes). Default 10.
    #[arg(long, value_name = "S", requires = "use_slurm")]
    pub slurm_poll: Option<f64>,

    /// Print the sbatch commands of --use-slurm without submitting anything.
    #[arg(long, requires = "use_slurm")]
    pub dry_run: bool,
}

/// Parses a Slurm time limit (`MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`,
/// `D-HH:MM:SS`) into seconds; `None` for `UNLIMITED`/`INFINITE`.
pub fn parse_time(text: &str) -> Result<Option<u64>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("unlimited") || t.eq_ignore_ascii_case("infinite") {
        return Ok(None);
    }
    let bad = || {
        format!(
            "--slurm-time {text:?}: expected Slurm's time format: MM, MM:SS, HH:MM:SS, \
             D-HH, D-HH:MM or D-HH:MM:SS (e.g. --slurm-time 90 or --slurm-time 1-00:00)"
        )
    };
    let num = |s: &str| -> Result<u64, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<u64>().map_err(|_| bad())
    };
    let (days, rest) = match t.split_once('-') {
        Some((d, r)) => (Some(num(d)?), r),
        None => (None, t),
    };
    let parts: Vec<u64> = rest.split(':').map(num).collect::<Result<_, _>>()?;
    let secs = match (days, parts.as_slice()) {
        (None, [m]) => m * 60,
        (None, [m, s]) => m * 60 + s,
        (None, [h, m, s]) => h * 3600 + m * 60 + s,
        (Some(d), [h]) => d * 86400 + h * 3600,
        (Some(d), [h, m]) => d * 86400 + h * 3600 + m * 60,
        (Some(d), [h, m, s]) => d * 86400 + h * 3600 + m * 60 + s,
        _ => return Err(bad()),
    };
    if secs == 0 {
        return Err(format!(
            "--slurm-time {text:?}: a time limit of zero would stop every job at once; give e.g. --slurm-time 30"
        ));
    }
    Ok(Some(secs))
}

/// Seconds as Slurm writes them: `[D-]HH:MM:SS`.
pub fn format_time(secs: u64) -> String {
    let (d, rest) = (secs / 86400, secs % 86400);
    let hms = format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    if d > 0 { format!("{d}-{hms}") } else { hms }
}

/// The default job time limit: every runtime row may use its whole
/// `--timeout`, plus 10 minutes for discover, export and cached work; whole minutes.
pub fn default_time(timeout_s: f64, runtimes: usize) -> u64 {
    let rows = runtimes.max(1) as f64;
    let secs = if timeout_s.is_finite() && timeout_s > 0.0 {
        timeout_s * rows + 600.0
    } else {
        600.0
    };
    (secs / 60.0).ceil() as u64 * 60
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_time_formats() {
        assert_eq!(parse_time("5"), Ok(Some(300)));
        assert_eq!(parse_time("5:30"), Ok(Some(330)));
        assert_eq!(parse_time("01:02:03"), Ok(Some(3723)));
        assert_eq!(parse_time("2-3"), Ok(Some(2 * 86400 + 3 * 3600)));
        assert_eq!(parse_time("1-00:30"), Ok(Some(86400 + 1800)));
        assert_eq!(parse_time("1-00:00:05"), Ok(Some(86405)));
        assert_eq!(parse_time("UNLIMITED"), Ok(None));
        for bad in ["", "x", "1:2:3:4", "-5", "1-", "1.5", "0", "00:00"] {
            let e = parse_time(bad).unwrap_err();
            assert!(e.contains("--slurm-time"), "{bad}: {e}");
        }
    }

    #[test]
    fn time_formatting_and_default() {
        assert_eq!(format_time(59), "00:00:59");
        assert_eq!(format_time(3723), "01:02:03");
        assert_eq!(format_time(86400 + 60), "1-00:01:00");
        // 30 min per row for 2 runtimes + 10 min.
        assert_eq!(default_time(1800.0, 2), 70 * 60);
        assert_eq!(default_time(1.0, 1), 11 * 60);
        assert_eq!(default_time(f64::NAN, 1), 600);
    }
}
