//! How `show` prints the rows it kept: as a table for people (each column's
//! SQL type under its name, numbers to the right, NULL spelt out, a DOUBLE
//! to the 15 digits it holds), a row at a time where that table is wider than
//! the terminal, or as CSV or JSON lines for tools (every digit).

use std::io::Write;

use arrow::array::{Array, Float64Array, RecordBatch};
use arrow::datatypes::{DataType, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use clap::ValueEnum;
use comfy_table::{CellAlignment, Table};

use crate::error::{Error, Result};

/// `show --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// A table, a row a line.
    Table,
    /// A row at a time, a column a line: for rows too wide for a table.
    Records,
    /// Comma-separated, with a header line.
    Csv,
    /// An object per line.
    Json,
}

/// Writes on stdout the tables `show` can show, sources then steps: each
/// one's name and its columns with their SQL types, or why it has none. On a
/// terminal, columns that would run past its edge go on the next line.
/// With a `format`, a row per column instead (`kind`, `table`, `column`,
/// `type`, and `note` for a table with none), printed as rows are.
pub fn print_listing(listed: &[crate::show::Listed], format: Option<ShowFormat>) -> Result<()> {
    to_stdout("the tables", |out, terminal| match format {
        None => write!(out, "{}", listing(listed, terminal)).map_err(Into::into),
        Some(_) => write(out, &listing_rows(listed), format, terminal),
    })
}

/// The listing as rows: one per column of each table, and one with a note
/// for a table that has none.
fn listing_rows(listed: &[crate::show::Listed]) -> crate::show::Shown {
    let fields = ["kind", "table", "column", "type", "note"];
    let mut values: [Vec<Option<String>>; 5] = Default::default();
    for table in listed {
        let mut push = |column: Option<String>, sql: Option<String>, note: Option<String>| {
            values[0].push(Some(table.kind.to_string()));
            values[1].push(Some(table.name.clone()));
            values[2].push(column);
            values[3].push(sql);
            values[4].push(note);
        };
        match &table.columns {
            Ok(schema) => (schema.fields().iter())
                .for_each(|f| push(Some(f.name().clone()), Some(sql_type(f.data_type())), None)),
            Err(why) => push(None, None, Some(why.clone())),
        }
    }
    let schema = std::sync::Arc::new(Schema::new(
        (fields.iter())
            .map(|f| arrow::datatypes::Field::new(*f, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let rows = values[0].len() as u64;
    let columns: Vec<arrow::array::ArrayRef> = values
        .into_iter()
        .map(|v| std::sync::Arc::new(arrow::array::StringArray::from(v)) as _)
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns).expect("five text columns");
    crate::show::Shown {
        schema,
        batches: vec![batch],
        rows,
    }
}

fn listing(listed: &[crate::show::Listed], terminal: Option<usize>) -> String {
    let width = (listed.iter())
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(0);
    // Two spaces, the name, two spaces: where the columns start.
    let indent = width + 4;
    let mut text = String::new();
    for (kind, heading) in [("source", "sources"), ("step", "steps")] {
        let mut of_kind = listed.iter().filter(|l| l.kind == kind).peekable();
        if of_kind.peek().is_some() {
            text.push_str(heading);
            text.push('\n');
        }
        for table in of_kind {
            let columns: Vec<String> = match &table.columns {
                Ok(schema) => (schema.fields().iter())
                    .map(|f| format!("{} {}", f.name(), sql_type(f.data_type())))
                    .collect(),
                Err(why) => vec![format!("({why})")],
            };
            let mut line = format!("  {:width$}  ", table.name);
            for (i, column) in columns.iter().enumerate() {
                let column = match i + 1 < columns.len() {
                    true => format!("{column},"),
                    false => column.clone(),
                };
                let used = line.chars().count();
                let fits = terminal.is_none_or(|w| used + 1 + column.chars().count() <= w);
                if i > 0 && fits {
                    line.push(' ');
                } else if i > 0 {
                    text.push_str(&line);
                    text.push('\n');
                    line = " ".repeat(indent);
                }
                line.push_str(&column);
            }
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

/// Writes the rows `show` kept on stdout, as `format` says, or where it says
/// nothing, as a table that fits the terminal or else a row at a time. A
/// reader that has gone (`| head`) has what it wanted: no error.
pub fn print(shown: &crate::show::Shown, format: Option<ShowFormat>) -> Result<()> {
    to_stdout("the rows", |out, terminal| {
        write(out, shown, format, terminal)
    })
}

/// Runs `print` on stdout, given the terminal's width where it is one, and
/// flushes it; `what` names what it prints in the error where it cannot.
fn to_stdout(
    what: &str,
    print: impl FnOnce(
        &mut UntilGone<std::io::StdoutLock<'static>>,
        Option<usize>,
    ) -> std::result::Result<(), arrow::error::ArrowError>,
) -> Result<()> {
    let mut out = UntilGone(std::io::stdout().lock());
    print(&mut out, terminal_width())
        .and_then(|()| Ok(out.flush()?))
        .map_err(|e| Error::Run(format!("cannot print {what}: {e}")))
}

/// The rows as `format` says, or where it says nothing, as a table where one
/// fits in `terminal` columns (any where there is no terminal).
fn write(
    out: &mut impl Write,
    shown: &crate::show::Shown,
    format: Option<ShowFormat>,
    terminal: Option<usize>,
) -> std::result::Result<(), arrow::error::ArrowError> {
    let (schema, batches) = (shown.schema.as_ref(), shown.batches.as_slice());
    match format {
        None | Some(ShowFormat::Table | ShowFormat::Records) => {
            let rows = cells(schema, batches)?;
            // The table, unless records were asked for: kept where asked for
            // or where it fits.
            let table = (format != Some(ShowFormat::Records))
                .then(|| table(schema, &rows))
                .filter(|t| {
                    format == Some(ShowFormat::Table)
                        || terminal.is_none_or(|width| table_width(t) <= width)
                });
            match table {
                Some(table) => Ok(writeln!(out, "{table}")?),
                None => Ok(write!(out, "{}", records(schema, &rows))?),
            }
        }
        Some(ShowFormat::Csv) => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            let empty = RecordBatch::new_empty(shown.schema.clone());
            // The header, where no row comes with it.
            let batches = if batches.is_empty() {
                std::slice::from_ref(&empty)
            } else {
                batches
            };
            batches.iter().try_for_each(|b| w.write(b))
        }
        Some(ShowFormat::Json) => {
            let mut w = arrow::json::LineDelimitedWriter::new(out);
            let batches: Vec<&RecordBatch> = batches.iter().collect();
            w.write_batches(&batches).and_then(|()| w.finish())
        }
    }
}

/// Each row's values as text, NULL spelt out (an empty text is empty), a
/// DOUBLE to the digits it holds (`double_cell`).
fn cells(
    schema: &Schema,
    batches: &[RecordBatch],
) -> std::result::Result<Vec<Vec<String>>, arrow::error::ArrowError> {
    const NULL: &str = "NULL";
    let options = FormatOptions::default().with_null(NULL);
    let mut rows = Vec::new();
    for batch in batches {
        let columns = (batch.columns().iter())
            .map(|c| match c.as_any().downcast_ref::<Float64Array>() {
                Some(doubles) => Ok(Cell::Double(doubles)),
                None => ArrayFormatter::try_new(c.as_ref(), &options).map(Cell::Other),
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for i in 0..batch.num_rows() {
            rows.push(
                (columns.iter())
                    .map(|c| match c {
                        Cell::Double(d) if d.is_null(i) => NULL.to_string(),
                        Cell::Double(d) => double_cell(d.value(i)),
                        Cell::Other(f) => f.value(i).to_string(),
                    })
                    .collect(),
            );
        }
    }
    debug_assert!(
        rows.iter()
            .all(|r: &Vec<String>| r.len() == schema.fields().len())
    );
    Ok(rows)
}

/// How a column's values become text.
enum Cell<'a> {
    Double(&'a Float64Array),
    Other(ArrayFormatter<'a>),
}

/// A DOUBLE for people: to 15 significant digits, the most a double holds
/// exactly (any decimal of 15 digits comes back from one unchanged), as
/// PostgreSQL showed them before version 12. The digits past those are the
/// noise of binary fractions (0.1 + 0.2 is 0.30000000000000004): CSV and
/// JSON keep them. Written as Arrow writes a double (`80.0`), in scientific
/// notation where the digits would run far from the point.
fn double_cell(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let rounded: f64 = format!("{value:.14e}")
        .parse()
        .expect("a number Rust wrote");
    let magnitude = rounded.abs();
    if magnitude != 0.0 && !(1e-5..1e16).contains(&magnitude) {
        return format!("{rounded:e}");
    }
    let mut text = rounded.to_string();
    if !text.contains('.') {
        text.push_str(".0");
    }
    text
}

fn table(schema: &Schema, rows: &[Vec<String>]) -> Table {
    let mut table = Table::new();
    // ASCII_FULL_CONDENSED, with the columns' borders crossing the header's line
    table.load_preset("||--+=++|    ++++++");
    table.set_header(
        (schema.fields().iter())
            .map(|f| format!("{}\n{}", f.name(), sql_type(f.data_type())))
            .collect::<Vec<_>>(),
    );
    table.add_rows(rows.iter().cloned());
    for (i, field) in schema.fields().iter().enumerate() {
        if field.data_type().is_numeric()
            && let Some(column) = table.column_mut(i)
        {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// How many terminal columns `table` takes: its cells' widths, their
/// padding and the borders between and around them.
fn table_width(table: &Table) -> usize {
    let widths = table.column_max_content_widths();
    widths.iter().map(|&w| usize::from(w) + 2).sum::<usize>() + widths.len() + 1
}

/// Each row as a block, a column a line: `-[ row 1 ]-` and then each
/// column's name, padded to the longest, and its value.
fn records(schema: &Schema, rows: &[Vec<String>]) -> String {
    let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let mut text = String::new();
    for (i, row) in rows.iter().enumerate() {
        text.push_str(&format!("-[ row {} ]{}\n", i + 1, "-".repeat(width)));
        for (name, value) in names.iter().zip(row) {
            text.push_str(&format!("{name:width$} | {value}\n"));
        }
    }
    text
}

/// The type a column has, as SQL names it (what a `CAST` in a step would
/// say); Arrow's name for the types SQL has no word for.
fn sql_type(data_type: &DataType) -> String {
    match data_type {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "TINYINT UNSIGNED".into(),
        DataType::UInt16 => "SMALLINT UNSIGNED".into(),
        DataType::UInt32 => "INT UNSIGNED".into(),
        DataType::UInt64 => "BIGINT UNSIGNED".into(),
        DataType::Float32 => "REAL".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("DECIMAL({p},{s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Timestamp(_, Some(zone)) => format!("TIMESTAMP ({zone})"),
        DataType::Dictionary(_, values) => sql_type(values),
        other => other.to_string(),
    }
}

/// Stdout's width, where stdout is a terminal.
fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size().map(|(w, _)| usize::from(w.0))
}

/// A writer that drops what comes once its reader has gone (a broken pipe),
/// whatever the writer on top makes of the error.
struct UntilGone<W>(W);

impl<W: Write> Write for UntilGone<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(buf.len()),
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::Field;

    use super::*;
    use crate::show::Shown;

    fn shown() -> Shown {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None])),
                Arc::new(StringArray::from(vec!["xy", ""])),
            ],
        )
        .unwrap();
        Shown {
            schema,
            batches: vec![batch],
            rows: 2,
        }
    }

    /// A source with `shown()`'s columns and a step with none.
    fn listed() -> [crate::show::Listed; 2] {
        use crate::show::Listed;
        [
            Listed {
                kind: "source",
                name: "orders".into(),
                columns: Ok(shown().schema),
            },
            Listed {
                kind: "step",
                name: "funnel".into(),
                columns: Err("would be skipped".into()),
            },
        ]
    }

    fn printed(format: Option<ShowFormat>, terminal: Option<usize>) -> String {
        let mut out = Vec::new();
        write(&mut out, &shown(), format, terminal).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The table is 20 columns wide: `BIGINT` (6) and `VARCHAR` (7), a
    /// space each side of both, and three borders.
    const TABLE: &str = "\
+--------+---------+
|      a | b       |
| BIGINT | VARCHAR |
+========+=========+
|      1 | xy      |
|   NULL |         |
+--------+---------+
";

    #[test]
    fn a_table_that_fits_the_terminal_is_a_table_and_else_a_row_at_a_time() {
        assert!(TABLE.lines().all(|l| l.len() == 20));
        assert_eq!(printed(None, None), TABLE);
        assert_eq!(printed(None, Some(20)), TABLE);
        let records = "\
-[ row 1 ]-
a | 1
b | xy
-[ row 2 ]-
a | NULL
b | \n";
        assert_eq!(printed(None, Some(19)), records);
        // Asked for by name, either is what was asked for.
        assert_eq!(printed(Some(ShowFormat::Table), Some(19)), TABLE);
        assert_eq!(printed(Some(ShowFormat::Records), None), records);
    }

    #[test]
    fn a_double_shows_the_fifteen_digits_it_holds_and_csv_every_one() {
        // Each value as a person writes it: the sum and the quotient to 15
        // significant digits, trailing zeros dropped.
        let cases = [
            (0.1 + 0.2, "0.3"),
            (1.0 / 3.0, "0.333333333333333"),
            (2.0 / 3.0, "0.666666666666667"),
            (371.4753999999999, "371.4754"),
            (1107994.98, "1107994.98"),
            (80.0, "80.0"),
            (-0.5, "-0.5"),
            (0.0, "0.0"),
            (123_456_789_012.345_67, "123456789012.346"),
            (1e20, "1e20"),
            (-2.5e-7, "-2.5e-7"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (value, text) in cases {
            assert_eq!(double_cell(value), text, "{value:?}");
        }
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
        let column = arrow::array::Float64Array::from(vec![Some(0.1 + 0.2), None]);
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(column)]).unwrap();
        let shown = Shown {
            schema,
            batches: vec![batch],
            rows: 2,
        };
        let printed = |format| {
            let mut out = Vec::new();
            write(&mut out, &shown, Some(format), None).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            printed(ShowFormat::Records),
            "-[ row 1 ]-\nx | 0.3\n-[ row 2 ]-\nx | NULL\n"
        );
        // A row of one empty field is quoted, so that it is not a blank line.
        assert_eq!(printed(ShowFormat::Csv), "x\n0.30000000000000004\n\"\"\n");
        assert_eq!(
            printed(ShowFormat::Json),
            "{\"x\":0.30000000000000004}\n{}\n"
        );
    }

    #[test]
    fn types_are_named_as_sql_names_them() {
        use arrow::datatypes::TimeUnit;
        let zoned = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let cases = [
            (DataType::Int32, "INT"),
            (DataType::Decimal128(38, 6), "DECIMAL(38,6)"),
            (DataType::Utf8View, "VARCHAR"),
            (DataType::Date32, "DATE"),
            (DataType::Timestamp(TimeUnit::Nanosecond, None), "TIMESTAMP"),
            (zoned, "TIMESTAMP (UTC)"),
            (
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                "VARCHAR",
            ),
        ];
        for (data_type, name) in cases {
            assert_eq!(sql_type(&data_type), name, "{data_type}");
        }
    }

    #[test]
    fn the_listing_names_each_table_and_its_columns_wrapped_to_the_terminal() {
        let listed = listed();
        let text = "sources\n  orders  a BIGINT, b VARCHAR\nsteps\n  funnel  (would be skipped)\n";
        assert_eq!(listing(&listed, None), text);
        // `  orders  a BIGINT,` is 19 wide and ` b VARCHAR` 10 more: 29 holds
        // both, 28 does not.
        assert_eq!(listing(&listed, Some(29)), text);
        assert_eq!(
            listing(&listed, Some(28)),
            "sources\n  orders  a BIGINT,\n          b VARCHAR\nsteps\n  funnel  (would be skipped)\n"
        );
    }

    #[test]
    fn the_listing_as_rows_has_a_row_per_column_or_a_note() {
        let listed = listed();
        let mut out = Vec::new();
        let rows = listing_rows(&listed);
        write(&mut out, &rows, Some(ShowFormat::Csv), None).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "kind,table,column,type,note\n\
             source,orders,a,BIGINT,\n\
             source,orders,b,VARCHAR,\n\
             step,funnel,,,would be skipped\n"
        );
        assert_eq!(rows.rows, 3);
    }
}
