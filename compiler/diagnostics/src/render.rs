//! Rendering diagnostics with ariadne: file:line:col, the source line, a caret.

use crate::{Diagnostic, FileId, Severity, SourceMap};
use ariadne::{Config, Label, Report, ReportKind};

/// Render one diagnostic to a string. `color` is off for snapshots and pipes.
pub fn render(map: &SourceMap, diagnostic: &Diagnostic, color: bool) -> String {
    let kind = match diagnostic.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let name = |id: FileId| map.get(id).name.clone();
    let clamp = |id: FileId, r: std::ops::Range<usize>| {
        let len = map.get(id).text.len();
        let start = r.start.min(len);
        start..r.end.clamp(start, len)
    };
    let primary = (name(diagnostic.span.file), clamp(diagnostic.span.file, diagnostic.span.range()));
    let mut report = Report::build(kind, primary.clone())
        .with_config(Config::default().with_color(color).with_index_type(ariadne::IndexType::Byte))
        .with_code(diagnostic.code)
        .with_message(diagnostic.message.clone());
    // Labels are ordered by position: ariadne starts a new snippet (headed by
    // the *primary* location) whenever a label lies above the one before it,
    // so a secondary label on an earlier line would get a second header that
    // names the wrong line.
    let mut labels = vec![(diagnostic.span, diagnostic.label.clone().unwrap_or_default())];
    labels.extend(diagnostic.secondary.iter().map(|l| (l.span, l.message.clone())));
    labels.sort_by_key(|(span, _)| (span.file.0, span.start, span.end));
    for (order, (span, message)) in labels.into_iter().enumerate() {
        report = report.with_label(
            Label::new((name(span.file), clamp(span.file, span.range())))
                .with_message(message)
                .with_order(order as i32),
        );
    }
    if let Some(help) = &diagnostic.help {
        report = report.with_help(help.clone());
    }
    for note in &diagnostic.notes {
        report = report.with_note(note.clone());
    }
    let sources: Vec<(String, String)> = map.files().map(|(_, f)| (f.name.clone(), f.text.clone())).collect();
    let mut out = Vec::new();
    // Writing to a Vec cannot fail; a failure here would be an ariadne bug.
    let _ = report.finish().write(ariadne::sources(sources), &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Span;

    #[test]
    fn a_secondary_label_above_the_primary_shares_its_snippet() {
        let mut map = SourceMap::new();
        let file = map.add("k.tsr", "let a = 1;\nlet a = 2;\n");
        let d = Diagnostic::error("E0000", "defined twice", Span::new(file, 15, 16))
            .with_label("again")
            .with_secondary(Span::new(file, 4, 5), "first here");
        let out = render(&map, &d, false);
        assert_eq!(out.matches("k.tsr:").count(), 1, "{out}");
        assert!(out.contains("k.tsr:2:5"), "{out}");
        let first = out.find("first here").unwrap_or(usize::MAX);
        assert!(first < out.find("again").unwrap_or(0), "{out}");
    }
}
