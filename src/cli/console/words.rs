//! A console line as words: split on blanks, with `'…'` and `"…"` quoting and `\`
//! escapes, and `#` starting a comment where a word could start — enough to write an
//! OpenFlow flow or a BGP community as one word. Nothing is expanded: no variables, no
//! globs, no command substitution; the words go to a verb, or as argv to a program inside
//! a node, never to a shell.

use std::fmt;

/// Why a line could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WordsError {
    /// A quote opened at this character offset (0-based) is never closed.
    UnclosedQuote { quote: char, at: usize },
    /// The line ends with a lone `\`.
    TrailingBackslash,
}

impl fmt::Display for WordsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WordsError::UnclosedQuote { quote, at } => {
                write!(f, "the {quote} at column {} is never closed", at + 1)
            }
            WordsError::TrailingBackslash => write!(f, "the line ends with a lone \\"),
        }
    }
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
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

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

    fn cases() -> u32 {
        std::env::var("TOPOLAB_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000)
    }

    /// Fuzz target: any line (script files are outside input) splits or errs, never
    /// panics; plain words come back as they were.
    #[test]
    fn fuzz_split_never_panics() {
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            ..Config::default()
        });
        runner
            .run(&any::<String>(), |line| {
                let _ = split(&line);
                Ok(())
            })
            .unwrap();
        runner
            .run(&"[ '\"\\\\#a-z\t]{0,40}", |line| {
                let _ = split(&line);
                Ok(())
            })
            .unwrap();
        runner
            .run(
                &proptest::collection::vec("[a-z0-9=.:,-]{1,8}", 0..8),
                |ws| {
                    prop_assert_eq!(split(&ws.join(" ")).unwrap(), ws);
                    Ok(())
                },
            )
            .unwrap();
    }
}
