//! Topic names, topic filters and shared subscription filters (spec §4.7, §4.8.2). The
//! decoder calls these on every topic it reads; the session calls [`parse_shared`] to
//! split a `$share/{ShareName}/{filter}` subscription.
//!
//! Statement numbers differ between the versions: the wildcard rules are v5
//! [MQTT-4.7.0-1], [MQTT-4.7.1-1], [MQTT-4.7.1-2] and 3.1.1 [MQTT-4.7.1-1],
//! [MQTT-4.7.1-2], [MQTT-4.7.1-3]; the length rules are [MQTT-4.7.3-1..3] in both.

use std::fmt;

/// What is wrong with a topic name or filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicError {
    /// [MQTT-4.7.3-1]: at least one character.
    Empty,
    /// A topic name contains `+` or `#` (v5 [MQTT-4.7.0-1], [MQTT-3.3.2-2]).
    WildcardInName,
    /// `#` not alone in the last level (v5 [MQTT-4.7.1-1]).
    MultiLevelMisplaced,
    /// `+` sharing its level with other characters (v5 [MQTT-4.7.1-2]).
    SingleLevelMisplaced,
    /// `$share/` without a share name ([MQTT-4.8.2-1]).
    EmptyShareName,
    /// A share name containing `+` or `#` ([MQTT-4.8.2-2]).
    WildcardInShareName,
    /// `$share/{ShareName}` not followed by `/` and a filter ([MQTT-4.8.2-2]).
    MissingSharedFilter,
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty",
            Self::WildcardInName => "wildcard characters are not allowed in a topic name",
            Self::MultiLevelMisplaced => "'#' must be the whole last level",
            Self::SingleLevelMisplaced => "'+' must be a whole level",
            Self::EmptyShareName => "shared subscription without a share name",
            Self::WildcardInShareName => "share name contains '+' or '#'",
            Self::MissingSharedFilter => "shared subscription without a topic filter",
        })
    }
}

/// Checks a topic name: non-empty, no wildcards. UTF-8 and U+0000 were checked when the
/// string was read. The empty name of a PUBLISH that uses a topic alias is the caller's
/// special case, not ours.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    if name.is_empty() {
        return Err(TopicError::Empty);
    }
    if name.bytes().any(|b| b == b'+' || b == b'#') {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Checks a topic filter, shared or not: wildcards each a whole level, `#` last.
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    match parse_shared(filter)? {
        Some(shared) => check_plain_filter(shared.filter),
        None => check_plain_filter(filter),
    }
}

fn check_plain_filter(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::Empty);
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(TopicError::MultiLevelMisplaced);
        }
        if level.contains('+') && level != "+" {
            return Err(TopicError::SingleLevelMisplaced);
        }
    }
    Ok(())
}

/// A `$share/{ShareName}/{filter}` subscription, split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedFilter<'a> {
    /// The group the subscription belongs to.
    pub share_name: &'a str,
    /// The filter matched against topic names (may itself start with `/`).
    pub filter: &'a str,
}

/// The prefix that marks a shared subscription (§4.8.2).
pub const SHARE_PREFIX: &str = "$share/";

/// Splits a shared subscription filter. `Ok(None)` for a filter that is not shared;
/// an error for one that starts with `$share/` but is not a valid shared filter
/// ([MQTT-4.8.2-1], [MQTT-4.8.2-2]). The `{filter}` part is returned unchecked: use
/// [`validate_topic_filter`] on the whole string to check both.
///
/// A bare `$share` (no slash) is an ordinary filter, as the spec defines the prefix
/// with its slash.
pub fn parse_shared(filter: &str) -> Result<Option<SharedFilter<'_>>, TopicError> {
    let Some(rest) = filter.strip_prefix(SHARE_PREFIX) else {
        return Ok(None);
    };
    let Some((share_name, inner)) = rest.split_once('/') else {
        return Err(if rest.is_empty() {
            TopicError::EmptyShareName
        } else if rest.contains(['+', '#']) {
            TopicError::WildcardInShareName
        } else {
            TopicError::MissingSharedFilter
        });
    };
    if share_name.is_empty() {
        return Err(TopicError::EmptyShareName);
    }
    if share_name.contains(['+', '#']) {
        return Err(TopicError::WildcardInShareName);
    }
    if inner.is_empty() {
        return Err(TopicError::MissingSharedFilter);
    }
    Ok(Some(SharedFilter {
        share_name,
        filter: inner,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names() {
        assert_eq!(validate_topic_name("a/b/c"), Ok(()));
        assert_eq!(validate_topic_name("/"), Ok(()));
        assert_eq!(validate_topic_name("$SYS/x"), Ok(()));
        assert_eq!(validate_topic_name("a b"), Ok(()));
        assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
        assert_eq!(validate_topic_name("a/+"), Err(TopicError::WildcardInName));
        assert_eq!(validate_topic_name("a#"), Err(TopicError::WildcardInName));
    }

    #[test]
    fn topic_filters_from_the_spec_examples() {
        for ok in [
            "#",
            "sport/tennis/#",
            "+",
            "+/tennis/#",
            "sport/+/player1",
            "/+",
            "+/+",
            "/",
            "a//b",
            "$SYS/#",
        ] {
            assert_eq!(validate_topic_filter(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("sport/tennis#", TopicError::MultiLevelMisplaced),
            ("sport/tennis/#/ranking", TopicError::MultiLevelMisplaced),
            ("a/#/b", TopicError::MultiLevelMisplaced),
            ("#/", TopicError::MultiLevelMisplaced),
            ("sport+", TopicError::SingleLevelMisplaced),
            ("a+", TopicError::SingleLevelMisplaced),
            ("a/+b/c", TopicError::SingleLevelMisplaced),
            ("", TopicError::Empty),
        ] {
            assert_eq!(validate_topic_filter(bad), Err(why), "{bad}");
        }
    }

    #[test]
    fn shared_subscriptions() {
        assert_eq!(
            parse_shared("$share/consumer1/sport/tennis/+"),
            Ok(Some(SharedFilter {
                share_name: "consumer1",
                filter: "sport/tennis/+"
            }))
        );
        // The spec's own example: the filter after the share name is "/finance".
        assert_eq!(
            parse_shared("$share/consumer1//finance"),
            Ok(Some(SharedFilter {
                share_name: "consumer1",
                filter: "/finance"
            }))
        );
        assert_eq!(parse_shared("sport/#"), Ok(None));
        assert_eq!(parse_shared("$share"), Ok(None));
        assert_eq!(parse_shared("$share/"), Err(TopicError::EmptyShareName));
        assert_eq!(parse_shared("$share//a"), Err(TopicError::EmptyShareName));
        assert_eq!(
            parse_shared("$share/g"),
            Err(TopicError::MissingSharedFilter)
        );
        assert_eq!(
            parse_shared("$share/g/"),
            Err(TopicError::MissingSharedFilter)
        );
        assert_eq!(
            parse_shared("$share/g+/a"),
            Err(TopicError::WildcardInShareName)
        );
        assert_eq!(
            parse_shared("$share/#"),
            Err(TopicError::WildcardInShareName)
        );
        assert_eq!(
            validate_topic_filter("$share/g/a/#/b"),
            Err(TopicError::MultiLevelMisplaced)
        );
        assert_eq!(validate_topic_filter("$share/g/#"), Ok(()));
    }
}
