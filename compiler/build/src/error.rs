//! Errors that stop a build. A variant that cannot be built is not an error
//! but a [`crate::Rejection`]: the build goes on without it.

use std::fmt;

/// Why `tessera build` produced no bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    /// A stable code from [`crate::codes`].
    pub code: &'static str,
    pub message: String,
    /// Source diagnostics, already rendered, shown before the message.
    pub rendered: Option<String>,
    pub help: Option<String>,
}

impl BuildError {
    pub fn new(code: &'static str, message: impl Into<String>) -> BuildError {
        BuildError { code, message: message.into(), rendered: None, help: None }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> BuildError {
        self.help = Some(help.into());
        self
    }

    pub fn with_rendered(mut self, rendered: impl Into<String>) -> BuildError {
        self.rendered = Some(rendered.into());
        self
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(rendered) = &self.rendered {
            f.write_str(rendered)?;
            if !rendered.ends_with('\n') {
                f.write_str("\n")?;
            }
        }
        write!(f, "error[{}]: {}", self.code, self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes;

    #[test]
    fn display_shows_diagnostics_then_code_message_and_help() {
        let error = BuildError::new(codes::SOURCE_ERRORS, "1 error in `a.tsr`")
            .with_rendered("error[E0101]: unknown name `q`")
            .with_help("fix the errors above");
        assert_eq!(
            error.to_string(),
            "error[E0101]: unknown name `q`\nerror[E0721]: 1 error in `a.tsr`\n  help: fix the errors above"
        );
    }
}
