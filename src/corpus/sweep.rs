//! Sweeps: `batch_size=1,8,32 max_seq_length=128,512` and its cartesian
//! product, one point per build.

use std::fmt;

/// Named value lists, in the order given; a key given twice keeps the last.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    pub keys: Vec<(String, Vec<String>)>,
}

/// The most points one sweep may have: a product beyond this is a typo
/// (or a fuzzer), and expanding it would exhaust memory before any build.
pub const MAX_POINTS: usize = 10_000;

/// One point of a sweep: a value per key.
pub type Point = Vec<(String, String)>;

impl Sweep {
    /// Parses `key=v1,v2 key2=v3` (whitespace between keys). `what` names
    /// the source in errors (`--sweep`).
    pub fn parse(text: &str, what: &str) -> Result<Sweep, String> {
        let mut s = Sweep::default();
        for tok in text.split_whitespace() {
            let (k, v) = tok.split_once('=').ok_or_else(|| {
                format!(
                    "{what} {text:?}: '{tok}' is not key=v1,v2 (e.g. {what} \"batch_size=1,8,32\")"
                )
            })?;
            if k.is_empty()
                || !k
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            {
                return Err(format!(
                    "{what} {text:?}: '{k}' is not a valid name (letters, digits, '_', '-')"
                ));
            }
            let values: Vec<String> = v.split(',').map(|x| x.trim().to_string()).collect();
            if values.iter().any(String::is_empty) {
                return Err(format!(
                    "{what} {text:?}: '{tok}' has an empty value; separate values with ','"
                ));
            }
            s.set(k, values);
        }
        s.check_size(what)?;
        Ok(s)
    }

    /// Points in the cartesian product (saturating).
    pub fn len(&self) -> usize {
        self.keys
            .iter()
            .fold(1usize, |n, (_, v)| n.saturating_mul(v.len()))
    }

    /// An error naming `what` when the product exceeds [`MAX_POINTS`].
    pub fn check_size(&self, what: &str) -> Result<(), String> {
        let n = self.len();
        if n > MAX_POINTS {
            let counts: Vec<String> = self
                .keys
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.len()))
                .collect();
            return Err(format!(
                "{what}: {} points ({}) is more than the {MAX_POINTS} one run may sweep; split it into several runs",
                if n == usize::MAX {
                    "too many".to_string()
                } else {
                    n.to_string()
                },
                counts.join(", ")
            ));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Sets (or replaces) the values of `key`.
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        match self.keys.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 = values,
            None => self.keys.push((key.to_string(), values)),
        }
    }

    /// `self` with every key of `over` replacing or adding to it.
    pub fn overlaid(&self, over: &Sweep) -> Sweep {
        let mut s = self.clone();
        for (k, v) in &over.keys {
            s.set(k, v.clone());
        }
        s
    }

    /// The cartesian product, first key slowest; one empty point when the
    /// sweep is empty.
    pub fn points(&self) -> Vec<Point> {
        let mut points: Vec<Point> = vec![Vec::new()];
        for (k, values) in &self.keys {
            let mut next = Vec::with_capacity(points.len() * values.len());
            for p in &points {
                for v in values {
                    let mut q = p.clone();
                    q.push((k.clone(), v.clone()));
                    next.push(q);
                }
            }
            points = next;
        }
        points
    }
}

impl fmt::Display for Sweep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .keys
            .iter()
            .map(|(k, v)| format!("{k}={}", v.join(",")))
            .collect();
        f.write_str(&parts.join(" "))
    }
}

/// `batch_size=8 max_seq_length=128`.
pub fn point_string(p: &Point) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_product_is_refused_before_it_is_expanded() {
        let text: Vec<String> = (0..40).map(|i| format!("k{i}=1,2")).collect();
        let err = Sweep::parse(&text.join(" "), "--sweep").unwrap_err();
        assert!(err.contains("more than the 10000"), "{err}");
        assert!(!err.contains('\n'));
        let ok = Sweep::parse("a=1,2,3,4,5,6,7,8,9,10 b=1,2,3,4,5,6,7,8,9,10", "--sweep").unwrap();
        assert_eq!(ok.len(), 100);
        let mut big = ok.clone();
        big.set("c", (0..101).map(|i| i.to_string()).collect());
        assert!(big.check_size("sweep").is_err());
    }

    #[test]
    fn parses_and_multiplies() {
        let s = Sweep::parse("batch_size=1,8,32 max_seq_length=128,512", "--sweep").unwrap();
        let p = s.points();
        assert_eq!(p.len(), 6);
        assert_eq!(point_string(&p[0]), "batch_size=1 max_seq_length=128");
        assert_eq!(point_string(&p[1]), "batch_size=1 max_seq_length=512");
        assert_eq!(point_string(&p[5]), "batch_size=32 max_seq_length=512");
        assert_eq!(s.to_string(), "batch_size=1,8,32 max_seq_length=128,512");
    }

    #[test]
    fn empty_sweep_is_one_point() {
        let s = Sweep::parse("  ", "--sweep").unwrap();
        assert!(s.is_empty());
        assert_eq!(s.points(), vec![Vec::new()]);
    }

    #[test]
    fn overlay_replaces_keys_in_place() {
        let base = Sweep::parse("a=1,2 b=3", "x").unwrap();
        let over = Sweep::parse("b=4,5 c=6", "y").unwrap();
        assert_eq!(base.overlaid(&over).to_string(), "a=1,2 b=4,5 c=6");
        assert_eq!(base.overlaid(&over).points().len(), 4);
    }

    #[test]
    fn bad_tokens_are_named() {
        for (text, want) in [
            ("batch_size", "'batch_size' is not key=v1,v2"),
            ("batch_size=1,,2", "empty value"),
            ("=1", "'' is not a valid name"),
            ("a.b=1", "'a.b' is not a valid name"),
        ] {
            let e = Sweep::parse(text, "--sweep").unwrap_err();
            assert!(e.contains(want) && e.starts_with("--sweep"), "{text}: {e}");
        }
    }
}
