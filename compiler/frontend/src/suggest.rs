//! "Did you mean" suggestions by edit distance.

/// Levenshtein distance between two identifiers (by characters).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate within a third of the name's length (at least 1),
/// ties broken by the order of `candidates`; failing that, the closest
/// candidate that differs by a `_suffix` (`sqrt_rn` for `sqrt`,
/// `BLOCK_SIZE` for `BLOCK`), a common way of misremembering a name.
pub(crate) fn best_match<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    let mut affixed: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let d = edit_distance(name, c);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
        let extends = |long: &str, short: &str| long.strip_prefix(short).is_some_and(|rest| rest.starts_with('_'));
        if (extends(name, c) || extends(c, name)) && affixed.is_none_or(|(ad, _)| d < ad) {
            affixed = Some((d, c));
        }
    }
    best.or(affixed).map(|(_, c)| c)
}

/// `did you mean `x`?` help text, if a candidate is close.
pub(crate) fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    best_match(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("offs", "offs"), 0);
    }

    #[test]
    fn suggestions() {
        assert_eq!(best_match("ofs", ["mask", "offs"]), Some("offs"));
        assert_eq!(best_match("BLOCK_M", ["BLOCK_N", "BLOCK_K"]), Some("BLOCK_N"));
        assert_eq!(best_match("zzz", ["mask", "offs"]), None);
        assert_eq!(best_match("sqrt_rn", ["exp", "sqrt", "rsqrt"]), Some("sqrt"));
        assert_eq!(best_match("BLOCK_SIZE", ["BLOCK", "warps", "stages"]), Some("BLOCK"));
        assert_eq!(best_match("BLOCK", ["BLOCK_M", "BLOCK_MN"]), Some("BLOCK_M"));
        assert_eq!(best_match("BLOCKS", ["BLOCK_SIZE"]), None);
    }
}
