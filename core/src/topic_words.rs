//! Routing keys as lists of words, and word patterns that match them.
//!
//! The canonical routing key separates words with `.` (the form AMQP clients write).
//! An adapter whose protocol separates words with another character maps its names
//! with [`to_routing_key`], which swaps that character and `.`: a bijection on all
//! strings, so a name that contains a `.` keeps it (`a/b.c` becomes `a.b/c` and back),
//! where replacing one character by the other would lose it.
//!
//! Binding keys in AMQP syntax (`*` one word, `#` zero or more) cannot say "a word that
//! is literally `*`", so a binding may instead carry a [`TopicPattern`]: a list of
//! [`PatternWord`]s whose exact words are compared literally.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The character between the words of a canonical routing key.
pub const WORD_SEPARATOR: char = '.';

/// The words of a routing key. The empty key has none; `a..b` has an empty middle word
/// (RabbitMQ's rule).
pub fn split_words(key: &str) -> impl Iterator<Item = &str> {
    let mut split = (!key.is_empty()).then(|| key.split(WORD_SEPARATOR));
    std::iter::from_fn(move || split.as_mut()?.next())
}

/// A name whose words are separated by `separator` as a canonical routing key: every
/// `separator` becomes `.` and every `.` becomes `separator`. Applying it twice gives
/// the name back, so the same call maps a routing key back to the name.
pub fn to_routing_key(name: &str, separator: char) -> String {
    name.chars()
        .map(|c| {
            if c == separator {
                WORD_SEPARATOR
            } else if c == WORD_SEPARATOR {
                separator
            } else {
                c
            }
        })
        .collect()
}

/// One element of a [`TopicPattern`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PatternWord {
    /// Matches this word and nothing else, compared byte for byte (`*` is just `*`).
    Exact(String),
    /// Matches exactly one word, whatever it is.
    One,
    /// Matches zero or more words.
    Many,
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("exact word {0:?} contains the word separator '.' and could never match")]
    SeparatorInWord(String),
    #[error("a pattern of one empty word could never match (the empty key has no words)")]
    LoneEmptyWord,
}

/// A topic binding key as a list of words.
///
/// A pattern built with [`TopicPattern::new`] or [`TopicPattern::from_filter`] applies
/// the **`$` rule**: if its first element is a wildcard ([`PatternWord::One`] or
/// [`PatternWord::Many`]) it does not match a key whose first word starts with `$`, so
/// that subscribing to "everything" does not include the broker's own `$`-prefixed
/// topics (statistics and the like). [`TopicPattern::from_amqp_key`] builds one without
/// it, matching exactly what an AMQP-syntax binding key matches.
///
/// Its [`Display`](fmt::Display) form is readable and distinct for distinct word
/// lists: words joined by `.`, wildcards as `*` and `#`, and in exact words `\` written
/// `\\` and a whole word `*` or `#` written `\*` or `\#`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TopicPattern {
    words: Vec<PatternWord>,
    dollar_rule: bool,
}

impl TopicPattern {
    /// A pattern with the `$` rule. Exact words may not contain `.` (no word of a
    /// routing key does), and a pattern of a single empty word is refused (it cannot
    /// match: the empty key has zero words).
    pub fn new(words: Vec<PatternWord>) -> Result<Self, PatternError> {
        for w in &words {
            if let PatternWord::Exact(s) = w
                && s.contains(WORD_SEPARATOR)
            {
                return Err(PatternError::SeparatorInWord(s.clone()));
            }
        }
        if matches!(words.as_slice(), [PatternWord::Exact(s)] if s.is_empty()) {
            return Err(PatternError::LoneEmptyWord);
        }
        Ok(Self {
            words,
            dollar_rule: true,
        })
    }

    /// A pattern written with another word separator and its own wildcard words (for
    /// example `a/+/#` with `/`, `+`, `#`), mapped as [`to_routing_key`] maps names: a
    /// `.` inside a word becomes `separator`. Has the `$` rule. An empty filter has
    /// one empty word and is refused like [`TopicPattern::new`] refuses it.
    pub fn from_filter(
        filter: &str,
        separator: char,
        one: &str,
        many: &str,
    ) -> Result<Self, PatternError> {
        let words = filter
            .split(separator)
            .map(|level| {
                if level == one {
                    PatternWord::One
                } else if level == many {
                    PatternWord::Many
                } else {
                    PatternWord::Exact(to_routing_key(level, separator))
                }
            })
            .collect();
        Self::new(words)
    }

    /// What an AMQP-syntax binding key matches: split on `.`, `*` is one word and `#`
    /// zero or more. No `$` rule (RabbitMQ has none).
    pub fn from_amqp_key(key: &str) -> Self {
        let words = split_words(key)
            .map(|w| match w {
                "*" => PatternWord::One,
                "#" => PatternWord::Many,
                w => PatternWord::Exact(w.to_string()),
            })
            .collect();
        Self {
            words,
            dollar_rule: false,
        }
    }

    pub fn words(&self) -> &[PatternWord] {
        &self.words
    }

    /// Whether the `$` rule applies: set, and the first element is a wildcard.
    pub fn skips_dollar_words(&self) -> bool {
        self.dollar_rule
            && matches!(
                self.words.first(),
                Some(PatternWord::One | PatternWord::Many)
            )
    }

    /// Whether the pattern matches a routing key given as words. Written for clarity
    /// (the routing table has its own trie); used by tests and by small lookups.
    pub fn matches<'a>(&self, key: impl IntoIterator<Item = &'a str>) -> bool {
        let key: Vec<&str> = key.into_iter().collect();
        if self.skips_dollar_words() && key.first().is_some_and(|w| w.starts_with('$')) {
            return false;
        }
        matches_from(&self.words, &key)
    }
}

/// Reference matching by trying what `Many` can absorb, with a table of
/// (pattern position, key position) pairs already known not to match so that it stays
/// polynomial.
fn matches_from(pattern: &[PatternWord], key: &[&str]) -> bool {
    let cols = key.len() + 1;
    // failed[i * cols + j]: pattern[i..] does not match key[j..].
    let mut failed = vec![false; (pattern.len() + 1) * cols];
    fn go(
        p: &[PatternWord],
        k: &[&str],
        i: usize,
        j: usize,
        cols: usize,
        failed: &mut [bool],
    ) -> bool {
        if failed[i * cols + j] {
            return false;
        }
        let ok = match p.get(i) {
            None => j == k.len(),
            Some(PatternWord::Many) => (j..=k.len()).any(|jj| go(p, k, i + 1, jj, cols, failed)),
            Some(PatternWord::One) => j < k.len() && go(p, k, i + 1, j + 1, cols, failed),
            Some(PatternWord::Exact(w)) => {
                k.get(j).is_some_and(|kw| kw == w) && go(p, k, i + 1, j + 1, cols, failed)
            }
        };
        if !ok {
            failed[i * cols + j] = true;
        }
        ok
    }
    go(pattern, key, 0, 0, cols, &mut failed)
}

impl fmt::Display for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            match w {
                PatternWord::One => f.write_str("*")?,
                PatternWord::Many => f.write_str("#")?,
                PatternWord::Exact(s) if s == "*" || s == "#" => write!(f, "\\{s}")?,
                PatternWord::Exact(s) => {
                    for part in s.split_inclusive('\\') {
                        f.write_str(part)?;
                        if part.ends_with('\\') {
                            f.write_str("\\")?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use PatternWord::{Exact, Many, One};

    fn ex(s: &str) -> PatternWord {
        Exact(s.to_string())
    }

    #[test]
    fn mapping_is_a_bijection_and_its_own_inverse() {
        assert_eq!(to_routing_key("a/b.c", '/'), "a.b/c");
        assert_eq!(to_routing_key("a.b/c", '/'), "a/b.c");
        for s in ["", "/", ".", "a//b", "$SYS/broker/uptime", "x.y.z", "ü/ß.∂"] {
            assert_eq!(to_routing_key(&to_routing_key(s, '/'), '/'), s);
        }
    }

    #[test]
    fn words_follow_rabbitmq() {
        assert_eq!(split_words("").count(), 0);
        assert_eq!(split_words("a..b").collect::<Vec<_>>(), ["a", "", "b"]);
        assert_eq!(split_words(".").collect::<Vec<_>>(), ["", ""]);
    }

    #[test]
    fn filters_map_levels_to_words() {
        let p = TopicPattern::from_filter("a/+/b.c/#", '/', "+", "#").unwrap();
        assert_eq!(p.words(), [ex("a"), One, ex("b/c"), Many]);
        assert!(p.matches(split_words(&to_routing_key("a/x/b.c/d/e", '/'))));
        assert!(!p.matches(split_words(&to_routing_key("a/x/b/c", '/'))));
        // A literal `*` level is not a wildcard.
        let star = TopicPattern::from_filter("a/*", '/', "+", "#").unwrap();
        assert!(star.matches(["a", "*"]));
        assert!(!star.matches(["a", "b"]));
        assert_eq!(
            TopicPattern::from_filter("", '/', "+", "#"),
            Err(PatternError::LoneEmptyWord)
        );
    }

    #[test]
    fn dollar_rule() {
        let all = TopicPattern::new(vec![Many]).unwrap();
        assert!(!all.matches(["$SYS", "uptime"]));
        assert!(all.matches(["SYS", "uptime"]));
        assert!(all.matches(std::iter::empty()));
        let one = TopicPattern::new(vec![One, ex("uptime")]).unwrap();
        assert!(!one.matches(["$SYS", "uptime"]));
        let explicit = TopicPattern::new(vec![ex("$SYS"), Many]).unwrap();
        assert!(explicit.matches(["$SYS", "uptime"]));
        // Only the first word counts.
        let second = TopicPattern::new(vec![ex("a"), One]).unwrap();
        assert!(second.matches(["a", "$x"]));
        let amqp = TopicPattern::from_amqp_key("#");
        assert!(amqp.matches(["$SYS", "uptime"]));
    }

    #[test]
    fn refuses_unmatchable_words() {
        assert!(matches!(
            TopicPattern::new(vec![ex("a.b")]),
            Err(PatternError::SeparatorInWord(_))
        ));
        assert!(TopicPattern::new(vec![ex(""), ex("")]).is_ok());
        assert!(TopicPattern::new(vec![]).is_ok());
    }

    #[test]
    fn display_is_readable_and_escapes() {
        let p = TopicPattern::new(vec![ex("a"), One, ex("*"), ex("#"), ex("x\\y"), Many]).unwrap();
        assert_eq!(p.to_string(), "a.*.\\*.\\#.x\\\\y.#");
        assert_eq!(TopicPattern::new(vec![]).unwrap().to_string(), "");
    }

    #[test]
    fn many_stays_polynomial() {
        let p = TopicPattern::new(vec![Many; 30].into_iter().chain([ex("z")]).collect()).unwrap();
        let key = vec!["w"; 200];
        assert!(!p.matches(key.iter().copied()));
    }
}
