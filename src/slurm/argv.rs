//! Rebuilds each job's command line from the submitting one: the same flags,
//! minus the Slurm ones, the inputs and `-d` (which the job gets as an
//! absolute path). Flags are looked up in the clap definition, so flags added
//! later (`--sweep`, ...) pass through without being listed here.

use clap::Command;
use std::ffi::{OsStr, OsString};

/// One flag (with its value tokens) or one positional input, as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// `id` is clap's argument id; `words` are the tokens as they will be
    /// passed on (`--runtime ort`, `--runtime=ort`, `-q`).
    Flag {
        id: String,
        words: Vec<OsString>,
    },
    Input(OsString),
}

impl Token {
    pub fn id(&self) -> Option<&str> {
        match self {
            Token::Flag { id, .. } => Some(id),
            Token::Input(_) => None,
        }
    }
}

/// Splits `argv` (without the program name) into flags and inputs using the
/// argument definitions of `cmd`. Fails only on something clap itself
/// would have refused (an unknown flag).
pub fn split(cmd: &Command, argv: &[OsString]) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut only_inputs = false;
    while i < argv.len() {
        let word = &argv[i];
        i += 1;
        let text = word.to_string_lossy();
        if only_inputs || text == "-" || !text.starts_with('-') {
            out.push(Token::Input(word.clone()));
            continue;
        }
        if text == "--" {
            only_inputs = true;
            continue;
        }
        if let Some(long) = text.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            let arg = cmd
                .get_arguments()
                .find(|a| {
                    a.get_long() == Some(name)
                        || a.get_all_aliases().is_some_and(|al| al.contains(&name))
                })
                .ok_or_else(|| format!("unknown flag --{name}"))?;
            let mut words = vec![word.clone()];
            if !inline {
                i = take_values(arg, argv, i, &mut words);
            }
            out.push(Token::Flag {
                id: arg.get_id().to_string(),
                words,
            });
            continue;
        }
        // A cluster of short flags: `-q`, `-d DIR`, `-dDIR`, `-qd DIR`.
        // Each is passed on separately so that one can be dropped alone.
        let chars: Vec<char> = text[1..].chars().collect();
        let mut k = 0;
        while k < chars.len() {
            let c = chars[k];
            k += 1;
            let arg = cmd
                .get_arguments()
                .find(|a| {
                    a.get_short() == Some(c)
                        || a.get_all_short_aliases().is_some_and(|al| al.contains(&c))
                })
                .ok_or_else(|| format!("unknown flag -{c}"))?;
            let mut words = vec![OsString::from(format!("-{c}"))];
            if arg.get_action().takes_values() {
                let rest: String = chars[k..].iter().collect();
                let rest = rest.strip_prefix('=').unwrap_or(&rest);
                if rest.is_empty() {
                    i = take_values(arg, argv, i, &mut words);
                } else {
                    words.push(OsString::from(rest));
                }
                k = chars.len();
            }
            out.push(Token::Flag {
                id: arg.get_id().to_string(),
                words,
            });
        }
    }
    Ok(out)
}

/// Moves the values of `arg` (starting at `argv[i]`) into `words`; returns
/// the index after them. A flag taking one value takes the next word
/// whatever it looks like (`--script-args "--batch_size 8"`), as clap does.
fn take_values(
    arg: &clap::Arg,
    argv: &[OsString],
    mut i: usize,
    words: &mut Vec<OsString>,
) -> usize {
    // `--pin` alone or `--pin=0-3`: a value only ever follows an `=`.
    if !arg.get_action().takes_values() || arg.is_require_equals_set() {
        return i;
    }
    let max = arg
        .get_num_args()
        .map(|r| r.max_values())
        .unwrap_or(1)
        .max(1);
    let min = arg.get_num_args().map(|r| r.min_values()).unwrap_or(1);
    let mut n = 0;
    while n < max && i < argv.len() {
        let looks_like_flag = argv[i].to_string_lossy().starts_with('-');
        if n >= min.max(1) && looks_like_flag {
            break;
        }
        words.push(argv[i].clone());
        i += 1;
        n += 1;
    }
    i
}

/// The words of all tokens but those whose id is in `drop`, and no inputs.
pub fn flags_without(tokens: &[Token], drop: &[String]) -> Vec<OsString> {
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Flag { id, words } if !drop.iter().any(|d| d == id) => Some(words.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The inputs, in order.
pub fn inputs(tokens: &[Token]) -> Vec<OsString> {
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Input(w) => Some(w.clone()),
            Token::Flag { .. } => None,
        })
        .collect()
}

/// The ids of the arguments `T` defines (e.g. every Slurm flag).
pub fn ids_of<T: clap::Args>() -> Vec<String> {
    T::augment_args(Command::new("ids"))
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect()
}

/// The job's argument list: `flags`, then `-d CACHE`, then the input (after
/// `--` when it looks like a flag).
pub fn job_args(flags: &[OsString], cache: &OsStr, input: &OsStr) -> Vec<OsString> {
    let mut v = flags.to_vec();
    v.push("-d".into());
    v.push(cache.to_os_string());
    if input.to_string_lossy().starts_with('-') {
        v.push("--".into());
    }
    v.push(input.to_os_string());
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use crate::slurm::SlurmArgs;
    use clap::CommandFactory;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn strs(v: &[OsString]) -> Vec<String> {
        v.iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    fn drop_ids() -> Vec<String> {
        let mut d = ids_of::<SlurmArgs>();
        d.push("cache_dir".into());
        d
    }

    #[test]
    fn slurm_flags_inputs_and_cache_are_dropped_the_rest_passes() {
        let argv = os(&[
            "--use-slurm",
            "-d",
            "cache",
            "models/a.rhai",
            "--script-args",
            "--batch_size 8",
            "--slurm-time=5",
            "--runtime",
            "ort,tract",
            "--sbatch-arg",
            "--account=ml",
            "models/b.rhai",
            "--iterations=10",
            "-q",
            "--slurm-partition",
            "debug",
            "--dry-run",
        ]);
        let toks = split(&Cli::command(), &argv).unwrap();
        assert_eq!(strs(&inputs(&toks)), ["models/a.rhai", "models/b.rhai"]);
        assert_eq!(
            strs(&flags_without(&toks, &drop_ids())),
            [
                "--script-args",
                "--batch_size 8",
                "--runtime",
                "ort,tract",
                "--iterations=10",
                "-q"
            ]
        );
        // The split agrees with clap's own parse of the same line.
        let mut full = os(&["turnkey"]);
        full.extend(argv.clone());
        let cli = <Cli as clap::Parser>::try_parse_from(&full).unwrap();
        assert_eq!(cli.bench.inputs.len(), 2);
        assert_eq!(cli.bench.slurm.sbatch_args, ["--account=ml"]);
    }

    #[test]
    fn short_clusters_and_double_dash() {
        let argv = os(&["-qdcache", "--use-slurm", "--", "-odd.rhai", "x.rhai"]);
        let toks = split(&Cli::command(), &argv).unwrap();
        assert_eq!(strs(&inputs(&toks)), ["-odd.rhai", "x.rhai"]);
        assert_eq!(strs(&flags_without(&toks, &drop_ids())), ["-q"]);
        let ids: Vec<_> = toks.iter().filter_map(Token::id).collect();
        assert_eq!(ids, ["quiet", "cache_dir", "use_slurm"]);
        let args = job_args(&os(&["-q"]), OsStr::new("/c"), OsStr::new("-odd.rhai"));
        assert_eq!(strs(&args), ["-q", "-d", "/c", "--", "-odd.rhai"]);
    }

    #[test]
    fn an_optional_value_needs_its_equals_sign() {
        // `--pin` takes no separate word: the script after it is an input.
        let argv = os(&[
            "--use-slurm",
            "--pin",
            "a.rhai",
            "--pin=0-1",
            "--trials",
            "3",
        ]);
        let toks = split(&Cli::command(), &argv).unwrap();
        assert_eq!(strs(&inputs(&toks)), ["a.rhai"]);
        assert_eq!(
            strs(&flags_without(&toks, &drop_ids())),
            ["--pin", "--pin=0-1", "--trials", "3"]
        );
    }

    #[test]
    fn unknown_flag_is_refused() {
        let err = split(&Cli::command(), &os(&["--no-such-flag", "a.rhai"])).unwrap_err();
        assert!(err.contains("--no-such-flag"), "{err}");
    }

    #[test]
    fn slurm_ids_are_listed() {
        let ids = ids_of::<SlurmArgs>();
        for id in ["use_slurm", "slurm_time", "sbatch_args", "dry_run"] {
            assert!(ids.iter().any(|i| i == id), "{id} in {ids:?}");
        }
    }
}
