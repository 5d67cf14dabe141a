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
        .with_message(diagnostic.message.clone())
        .with_label(Label::new(primary).with_message(diagnostic.label.clone().unwrap_or_default()).with_order(0));
    for (i, label) in diagnostic.secondary.iter().enumerate() {
        report = report.with_label(
            Label::new((name(label.span.file), clamp(label.span.file, label.span.range())))
                .with_message(label.message.clone())
                .with_order(i as i32 + 1),
        );
    }
    if let Some(help) = &diagnostic.help {
        report = report.with_help(help.clone());
    }
    for note in &diagnostic.notes {
        report = report.with_note(note.clone());
    }
    let sources: Vec<(String, String)> =
        map.files().map(|(_, f)| (f.name.clone(), f.text.clone())).collect();
    let mut out = Vec::new();
    // Writing to a Vec cannot fail; a failure here would be an ariadne bug.
    let _ = report.finish().write(ariadne::sources(sources), &mut out);
    String::from_utf8_lossy(&out).into_owned()
}
