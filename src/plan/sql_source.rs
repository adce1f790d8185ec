//! Where in its file a step's SQL went wrong. DataFusion points into the SQL
//! it was given, the rendered text; a step's file is a template whose
//! `{%- … %}` tags, `{% set %}` blocks and macros add and remove lines. The
//! rendered lines are aligned with the file's (a line diff) to name the
//! file's line, and the rendered line is shown under the message with the
//! place marked.

use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use similar::{DiffOp, capture_diff_slices};

/// A place in the rendered SQL: 1-based line, and 1-based columns counted
/// in characters, `end` after the last one marked (on the same line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    pub end: Option<usize>,
}

/// What DataFusion said of a step's SQL, in words a user reads, and where
/// in the rendered SQL it points, when it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlProblem {
    pub message: String,
    pub at: Option<Position>,
}

/// The message, and the place in words: `… (line 2, column 18 of the SQL)`,
/// for SQL with no file to point into (a check's).
impl std::fmt::Display for SqlProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(at) = self.at {
            write!(f, " (line {}, column {} of the SQL)", at.line, at.column)?;
        }
        Ok(())
    }
}

/// The suffix sqlparser gives a syntax error's message.
const AT_LINE: &str = " at Line: ";

impl SqlProblem {
    /// A syntax error reads `SQL syntax error: Expected: …, found: …`
    /// (sqlparser's words, without the `SQL error: ParserError("…")`
    /// around them); a planning error keeps DataFusion's message. The place
    /// is the span DataFusion attaches (with `sql_parser.collect_spans`),
    /// or for a syntax error without one, the line and column its message
    /// ends with.
    pub fn of(e: &DataFusionError) -> SqlProblem {
        let span = e.diagnostic().and_then(|d| d.span).and_then(|s| {
            let (line, column) = (s.start.line as usize, s.start.column as usize);
            (line > 0 && column > 0).then(|| Position {
                line,
                column,
                end: (s.end.line == s.start.line && s.end.column > s.start.column)
                    .then_some(s.end.column as usize),
            })
        });
        let Some(syntax) = syntax_error(e) else {
            return SqlProblem {
                message: e.strip_backtrace(),
                at: span,
            };
        };
        let (text, written_at) = match syntax.rfind(AT_LINE) {
            Some(i) => (
                &syntax[..i],
                parse_line_column(&syntax[i + AT_LINE.len()..]),
            ),
            None => (syntax, None),
        };
        SqlProblem {
            message: format!("SQL syntax error: {text}"),
            at: span.or(written_at),
        }
    }

    /// [`SqlProblem::of`] an error on `sql`, placed, where DataFusion gives
    /// no span, at the one literal of `sql` its message quotes: a constant
    /// that cannot be worked out (`Cannot cast string '2026-13-01' to value
    /// of Date32 type`) is a literal written somewhere in the step.
    pub fn in_sql(e: &DataFusionError, sql: &str) -> SqlProblem {
        let mut problem = SqlProblem::of(e);
        if problem.at.is_none() {
            problem.at = literal_quoted(&problem.message, sql);
        }
        problem
    }
}

/// Where `sql` has a string literal whose text `message` quotes (in single
/// or double quotes), if it has just one such literal.
fn literal_quoted(message: &str, sql: &str) -> Option<Position> {
    let quoted = ['\'', '"']
        .into_iter()
        .flat_map(|q| message.split(q).skip(1).step_by(2))
        .filter(|text| !text.is_empty());
    let mut found: Vec<(usize, usize)> = Vec::new();
    for text in quoted {
        let literal = format!("'{}'", text.replace('\'', "''"));
        found.extend(sql.match_indices(&literal).map(|(at, l)| (at, l.len())));
    }
    found.sort();
    found.dedup();
    let [(at, len)] = found[..] else {
        return None;
    };
    let before = &sql[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Some(Position {
        line: before.matches('\n').count() + 1,
        column,
        end: Some(column + sql[at..at + len].chars().count()),
    })
}

/// The text of a syntax error, however DataFusion wraps it.
fn syntax_error(e: &DataFusionError) -> Option<&str> {
    match e {
        DataFusionError::SQL(p, _) => match p.as_ref() {
            ParserError::ParserError(m) | ParserError::TokenizerError(m) => Some(m),
            ParserError::RecursionLimitExceeded => None,
        },
        DataFusionError::Diagnostic(_, inner) | DataFusionError::Context(_, inner) => {
            syntax_error(inner)
        }
        DataFusionError::Shared(inner) => syntax_error(inner),
        _ => None,
    }
}

/// `32, Column: 1` as sqlparser writes a place.
fn parse_line_column(text: &str) -> Option<Position> {
    let (line, column) = text.split_once(", Column: ")?;
    let column: String = column.chars().take_while(char::is_ascii_digit).collect();
    let (line, column) = (line.trim().parse().ok()?, column.parse().ok()?);
    (line > 0 && column > 0).then_some(Position {
        line,
        column,
        end: None,
    })
}

/// A step's SQL as written (`template`) and as rendered.
pub struct SqlText<'a> {
    /// The file the SQL is written in: its own, or the pipeline file for
    /// SQL written there; None where its lines there cannot be told.
    pub file: Option<&'a str>,
    /// Whether the SQL is written in the pipeline file.
    pub inline: bool,
    /// What the SQL is of, for messages: `step`, `check`.
    pub what: &'a str,
    /// The step's or check's `file:line:column` in the pipeline file.
    pub at: &'a str,
    /// The SQL as written, each line as in the file from column
    /// `indent + 1` of line `first_line` on; for a folded block, as YAML
    /// reads it (`folded` holds its lines as written).
    pub template: &'a str,
    /// A folded block's (`sql: >`) lines as written, which YAML joins.
    pub folded: Option<&'a str>,
    pub first_line: usize,
    pub indent: usize,
    pub rendered: &'a str,
}

impl<'a> SqlText<'a> {
    /// SQL written in the pipeline file, as a step's or a check's `sql:`:
    /// where its lines there are known (`written`), placed in them; else
    /// counted from its own first line.
    pub fn in_pipeline(
        what: &'a str,
        at: &'a str,
        written: Option<&'a crate::spec::WrittenValue>,
        template: &'a str,
        rendered: &'a str,
    ) -> Self {
        let (file, first_line, indent) = match written {
            Some(w) => (Some(w.file.as_str()), w.line, w.indent),
            None => (None, 1, 0),
        };
        SqlText {
            file,
            inline: true,
            what,
            at,
            // A folded block's lines are aligned with the value YAML read.
            template: match written {
                Some(w) if !w.folded => w.text.as_str(),
                _ => template,
            },
            folded: written.filter(|w| w.folded).map(|w| w.text.as_str()),
            first_line,
            indent,
            rendered,
        }
    }

    /// Where to fix the step's SQL, for an error found planning or running
    /// it: `SQL from FILE:LINE:COLUMN`, or for SQL in the pipeline file
    /// `the step's SQL is at P:LINE:COLUMN` (`at P:L:C, its line N` where
    /// its lines there cannot be told); and with a place, the rendered line
    /// with the place marked.
    pub fn place(&self, at: Option<Position>) -> (String, Option<String>) {
        let located = self.locate(at);
        let (origin, snippet) = self.origin_of(located);
        let place = match (self.inline, self.file, located) {
            (false, _, _) => format!("SQL from {origin}"),
            (true, Some(_), Some(_)) => format!("the {}'s SQL is at {origin}", self.what),
            (true, None, Some(Located { line, .. })) => {
                format!("the {}'s SQL is at {}, its line {line}", self.what, self.at)
            }
            (true, _, None) => format!("the {}'s SQL is at {}", self.what, self.at),
        };
        (place, snippet)
    }

    /// `message` and where to fix it: `MESSAGE (PLACE)`, as [`SqlText::place`]
    /// gives it, with the line shown below where there is one.
    pub fn explain(&self, message: &str, at: Option<Position>) -> String {
        let (place, snippet) = self.place(at);
        let snippet = snippet.map(|s| format!("\n{s}")).unwrap_or_default();
        format!("{message} ({place}){snippet}")
    }

    /// Where the step's SQL is, for a message that names the step's line in
    /// the pipeline file already: `FILE:LINE:COLUMN`; for SQL written in
    /// the pipeline file without a place, `inline SQL`, and where its lines
    /// there cannot be told, `inline SQL, its line N`. The column is given
    /// where the file's line is the line rendered (no template expression
    /// on it), so that it counts in the file.
    pub fn origin(&self, at: Option<Position>) -> (String, Option<String>) {
        self.origin_of(self.locate(at))
    }

    /// [`SqlText::origin`] of a place [`SqlText::locate`] found.
    fn origin_of(&self, located: Option<Located<'_>>) -> (String, Option<String>) {
        let Some(Located {
            at,
            line,
            exact,
            shown,
        }) = located
        else {
            let origin = match self.file {
                Some(file) if !self.inline => file,
                _ => super::INLINE_SQL,
            };
            return (origin.to_string(), None);
        };
        let origin = match (self.file, exact) {
            (Some(file), true) => format!("{file}:{line}:{}", at.column + self.indent),
            (Some(file), false) => format!("{file}:{line}"),
            (None, _) => format!("{}, its line {line}", super::INLINE_SQL),
        };
        (origin, Some(snippet(shown, line, exact, at)))
    }

    /// A place in the SQL, with the file's line it is on (the template's,
    /// where the file is not known) and whether that line is as rendered.
    fn locate(&self, at: Option<Position>) -> Option<Located<'_>> {
        let at = at.filter(|p| p.line <= self.rendered.lines().count())?;
        let (line, exact) = self.template_line(at.line);
        let rendered = self.rendered.lines().nth(at.line - 1).unwrap_or_default();
        let located = Located {
            at,
            line: line + self.first_line - 1,
            exact,
            shown: rendered,
        };
        // A folded block: the line YAML joined is placed in the file's
        // lines it was joined from.
        let Some(written) = self.folded else {
            return Some(located);
        };
        let lines: Vec<&str> = written.lines().collect();
        let folds = fold(&lines);
        let joined: Vec<String> = (folds.iter())
            .map(|f| {
                f.iter()
                    .map(|&(i, _)| lines[i])
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        if joined.join("\n") != self.template.trim_end() {
            // Folded in a way not followed here: the block's first line.
            return Some(Located {
                line: self.first_line,
                exact: false,
                ..located
            });
        }
        let Some(pieces) = folds.get(line - 1) else {
            return Some(located);
        };
        let Some(&(first, _)) = pieces.first() else {
            return Some(located);
        };
        if !exact {
            return Some(Located {
                line: self.first_line + first,
                ..located
            });
        }
        let &(i, start) = (pieces.iter().rev())
            .find(|(_, start)| *start < at.column)
            .unwrap_or(&pieces[0]);
        let written_line = lines[i];
        let width = written_line.chars().count() + 1;
        let column = (at.column - start).min(width);
        Some(Located {
            at: Position {
                line: at.line,
                column,
                end: at.end.map(|e| e.saturating_sub(start).clamp(column, width)),
            },
            line: self.first_line + i,
            exact: true,
            shown: written_line,
        })
    }

    /// The template's line (1-based) that rendered line `line` came from,
    /// and whether it is that line unchanged.
    fn template_line(&self, line: usize) -> (usize, bool) {
        let old: Vec<&str> = self.template.lines().collect();
        let new: Vec<&str> = self.rendered.lines().collect();
        let i = line - 1;
        for op in capture_diff_slices(similar::Algorithm::Myers, &old, &new) {
            let (old_start, old_len) = (op.old_range().start, op.old_range().len());
            let new_range = op.new_range();
            if !new_range.contains(&i) {
                continue;
            }
            let offset = i - new_range.start;
            return match op {
                DiffOp::Equal { .. } => (old_start + offset + 1, true),
                // A line made of the template's line: the expression or
                // tag on it (`{{ … }}`, a macro call) changed it, or moved
                // the lines after it.
                _ if old_len > 0 => (old_start + offset.min(old_len - 1) + 1, false),
                _ => (old_start.max(1), false),
            };
        }
        (line, false)
    }
}

/// A place [`SqlText::locate`] found: the place, the file's line, whether
/// the line shown is that line as written, and the line to show.
#[derive(Clone, Copy)]
struct Located<'a> {
    at: Position,
    line: usize,
    exact: bool,
    shown: &'a str,
}

/// How YAML folds a block's `lines` (`>`): for each line of the value, the
/// lines joined into it (by a space), each with the character it starts at
/// in the value's line. Lines of text at the block's indentation next to
/// each other are joined; a blank line between them ends the value's line
/// (more blank lines each add an empty one); a more indented line keeps its
/// own line and the line breaks around it.
fn fold(lines: &[&str]) -> Vec<Vec<(usize, usize)>> {
    let mut out: Vec<Vec<(usize, usize)>> = Vec::new();
    let (mut blanks, mut last_indented) = (0usize, false);
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            blanks += 1;
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        match out.last_mut() {
            Some(last) if blanks == 0 && !indented && !last_indented => {
                let &(j, start) = last.last().expect("a line has pieces");
                last.push((i, start + lines[j].chars().count() + 1));
            }
            previous => {
                // Between lines of text at the block's indentation the first
                // line break folds away; next to an indented line it stays.
                let folded_away = previous.is_some() && !indented && !last_indented;
                let empty = blanks.saturating_sub(usize::from(folded_away && blanks > 0));
                out.extend((0..empty).map(|_| Vec::new()));
                out.push(vec![(i, 0)]);
            }
        }
        (blanks, last_indented) = (0, indented);
    }
    out
}

/// The rendered line under a gutter with the file's line number, and a line
/// marking the place: `   14 | …` then `      |    ^^^^`. A line the
/// template changed says it is shown as rendered.
fn snippet(rendered: &str, line: usize, exact: bool, at: Position) -> String {
    const MAX: usize = 160;
    let chars: Vec<char> = rendered.chars().collect();
    // A long line (a macro's expansion) is shown around the place.
    let skip = at.column.saturating_sub(1).saturating_sub(MAX / 2);
    let skip = if chars.len() > MAX { skip } else { 0 };
    let shown: String = chars.iter().skip(skip).take(MAX).collect();
    let lead = if skip > 0 { "…" } else { "" };
    let tail = if chars.len() > skip + MAX { "…" } else { "" };
    let gutter = line.to_string();
    let blank = " ".repeat(gutter.len());
    // The marker keeps the line's tabs, so it lines up under them.
    let before: String = (chars.iter().skip(skip))
        .take(at.column.saturating_sub(1 + skip))
        .map(|c| if *c == '\t' { '\t' } else { ' ' })
        .collect();
    let width = at
        .end
        .map_or(1, |end| end.saturating_sub(at.column))
        .clamp(1, MAX);
    let note = if exact { "" } else { "  (as rendered)" };
    format!(
        "    {gutter} | {lead}{shown}{tail}{note}\n    {blank} | {}{before}{}",
        if lead.is_empty() { "" } else { " " },
        "^".repeat(width)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    fn pos(line: usize, column: usize, end: Option<usize>) -> Position {
        Position { line, column, end }
    }

    #[test]
    fn a_syntax_error_reads_as_sqlparser_words_with_its_place() {
        let e = datafusion::sql::parser::DFParser::parse_sql("SELECT a\nFROM t\nGROUP  BYY a")
            .unwrap_err();
        let p = SqlProblem::of(&e);
        assert_eq!(
            p.message,
            "SQL syntax error: Expected: end of statement, found: GROUP"
        );
        assert_eq!(p.at.map(|a| (a.line, a.column)), Some((3, 1)));
        // The place as only the text gives it.
        assert_eq!(parse_line_column("32, Column: 1"), Some(pos(32, 1, None)));
        assert_eq!(parse_line_column("x, Column: 1"), None);
    }

    #[tokio::test]
    async fn a_planning_error_points_at_the_column_named() {
        let mut config = datafusion::prelude::SessionConfig::new();
        config.options_mut().sql_parser.collect_spans = true;
        let ctx = SessionContext::new_with_config(config);
        ctx.sql("CREATE TABLE t AS VALUES (1, 2)").await.unwrap();
        let e = ctx
            .sql("SELECT column1,\n       colum2 + 1 AS b\nFROM t")
            .await
            .unwrap_err();
        let p = SqlProblem::of(&e);
        assert!(p.message.contains("No field named colum2"), "{}", p.message);
        assert_eq!(p.at, Some(pos(2, 8, Some(14))));
    }

    #[tokio::test]
    async fn a_constant_that_cannot_be_worked_out_is_placed_at_its_literal() {
        let ctx = SessionContext::new();
        let optimized = |sql: &'static str| {
            let ctx = ctx.clone();
            async move {
                let df = ctx.sql(sql).await?;
                ctx.state().optimize(df.logical_plan())
            }
        };
        let sql = "SELECT 1 AS a,\n  CAST('2026-13-01' AS DATE) AS b";
        let p = SqlProblem::in_sql(&optimized(sql).await.unwrap_err(), sql);
        assert!(p.message.contains("'2026-13-01'"), "{}", p.message);
        assert_eq!(p.at, Some(pos(2, 8, Some(20))));
        // Two such literals: no place rather than the wrong one.
        let sql = "SELECT CAST('x' AS INT) AS a, 'x' AS b";
        let p = SqlProblem::in_sql(&optimized(sql).await.unwrap_err(), sql);
        assert_eq!(p.at, None);
        // A message quoting no literal of the SQL is not placed.
        assert_eq!(literal_quoted("Divide by zero error", "SELECT 1 / 0"), None);
        assert_eq!(
            literal_quoted(
                "Invalid input syntax for type interval: \"x days\"",
                "SELECT\n INTERVAL 'x days'"
            ),
            Some(pos(2, 11, Some(19)))
        );
    }

    #[test]
    fn a_rendered_line_is_named_by_the_file_line_it_came_from() {
        // Two tag lines the `{%-` pulls onto the line before, and a macro
        // call that renders as three lines: rendered line 2 is file line 4,
        // and the macro's lines 3 to 5 come from its call on line 5.
        let template = "-- top\n{%- set x = 1 %}\n{%- set y = 2 %}\nSELECT a,\n  {{ cols() }}\n  FROM t\nWHERE b = {{ x }}\n";
        let rendered = "-- top\nSELECT a,\n  c1,\n  c2,\n  c3\n  FROM t\nWHERE b = 1";
        let text = SqlText {
            file: Some("sql/s.sql"),
            inline: false,
            what: "step",
            at: "p.yaml:3:3",
            template,
            folded: None,
            first_line: 1,
            indent: 0,
            rendered,
        };
        assert_eq!(text.template_line(1), (1, true));
        assert_eq!(text.template_line(2), (4, true));
        assert_eq!(text.template_line(6), (6, true));
        // Made by the macro call on line 5, and by `{{ x }}` on line 7.
        assert_eq!(text.template_line(3).0, 5);
        assert_eq!(text.template_line(4).0, 5);
        assert_eq!(text.template_line(7), (7, false));

        let shown = |p: (String, Option<String>)| match p {
            (place, Some(snippet)) => format!("{place}\n{snippet}"),
            (place, None) => place,
        };
        assert_eq!(
            shown(text.place(Some(pos(6, 3, Some(7))))),
            "SQL from sql/s.sql:6:3\n    6 |   FROM t\n      |   ^^^^"
        );
        assert_eq!(
            shown(text.place(Some(pos(7, 11, None)))),
            "SQL from sql/s.sql:7\n    7 | WHERE b = 1  (as rendered)\n      |           ^"
        );
        assert_eq!(shown(text.place(None)), "SQL from sql/s.sql");
        // A place past the SQL (never given) is not shown.
        assert_eq!(
            shown(text.place(Some(pos(9, 1, None)))),
            "SQL from sql/s.sql"
        );
        assert_eq!(text.origin(Some(pos(6, 3, None))).0, "sql/s.sql:6:3");
        // The same SQL written in the pipeline file from line 10 on,
        // indented by six: counted there.
        let block = SqlText {
            file: Some("p.yaml"),
            inline: true,
            first_line: 10,
            indent: 6,
            ..text
        };
        assert_eq!(
            shown(block.place(Some(pos(6, 3, Some(7))))),
            "the step's SQL is at p.yaml:15:9\n    15 |   FROM t\n       |   ^^^^"
        );
        assert_eq!(block.origin(None).0, "inline SQL");
        assert_eq!(shown(block.place(None)), "the step's SQL is at p.yaml:3:3");
        // Where its lines there cannot be told: by the SQL's own lines.
        let inline = SqlText {
            file: None,
            inline: true,
            ..text
        };
        assert_eq!(
            shown(inline.place(Some(pos(2, 1, Some(7))))),
            "the step's SQL is at p.yaml:3:3, its line 4\n    4 | SELECT a,\n      | ^^^^^^"
        );
        assert_eq!(
            inline.origin(Some(pos(2, 1, None))).0,
            "inline SQL, its line 4"
        );
        assert_eq!(shown(inline.place(None)), "the step's SQL is at p.yaml:3:3");
        assert_eq!(inline.origin(None).0, "inline SQL");
    }

    #[test]
    fn a_long_line_is_shown_around_the_place() {
        let rendered = format!("{}bad{}", "x".repeat(300), "y".repeat(300));
        let shown = snippet(&rendered, 1, true, pos(1, 301, Some(304)));
        let lines: Vec<&str> = shown.lines().collect();
        let code = lines[0].trim_start_matches("    1 | ");
        let marker = lines[1].trim_start_matches("      | ");
        assert!(code.starts_with('…') && code.ends_with('…'), "{code}");
        let at = marker.find('^').unwrap();
        assert_eq!(&code.chars().skip(at).take(3).collect::<String>(), "bad");
        assert_eq!(marker.trim(), "^^^");
        // Tabs before the place are kept under it.
        assert_eq!(
            snippet("\tSELECT x", 2, true, pos(2, 9, None)),
            "    2 | \tSELECT x\n      | \t       ^"
        );
    }

    #[test]
    fn a_folded_block_is_placed_in_the_lines_yaml_joined() {
        // A `sql: >` block from line 2, indented by 4: YAML (the parser,
        // not this module) gives the value its lines are aligned with.
        let yaml = "sql: >\n    SELECT *\n    FROM t\n    WHERE revenu > 100\n\n      AND x\n    GROUP BY 1\n";
        let value: std::collections::BTreeMap<String, String> = serde_yaml::from_str(yaml).unwrap();
        let value = value["sql"].as_str();
        assert_eq!(
            value,
            "SELECT * FROM t WHERE revenu > 100\n\n  AND x\nGROUP BY 1\n"
        );
        let written = crate::spec::WrittenValue {
            file: "p.yaml".into(),
            text: "SELECT *\nFROM t\nWHERE revenu > 100\n\n  AND x\nGROUP BY 1".into(),
            line: 2,
            indent: 4,
            folded: true,
        };
        let text = SqlText::in_pipeline("check", "p.yaml:1:1", Some(&written), value, value);
        let shown = |p: (String, Option<String>)| format!("{}\n{}", p.0, p.1.unwrap_or_default());
        // `revenu`: column 23 of the value's first line, column 7 of the
        // file's line 4 (2 + 2), which starts after 4 spaces: 4:11.
        assert_eq!(
            shown(text.place(Some(pos(1, 23, Some(29))))),
            "the check's SQL is at p.yaml:4:11\n    4 | WHERE revenu > 100\n      |       ^^^^^^"
        );
        // `AND` on the value's third line: the file's line 6, column 3 of
        // the block (its own two spaces), 7 of the file.
        assert_eq!(text.origin(Some(pos(3, 3, None))).0, "p.yaml:6:7");
        // `GROUP` after the more indented line: line 7.
        assert_eq!(text.origin(Some(pos(4, 1, None))).0, "p.yaml:7:5");
        // Rendered otherwise than written (a template expression): the
        // file's first line that went into it, without a column.
        let rendered = "SELECT * FROM t WHERE revenue > 100\n\n  AND x\nGROUP BY 1";
        let text = SqlText::in_pipeline("check", "p.yaml:1:1", Some(&written), value, rendered);
        assert_eq!(text.origin(Some(pos(1, 23, None))).0, "p.yaml:2");
    }
}
