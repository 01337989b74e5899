//! Fuzzing of the console's line splitter (`topolab::topology::words`), which reads script
//! files (`topolab console --script`, `source`): any text splits or is refused with a
//! reason, never a panic; plain words come back as they were written, and quoting a word
//! keeps it whole. `TOPOLAB_FUZZ_CASES=100000` runs longer locally.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use topolab::topology::words::{WordsError, split};

fn cases() -> u32 {
    std::env::var("TOPOLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        ..Config::default()
    })
}

#[test]
fn any_text_splits_or_is_refused() {
    runner()
        .run(&any::<String>(), |line| {
            let _ = split(&line);
            Ok(())
        })
        .unwrap();
    // The characters the splitter treats specially, densely.
    runner()
        .run(&"[ '\"\\\\#a-z\t\u{e9}]{0,40}", |line| {
            if let Err(WordsError::UnclosedQuote { quote, at }) = split(&line) {
                prop_assert_eq!(line.chars().nth(at), Some(quote));
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn plain_and_quoted_words_round_trip() {
    runner()
        .run(
            &proptest::collection::vec("[a-z0-9=.:,/-]{1,8}", 0..8),
            |ws| {
                prop_assert_eq!(split(&ws.join(" ")).unwrap(), ws);
                Ok(())
            },
        )
        .unwrap();
    runner()
        .run(
            &proptest::collection::vec("[a-z #\"\\\\]{0,8}", 0..6),
            |ws| {
                let quoted: Vec<String> = ws
                    .iter()
                    .map(|w| format!("'{}'", w.replace('\'', "")))
                    .collect();
                let want: Vec<String> = ws.iter().map(|w| w.replace('\'', "")).collect();
                prop_assert_eq!(split(&quoted.join(" ")).unwrap(), want);
                Ok(())
            },
        )
        .unwrap();
}
