//! Splitting YAML streams into documents and parsing each one on its own, so that one broken
//! document neither hides the problems of the others nor loses its line number.
//!
//! A line starting with `---` (followed by a space or the end of the line) or `...` always
//! ends a document in YAML: block scalar content is indented, so splitting on such lines is
//! exact, and each document keeps its starting line for error messages.

use serde_json::Value;

/// One document of a file.
#[derive(Debug)]
pub struct Document<'a> {
    /// 1-based position of the document in its file, counting documents that hold content.
    pub index: usize,
    /// 1-based line of the document's first line in the file.
    pub start_line: usize,
    /// The document's text.
    pub text: &'a str,
}

/// Splits `text` into its documents, skipping those holding only comments and whitespace.
pub fn split(text: &str) -> Vec<Document<'_>> {
    let mut docs = Vec::new();
    let mut start_byte = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        if is_marker(bare, "---") || is_marker(bare, "...") {
            push_if_content(&mut docs, &text[start_byte..offset], start_line);
            // Content after `--- ` on the marker line belongs to the new document.
            start_byte = if bare.starts_with("---") {
                offset + 3
            } else {
                offset + line.len()
            };
            start_line = n + 1;
        }
        offset += line.len();
    }
    push_if_content(&mut docs, &text[start_byte..], start_line);
    docs
}

fn push_if_content<'a>(docs: &mut Vec<Document<'a>>, chunk: &'a str, start_line: usize) {
    if has_content(chunk) {
        docs.push(Document {
            index: docs.len() + 1,
            start_line,
            text: chunk,
        });
    }
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

fn has_content(chunk: &str) -> bool {
    chunk.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    })
}

/// A YAML syntax error, positioned in the file.
#[derive(Debug, PartialEq)]
pub struct SyntaxError {
    /// 1-based line in the file, when the parser knows it.
    pub line: Option<usize>,
    /// The parser's message.
    pub message: String,
}

/// Parses one document into a JSON value (the shape the API server sees).
pub fn parse(doc: &Document) -> Result<Value, SyntaxError> {
    serde_saphyr::from_str::<Value>(doc.text).map_err(|e| {
        let line = e.location().map(|l| l.line() as usize + doc.start_line - 1);
        SyntaxError {
            line,
            message: first_line(&e.to_string()),
        }
    })
}

/// serde-saphyr renders a source snippet after the message; one line is enough here because
/// the file and line are printed beside it.
/// Its own "line N column M" counts from the document, so only the column is kept.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message).trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    if let Some(rest) = line.strip_prefix("line ")
        && let Some((position, text)) = rest.split_once(": ")
        && let Some((_, column)) = position.split_once(" column ")
    {
        return format!("{text} (column {column})");
    }
    line.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_markers_and_keeps_start_lines() {
        let text = "# header\n---\na: 1\n---\n# only a comment\n--- \nb: 2\n...\n---\nc: |\n  --- not a marker\n";
        let docs = split(text);
        let got: Vec<(usize, usize)> = docs.iter().map(|d| (d.index, d.start_line)).collect();
        assert_eq!(got, vec![(1, 2), (2, 6), (3, 9)]);
        assert_eq!(parse(&docs[2]).unwrap()["c"], "--- not a marker\n");
    }

    #[test]
    fn a_file_without_markers_is_one_document() {
        let docs = split("kind: Tariff\n");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].start_line, 1);
    }

    #[test]
    fn syntax_errors_carry_the_file_line() {
        let text = "a: 1\n---\nkind: Tariff\nspec:\n  prices: [1, 2\n";
        let docs = split(text);
        let err = parse(&docs[1]).unwrap_err();
        assert!(err.line.is_some_and(|l| l >= 5), "{err:?}");
        assert!(
            !err.message.contains("line "),
            "the document-relative line is dropped: {err:?}"
        );
    }
}
