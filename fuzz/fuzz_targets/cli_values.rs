//! The values of --sweep, --axis, --shape, --labels and --labels-for: any
//! text parses or is a one-line error, and a sweep that parses is small
//! enough to expand.
#![no_main]
use libfuzzer_sys::fuzz_target;
use turnkey::corpus::{self, LabelFilter, LabelsFor, Sweep, sweep::MAX_POINTS};

fn one_line(r: Result<(), String>) {
    if let Err(e) = r {
        assert!(!e.contains('\n'), "multi-line error: {e:?}");
    }
}

fuzz_target!(|text: &str| {
    let args = vec![text.to_string()];
    one_line(Sweep::parse(text, "--sweep").map(|s| {
        assert!(s.len() <= MAX_POINTS);
        assert_eq!(s.points().len(), s.len());
    }));
    one_line(corpus::parse_axes(&args).map(drop));
    one_line(corpus::parse_shapes(&args).map(drop));
    one_line(LabelFilter::parse(&args).map(drop));
    one_line(LabelsFor::parse(text).map(drop));
});
