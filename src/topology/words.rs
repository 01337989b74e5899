//! A line of a console script (or of the console itself) as words: split on blanks, with
//! `'…'` and `"…"` quoting and `\` escapes, and `#` starting a comment where a word could
//! start — enough to write an OpenFlow flow or a BGP community as one word. Nothing is
//! expanded: no variables, no globs, no command substitution; the console gives the words
//! to a verb, or as argv to a program inside a node, never to a shell. Script files are
//! outside input: `tests/fuzz_console.rs` feeds this any text.

/// Why a line could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordsError {
    /// A quote opened at this character offset (0-based) is never closed.
    #[error("the {quote} at column {} is never closed", .at + 1)]
    UnclosedQuote { quote: char, at: usize },
    /// The line ends with a lone `\`.
    #[error("the line ends with a lone \\")]
    TrailingBackslash,
}

/// The words of `line`.
pub fn split(line: &str) -> Result<Vec<String>, WordsError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    // Whether a word is under way (`''` is an empty word, not no word).
    let mut in_word = false;
    let mut chars = line.chars().enumerate();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            '\\' => match chars.next() {
                Some((_, n)) => {
                    cur.push(n);
                    in_word = true;
                }
                None => return Err(WordsError::TrailingBackslash),
            },
            '\'' | '"' => {
                in_word = true;
                let mut closed = false;
                while let Some((_, n)) = chars.next() {
                    if n == c {
                        closed = true;
                        break;
                    }
                    // Inside double quotes, `\"` and `\\` are the only escapes.
                    if c == '"' && n == '\\' {
                        match chars.next() {
                            Some((_, e @ ('"' | '\\'))) => cur.push(e),
                            Some((_, e)) => {
                                cur.push('\\');
                                cur.push(e);
                            }
                            None => break,
                        }
                        continue;
                    }
                    cur.push(n);
                }
                if !closed {
                    return Err(WordsError::UnclosedQuote { quote: c, at: i });
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(line: &str) -> Vec<String> {
        split(line).unwrap()
    }

    #[test]
    fn blanks_quotes_escapes_comments() {
        assert_eq!(w("  h1   ping -c1  h2 "), ["h1", "ping", "-c1", "h2"]);
        assert_eq!(
            w("openflow s1 add-flow 'priority=100,ip, actions=drop'"),
            [
                "openflow",
                "s1",
                "add-flow",
                "priority=100,ip, actions=drop"
            ]
        );
        assert_eq!(
            w(r#"h1 echo "a \"b\" \c" x\ y"#),
            ["h1", "echo", r#"a "b" \c"#, "x y"]
        );
        assert_eq!(w("h1 echo '' end"), ["h1", "echo", "", "end"]);
        assert_eq!(w("# a comment"), Vec::<String>::new());
        assert_eq!(w("pingall # every host"), ["pingall"]);
        assert_eq!(w("h1 echo a#b"), ["h1", "echo", "a#b"]);
        assert_eq!(w(""), Vec::<String>::new());
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(
            split("h1 echo 'abc"),
            Err(WordsError::UnclosedQuote { quote: '\'', at: 8 })
        );
        assert_eq!(split("h1 echo \\"), Err(WordsError::TrailingBackslash));
        assert!(split("x \"a\\").is_err());
        assert_eq!(
            WordsError::UnclosedQuote { quote: '"', at: 3 }.to_string(),
            "the \" at column 4 is never closed"
        );
    }
}
