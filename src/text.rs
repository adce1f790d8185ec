//! Wording shared by the CLI's output, progress lines and errors.

/// A count with its noun, plural unless it is one: `1 step`, `3 steps`,
/// `0 failing rows`.
pub fn count(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
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
}
