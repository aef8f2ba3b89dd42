//! Text from users and libraries, made safe to print on one line.

use std::borrow::Cow;

/// `s` with line breaks and other control characters escaped (`\n`,
/// `\u{c}`), so that an error quoting a user's text stays one line and
/// cannot move the terminal's cursor. Other text is returned as it is.
pub fn one_line(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_control) {
        Cow::Owned(
            s.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_debug().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// Writes `text` to stdout; a closed pipe (`turnkey api | head`) ends the
/// output quietly instead of panicking as `print!` does.
pub fn print_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_only() {
        assert_eq!(one_line("--bogus"), "--bogus");
        assert_eq!(one_line("a\nb\r\u{c}é\"'"), "a\\nb\\r\\u{c}é\"'");
        assert!(matches!(one_line("plain"), Cow::Borrowed(_)));
    }
}
