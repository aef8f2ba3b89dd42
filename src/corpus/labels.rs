//! The `--labels key::v1,v2 key2::v` filter and `--labels-for`.

use crate::script::Labels;
use crate::script::header::parse_labels;
use crate::text::one_line;
use std::path::Path;

/// Keeps inputs that, for every key given, carry at least one of its values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelFilter {
    pub wanted: Labels,
}

impl LabelFilter {
    /// Parses each argument as whitespace-separated `key::v1,v2` tokens; a
    /// key given twice accepts the values of both.
    pub fn parse(args: &[String]) -> Result<LabelFilter, String> {
        let mut wanted = Labels::new();
        for a in args {
            let l = parse_labels(a).map_err(|e| {
                format!(
                    "--labels {a:?}: malformed token '{}': {}",
                    one_line(&e.token),
                    one_line(e.why)
                )
            })?;
            for (k, v) in l {
                let e = wanted.entry(k).or_default();
                for x in v {
                    if !e.contains(&x) {
                        e.push(x);
                    }
                }
            }
        }
        Ok(LabelFilter { wanted })
    }

    pub fn is_empty(&self) -> bool {
        self.wanted.is_empty()
    }

    /// True when every wanted key is present with at least one wanted value.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.wanted.iter().all(|(k, want)| {
            labels
                .get(k)
                .is_some_and(|have| have.iter().any(|v| want.contains(v)))
        })
    }
}

/// `--labels-for PATTERN=LABELS`: labels for the inputs whose path matches
/// the glob pattern.
#[derive(Clone, Debug)]
pub struct LabelsFor {
    pub pattern: glob::Pattern,
    pub labels: Labels,
}

impl LabelsFor {
    pub fn parse(arg: &str) -> Result<LabelsFor, String> {
        let (pat, tokens) = arg.split_once('=').ok_or_else(|| {
            format!(
                "--labels-for {arg:?}: expected PATTERN=key::value ... \
                 (e.g. --labels-for 'models/*.onnx=task::vision author::me')"
            )
        })?;
        let pattern = glob::Pattern::new(pat.trim()).map_err(|e| {
            format!(
                "--labels-for {arg:?}: bad pattern '{}': {e}",
                one_line(pat.trim())
            )
        })?;
        let labels = parse_labels(tokens).map_err(|e| {
            format!(
                "--labels-for {arg:?}: malformed token '{}': {}",
                one_line(&e.token),
                one_line(e.why)
            )
        })?;
        if labels.is_empty() {
            return Err(format!("--labels-for {arg:?}: no labels after '='"));
        }
        Ok(LabelsFor { pattern, labels })
    }

    /// Matches the path as given, and its file name.
    pub fn applies_to(&self, path: &Path) -> bool {
        self.pattern.matches_path(path)
            || path
                .file_name()
                .is_some_and(|n| self.pattern.matches(&n.to_string_lossy()))
    }
}

/// `over`'s keys replace `base`'s.
pub fn merge(base: &mut Labels, over: &Labels) {
    for (k, v) in over {
        base.insert(k.clone(), v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(s: &str) -> Labels {
        parse_labels(s).unwrap()
    }

    #[test]
    fn every_key_must_match_any_value() {
        let f = LabelFilter::parse(&["task::vision,nlp author::turnkey".into()]).unwrap();
        assert!(f.matches(&labels("task::vision author::turnkey name::x")));
        assert!(f.matches(&labels("task::nlp,audio author::turnkey")));
        assert!(!f.matches(&labels("task::vision")), "a key is missing");
        assert!(!f.matches(&labels("task::audio author::turnkey")));
        assert!(LabelFilter::default().matches(&Labels::new()));
    }

    #[test]
    fn repeated_flags_accumulate_values() {
        let f = LabelFilter::parse(&["task::a".into(), "task::b".into()]).unwrap();
        assert_eq!(f.wanted["task"], ["a", "b"]);
        let e = LabelFilter::parse(&["task".into()]).unwrap_err();
        assert!(e.contains("--labels") && e.contains("'task'"), "{e}");
    }

    #[test]
    fn labels_for_matches_paths_and_names() {
        let l = LabelsFor::parse("models/*.onnx=task::vision author::me").unwrap();
        assert!(l.applies_to(Path::new("models/resnet.onnx")));
        assert!(!l.applies_to(Path::new("other/resnet.rhai")));
        let l = LabelsFor::parse("resnet*.onnx=task::vision").unwrap();
        assert!(l.applies_to(Path::new("/abs/dir/resnet50.onnx")));
        assert!(LabelsFor::parse("nolabels").is_err());
        assert!(LabelsFor::parse("x=").is_err());
        // Found by fuzzing: a bad pattern with a line break stays one line.
        let e = LabelsFor::parse("[a\nb=task::x").unwrap_err();
        assert!(
            e.contains("bad pattern '[a\\nb'") && !e.contains('\n'),
            "{e}"
        );
    }
}
