//! The `# labels:` first line and the `//!` source docs of a script.

use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, Vec<String>>;

/// What the host reads from a script before compiling it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    pub labels: Labels,
    pub description: String,
    /// The script with the labels line blanked (its newline kept, so every
    /// later line keeps its number).
    pub source: String,
}

/// A malformed labels token: the host adds the file name.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelError {
    pub line: usize,
    pub token: String,
    pub why: &'static str,
}

pub fn parse_header(text: &str) -> Result<Header, LabelError> {
    let mut header = Header::default();
    let (first, rest) = match text.split_once('\n') {
        Some((f, r)) => (f, Some(r)),
        None => (text, None),
    };
    let first_trim = first.trim_end_matches('\r');
    let labels_line = first_trim
        .trim_start()
        .strip_prefix('#')
        .map(str::trim_start)
        .and_then(|s| s.strip_prefix("labels:"));
    let (source, doc_start) = match labels_line {
        Some(tokens) => {
            header.labels = parse_labels(tokens)?;
            // The labels line becomes an empty line: line numbers stay.
            let source = match rest {
                Some(r) => format!("\n{r}"),
                None => "\n".to_string(),
            };
            (source, 1)
        }
        None => (text.to_string(), 0),
    };
    let docs: Vec<&str> = text
        .lines()
        .skip(doc_start)
        .take_while(|l| l.trim_start().starts_with("//!"))
        .map(|l| l.trim_start().trim_start_matches("//!").trim())
        .collect();
    header.description = docs.join("\n").trim().to_string();
    header.source = source;
    Ok(header)
}

/// `key::v1,v2 key2::v` tokens, separated by whitespace.
pub fn parse_labels(tokens: &str) -> Result<Labels, LabelError> {
    let mut labels = Labels::new();
    for tok in tokens.split_whitespace() {
        let bad = |why| LabelError {
            line: 1,
            token: tok.to_string(),
            why,
        };
        let (k, v) = tok
            .split_once("::")
            .ok_or_else(|| bad("expected key::value"))?;
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad("the key must be letters, digits, '_' or '-'"));
        }
        let values: Vec<String> = v.split(',').map(str::to_string).collect();
        if values.iter().any(|s| s.is_empty() || s.contains("::")) {
            return Err(bad("values must be non-empty and separated by ','"));
        }
        labels.entry(k.to_string()).or_default().extend(values);
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_docs_are_read_and_lines_kept() {
        let src = "# labels: name::twolayer author::turnkey task::A,B\n//! Two layers.\n//! Source: here.\nlet x = 1;\n";
        let h = parse_header(src).unwrap();
        assert_eq!(h.labels["author"], vec!["turnkey"]);
        assert_eq!(h.labels["task"], vec!["A", "B"]);
        assert_eq!(h.description, "Two layers.\nSource: here.");
        assert_eq!(h.source.lines().count(), src.lines().count());
        assert_eq!(h.source.lines().nth(3), Some("let x = 1;"));
        assert!(h.source.starts_with('\n'));
    }

    #[test]
    fn a_labels_line_alone_keeps_its_line() {
        // Found by fuzzing: the source keeps as many lines as the text.
        let h = parse_header("# labels: a::b").unwrap();
        assert_eq!(h.source.lines().count(), 1);
    }

    #[test]
    fn no_labels_is_fine() {
        let h = parse_header("//! Doc.\nlet x = 1;").unwrap();
        assert!(h.labels.is_empty());
        assert_eq!(h.description, "Doc.");
        assert_eq!(h.source, "//! Doc.\nlet x = 1;");
    }

    #[test]
    fn malformed_token_is_named() {
        let e = parse_header("# labels: name::ok broken\n").unwrap_err();
        assert_eq!(e.token, "broken");
        let e = parse_header("# labels: ::x\n").unwrap_err();
        assert_eq!(e.token, "::x");
        let e = parse_header("# labels: a::\n").unwrap_err();
        assert_eq!(e.token, "a::");
    }
}
