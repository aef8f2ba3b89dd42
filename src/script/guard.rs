//! A source rewrite that closes Rhai's one silent path we cannot overload:
//! `switch` on a value that cannot be hashed (a Tensor, a Model, an array
//! holding one) falls through to the default case without a word. Each
//! `switch EXPR {` becomes `switch __switch_guard(EXPR) {`, on the same
//! line, and `__switch_guard` refuses tensors and models.

/// The name of the guard function the rewrite calls.
pub const SWITCH_GUARD: &str = "__switch_guard";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tok {
    /// An identifier or keyword: [start, end).
    Word(usize, usize),
    /// One punctuation byte at this offset.
    Punct(usize, u8),
}

/// Tokens of `src` outside comments, strings and characters (interpolated
/// code inside back-tick strings is skipped too: a switch there is rare and
/// stays as written).
fn tokens(src: &str) -> Vec<Tok> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            // Rhai's block comments nest.
            let mut depth = 0usize;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == b'"' || c == b'\'' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == b'`' {
            i = skip_backtick(b, i + 1);
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Word(s, i));
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
        } else {
            if !c.is_ascii_whitespace() {
                out.push(Tok::Punct(i, c));
            }
            i += 1;
        }
    }
    out
}

/// The offset after a back-tick string that starts at `i` (after the tick).
fn skip_backtick(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        match b[i] {
            b'`' => return i + 1,
            b'\\' => i += 2,
            b'$' if b.get(i + 1) == Some(&b'{') => {
                let mut depth = 0usize;
                i += 1;
                while i < b.len() {
                    match b[i] {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        b'"' | b'\'' => {
                            let q = b[i];
                            i += 1;
                            while i < b.len() && b[i] != q {
                                i += if b[i] == b'\\' { 2 } else { 1 };
                            }
                        }
                        b'`' => {
                            i = skip_backtick(b, i + 1);
                            continue;
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    i
}

/// `src` with each `switch EXPR {` wrapped as `switch __switch_guard(EXPR) {`.
/// A switch whose head holds a closure or a block expression is left as
/// written (its `{` cannot be told from the cases' `{` without parsing).
pub fn guard_switches(src: &str) -> String {
    let toks = tokens(src);
    let mut inserts: Vec<(usize, String)> = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        let Tok::Word(s, e) = *t else { continue };
        if &src[s..e] != "switch" {
            continue;
        }
        let mut depth = 0i32;
        let mut prev_hash = false;
        let mut map_braces = Vec::new();
        let mut end = None;
        for t2 in &toks[k + 1..] {
            match *t2 {
                Tok::Punct(p, c) => {
                    match c {
                        b'(' | b'[' => depth += 1,
                        b')' | b']' => depth -= 1,
                        b'{' if prev_hash => map_braces.push(depth),
                        b'{' if depth == 0 => {
                            end = Some(p);
                            break;
                        }
                        b'{' => depth += 1,
                        b'}' if map_braces.last() == Some(&depth) => {
                            map_braces.pop();
                        }
                        b'}' => depth -= 1,
                        b'|' | b';' => break,
                        _ => {}
                    }
                    prev_hash = c == b'#';
                }
                Tok::Word(ws, we) => {
                    prev_hash = false;
                    if matches!(
                        &src[ws..we],
                        "if" | "switch" | "fn" | "while" | "loop" | "for"
                    ) {
                        break;
                    }
                }
            }
        }
        if let Some(p) = end {
            inserts.push((e, format!(" {SWITCH_GUARD}(")));
            inserts.push((p, ") ".to_string()));
        }
    }
    if inserts.is_empty() {
        return src.to_string();
    }
    let mut out = String::with_capacity(src.len() + inserts.len() * 20);
    let mut last = 0;
    for (at, text) in inserts {
        out.push_str(&src[last..at]);
        out.push_str(&text);
        last = at;
    }
    out.push_str(&src[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_heads_are_wrapped_on_their_line() {
        let src = "switch x.dtype {\n  \"a\" => 1,\n  _ => 2\n}";
        assert_eq!(
            guard_switches(src),
            "switch __switch_guard( x.dtype ) {\n  \"a\" => 1,\n  _ => 2\n}"
        );
        let src = "let y = switch f(#{a: 1}.a, [1, 2]) { 1 => 2 };";
        assert!(guard_switches(src).contains("__switch_guard( f(#{a: 1}.a, [1, 2]) ) {"));
    }

    #[test]
    fn strings_comments_and_closures_are_left_alone() {
        for src in [
            "let s = \"switch x { }\";",
            "// switch x {",
            "/* switch /* x */ { */",
            "let s = `switch ${ \"x\" } {`;",
            "switch if a { 1 } else { 2 } { 1 => 2 }",
            "let switched = 1;",
        ] {
            assert_eq!(guard_switches(src), src, "{src}");
        }
    }
}
