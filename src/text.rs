//! Wording shared by the CLI's output, progress lines and errors.

/// A count with its noun, plural unless it is one, thousands grouped:
/// `1 step`, `3 steps`, `0 failing rows`, `9,854,958 orders`.
pub fn count(n: u64, noun: &str) -> String {
    format!(
        "{} {noun}{}",
        group_thousands(&n.to_string()),
        if n == 1 { "" } else { "s" }
    )
}

/// Names as code, in backticks, separated by commas: `` `a`, `b` ``.
pub fn code_list<S: std::fmt::Display>(names: impl IntoIterator<Item = S>) -> String {
    names
        .into_iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A run of digits with its thousands grouped: `9854958` → `9,854,958`.
pub fn group_thousands(digits: &str) -> String {
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1, "step"), "1 step");
        assert_eq!(count(0, "failing row"), "0 failing rows");
        assert_eq!(count(3, "problem"), "3 problems");
    }

    #[test]
    fn names_are_listed_as_code() {
        assert_eq!(code_list(["a"]), "`a`");
        assert_eq!(
            code_list(["order_ts", "survey_ts"]),
            "`order_ts`, `survey_ts`"
        );
        assert_eq!(code_list(Vec::<String>::new()), "");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(count(999, "row"), "999 rows");
        assert_eq!(count(1000, "row"), "1,000 rows");
        assert_eq!(count(9_854_958, "order"), "9,854,958 orders");
        assert_eq!(count(100_000, "customer"), "100,000 customers");
    }
}
