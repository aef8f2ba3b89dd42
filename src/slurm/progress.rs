//! The terminal side of `--use-slurm`: a progress bar over jobs on a TTY
//! (pending/running/done/failed), one line per job event otherwise.

use super::job::Phase;
use super::watch::{Event, Observer};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

pub struct SlurmProgress {
    quiet: bool,
    bar: Option<ProgressBar>,
}

impl SlurmProgress {
    pub fn new(quiet: bool, total: usize) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{bar:30}] {pos}/{len} jobs  {elapsed}  {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        SlurmProgress { quiet, bar }
    }

    fn line(&self, s: &str) {
        // suspend(), not println(): println prints nothing on a hidden bar.
        match &self.bar {
            Some(b) => b.suspend(|| errln!("{s}")),
            None => errln!("{s}"),
        }
    }

    fn info(&self, s: &str) {
        if !self.quiet {
            self.line(s);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Observer for SlurmProgress {
    fn on(&self, event: Event<'_>) {
        match event {
            Event::Skipped { input, builds } => self.info(&format!(
                "{input}: skipped, its {builds} build(s) already succeeded (--rebuild to redo)"
            )),
            Event::Submitted { input, id } => self.info(&format!("{input}: submitted job {id}")),
            Event::Adopted { input, id } => self.info(&format!(
                "{input}: job {id} from an earlier submission is still in Slurm: watching it"
            )),
            Event::SubmitFailed { input, error } => self.line(&format!("{input}: {error}")),
            Event::Started { input, id, nodes } => {
                self.info(&format!("{input}: job {id} running on {nodes}"))
            }
            Event::Ended {
                input,
                id,
                phase,
                state,
                detail,
            } => {
                let s = format!(
                    "{input}: job {id} {} ({}): {detail}",
                    phase.as_str(),
                    state.to_lowercase()
                );
                if phase == Phase::Failed {
                    self.line(&s)
                } else {
                    self.info(&s)
                }
            }
            Event::Counts {
                pending,
                running,
                done,
                failed,
                total: _,
            } => {
                if let Some(b) = &self.bar {
                    b.set_position((done + failed) as u64);
                    b.set_message(format!(
                        "pending {pending} · running {running} · done {done} · failed {failed}"
                    ));
                }
            }
            Event::Warning(w) => self.line(&format!("warning: {w}")),
            Event::Interrupted {
                left,
                cancelled,
                unsubmitted,
            } => {
                if !cancelled.is_empty() {
                    self.line(&format!(
                        "interrupted: cancelled Slurm job(s) {}",
                        cancelled.join(",")
                    ));
                }
                if !left.is_empty() {
                    let ids = left.join(",");
                    self.line(&format!(
                        "interrupted: left {} Slurm job(s) running: {ids}\n  \
                         watch them: squeue -j {ids}\n  \
                         run the same command again to watch them and gather their records \
                         (it re-attaches), or cancel them: scancel {}",
                        left.len(),
                        left.join(" ")
                    ));
                }
                if !unsubmitted.is_empty() {
                    self.line(&format!(
                        "interrupted: {} input(s) not submitted: {}",
                        unsubmitted.len(),
                        unsubmitted.join(" ")
                    ));
                }
            }
        }
    }
}
