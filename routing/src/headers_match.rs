//! The headers exchange's matcher.
//!
//! A binding's arguments are the pattern. `x-match` says how its entries combine:
//! `all` (the default) or `any`, which ignore every other argument whose name starts
//! with `x-`, and `all-with-x` / `any-with-x`, which match those too. `x-match` itself
//! is never matched. An argument of type void matches when the header is present with
//! any value; other arguments match a header of equal value ([`FieldValue::matches`]).
//! `all` with nothing left to match accepts every message, `any` with nothing accepts
//! none. Only the first occurrence of a repeated message header is looked at.

use trident_core::{FieldTable, FieldValue};

const X_MATCH: &str = "x-match";

/// A binding's arguments compiled for matching.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HeadersPattern {
    any: bool,
    /// Header name and required value; `None` requires presence only.
    conditions: Vec<(String, Option<FieldValue>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    Any,
    AllWithX,
    AnyWithX,
}

fn parse_mode(value: &FieldValue) -> Option<Mode> {
    Some(match value.as_str()? {
        "all" => Mode::All,
        "any" => Mode::Any,
        "all-with-x" => Mode::AllWithX,
        "any-with-x" => Mode::AnyWithX,
        _ => return None,
    })
}

/// Refuses an `x-match` that is not one of the four modes, as RabbitMQ does at bind time.
pub(crate) fn validate(args: &FieldTable) -> Result<(), String> {
    match args.get(X_MATCH) {
        None => Ok(()),
        Some(v) if parse_mode(v).is_some() => Ok(()),
        Some(v) if v.as_str().is_some() => Err(format!(
            "invalid x-match field value {v:?}; expected all, any, all-with-x, or any-with-x"
        )),
        Some(v) => Err(format!(
            "invalid x-match field type {v:?}; expected a string"
        )),
    }
}

impl HeadersPattern {
    /// Compiles binding arguments. An invalid `x-match` (only possible if [`validate`]
    /// was skipped) falls back to `all`, as RabbitMQ does for bindings it never
    /// validated.
    pub(crate) fn compile(args: &FieldTable) -> Self {
        let mode = args.get(X_MATCH).and_then(parse_mode).unwrap_or(Mode::All);
        let with_x = matches!(mode, Mode::AllWithX | Mode::AnyWithX);
        let conditions = args
            .iter()
            .filter(|(name, _)| *name != X_MATCH && (with_x || !name.starts_with("x-")))
            .map(|(name, value)| {
                let required = match value {
                    FieldValue::Void => None,
                    other => Some(other.clone()),
                };
                (name.to_string(), required)
            })
            .collect();
        Self {
            any: matches!(mode, Mode::Any | Mode::AnyWithX),
            conditions,
        }
    }

    pub(crate) fn matches(&self, headers: &FieldTable) -> bool {
        let holds = |(name, required): &(String, Option<FieldValue>)| {
            headers.get(name).is_some_and(|actual| match required {
                None => true,
                Some(value) => value.matches(actual),
            })
        };
        if self.any {
            self.conditions.iter().any(holds)
        } else {
            self.conditions.iter().all(holds)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, FieldValue)]) -> FieldTable {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn s(v: &str) -> FieldValue {
        FieldValue::LongString(v.into())
    }

    #[test]
    fn x_match_validation() {
        assert!(validate(&table(&[])).is_ok());
        for mode in ["all", "any", "all-with-x", "any-with-x"] {
            assert!(validate(&table(&[("x-match", s(mode))])).is_ok());
        }
        assert!(
            validate(&table(&[(
                "x-match",
                FieldValue::ShortString("any".into())
            )]))
            .is_ok()
        );
        assert!(validate(&table(&[("x-match", s("some"))])).is_err());
        assert!(validate(&table(&[("x-match", FieldValue::I32(1))])).is_err());
    }

    #[test]
    fn all_and_any() {
        let all = HeadersPattern::compile(&table(&[("a", s("1")), ("b", s("2"))]));
        let any = HeadersPattern::compile(&table(&[
            ("x-match", s("any")),
            ("a", s("1")),
            ("b", s("2")),
        ]));
        let both = table(&[("b", s("2")), ("a", s("1")), ("c", s("3"))]);
        let one = table(&[("a", s("1")), ("b", s("3"))]);
        let none = table(&[]);
        assert!(all.matches(&both));
        assert!(!all.matches(&one));
        assert!(!all.matches(&none));
        assert!(any.matches(&both));
        assert!(any.matches(&one));
        assert!(!any.matches(&none));
    }

    #[test]
    fn empty_patterns() {
        let all = HeadersPattern::compile(&table(&[]));
        let any = HeadersPattern::compile(&table(&[("x-match", s("any"))]));
        assert!(all.matches(&table(&[])));
        assert!(all.matches(&table(&[("a", s("1"))])));
        assert!(!any.matches(&table(&[("a", s("1"))])));
        // x- arguments do not count for plain all/any, so these are empty patterns too.
        let all_x_only = HeadersPattern::compile(&table(&[("x-a", s("1"))]));
        assert!(all_x_only.matches(&table(&[])));
        let any_x_only = HeadersPattern::compile(&table(&[("x-match", s("any")), ("x-a", s("1"))]));
        assert!(!any_x_only.matches(&table(&[("x-a", s("1"))])));
    }

    #[test]
    fn with_x_variants_match_x_headers_but_never_x_match() {
        let all_x =
            HeadersPattern::compile(&table(&[("x-match", s("all-with-x")), ("x-a", s("1"))]));
        assert!(all_x.matches(&table(&[("x-a", s("1"))])));
        assert!(!all_x.matches(&table(&[("x-a", s("2"))])));
        assert!(!all_x.matches(&table(&[])));
        let any_x = HeadersPattern::compile(&table(&[("x-match", s("any-with-x"))]));
        // x-match is not a condition, so nothing is left and `any` matches nothing.
        assert!(!any_x.matches(&table(&[("x-match", s("any-with-x"))])));
    }

    #[test]
    fn void_means_present() {
        let p = HeadersPattern::compile(&table(&[("a", FieldValue::Void)]));
        assert!(p.matches(&table(&[("a", s("anything"))])));
        assert!(p.matches(&table(&[("a", FieldValue::Void)])));
        assert!(!p.matches(&table(&[("b", s("x"))])));
    }

    #[test]
    fn value_comparison() {
        let p = HeadersPattern::compile(&table(&[("a", FieldValue::ShortString("v".into()))]));
        assert!(
            p.matches(&table(&[("a", s("v"))])),
            "string kinds compare by text"
        );
        let n = HeadersPattern::compile(&table(&[("n", FieldValue::I32(5))]));
        assert!(n.matches(&table(&[("n", FieldValue::I32(5))])));
        assert!(!n.matches(&table(&[("n", FieldValue::I32(6))])));
        assert!(!n.matches(&table(&[("n", s("5"))])));
        // First occurrence of a repeated header decides.
        assert!(n.matches(&table(&[
            ("n", FieldValue::I32(5)),
            ("n", FieldValue::I32(6))
        ])));
        assert!(!n.matches(&table(&[
            ("n", FieldValue::I32(6)),
            ("n", FieldValue::I32(5))
        ])));
    }
}
