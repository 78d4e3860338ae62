//! Topic names and topic filters (section 4.7): validity and matching.

/// Why a topic name is not acceptable, or `None` when it is.
pub fn topic_name_problem(topic: &str) -> Option<&'static str> {
    if topic.is_empty() {
        Some("empty topic name")
    } else if topic.contains(['+', '#']) {
        Some("wildcard in topic name")
    } else {
        None
    }
}

/// Whether `filter` is a valid topic filter (`+` alone in a level, `#` alone and last).
pub fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i != levels.len() - 1) {
            return false;
        }
        if level.contains('+') && *level != "+" {
            return false;
        }
    }
    true
}

/// A shared subscription `$share/{group}/{filter}` split into (group, filter).
pub fn shared_subscription(filter: &str) -> Option<(&str, &str)> {
    let rest = filter.strip_prefix("$share/")?;
    let (group, f) = rest.split_once('/')?;
    Some((group, f))
}

/// Whether topic name `topic` matches `filter`. Topics starting with `$` are not matched by a filter
/// starting with a wildcard (MQTT-4.7.2-1).
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_follows_section_4_7() {
        assert!(matches("clients/+/status", "clients/sensor1/status"));
        assert!(!matches("clients/+/status", "clients/sensor1/x/status"));
        assert!(matches("sport/#", "sport"));
        assert!(matches("sport/#", "sport/tennis/player1"));
        assert!(matches("#", "a/b"));
        assert!(!matches("#", "$SYS/x"));
        assert!(!matches("+/x", "$SYS/x"));
        assert!(matches("$SYS/#", "$SYS/x"));
        assert!(matches("+", ""));
        assert!(matches("/+", "/x"));
        assert!(!matches("a", "a/b"));
        assert!(!matches("a/b", "a"));
        assert!(matches("+/+", "/"));
    }

    #[test]
    fn filter_validity() {
        for ok in ["#", "+", "a/+/b", "a/#", "+/+", "/"] {
            assert!(valid_filter(ok), "{ok}");
        }
        for bad in ["", "a#", "a/#/b", "a+", "a/b+/c", "##"] {
            assert!(!valid_filter(bad), "{bad}");
        }
        assert_eq!(topic_name_problem("a/+"), Some("wildcard in topic name"));
        assert_eq!(topic_name_problem(""), Some("empty topic name"));
        assert_eq!(topic_name_problem("a/b"), None);
    }
}
