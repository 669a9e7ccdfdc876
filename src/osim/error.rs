//! Why an OpenSim model could not be used.

use std::path::PathBuf;

/// Why an `.osim` file could not be read as a kneetrack knee. Every message is one line
/// that starts with the model file's path and names the element involved as
/// `Type `name` (line N)` (the type is the XML tag, e.g. `Smith2018ContactMesh`).
#[derive(Debug, thiserror::Error)]
pub enum OsimError {
    /// The file could not be read from disk.
    #[error("{path}: cannot read the OpenSim model: {source}")]
    Io {
        /// The model file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The text is not well-formed XML.
    #[error("{path}:{line}:{column}: malformed XML: {message}")]
    Xml {
        /// The model file.
        path: PathBuf,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// The XML parser's message.
        message: String,
    },
    /// Something kneetrack needs (a joint, a body, a muscle) is not in the model.
    #[error("{path}: {message}")]
    Missing {
        /// The model file.
        path: PathBuf,
        /// What is missing.
        message: String,
    },
    /// An element is present but its content is unusable (a dangling frame path, a spline
    /// whose x values do not increase, a negative slack length, ...).
    #[error("{path}: {element}: {message}")]
    Invalid {
        /// The model file.
        path: PathBuf,
        /// The element, as `Type `name` (line N)`.
        element: String,
        /// What is wrong with it.
        message: String,
    },
    /// A number that does not parse or is not finite.
    #[error("{path}: {element}: <{property}> `{text}` is not a finite number")]
    BadNumber {
        /// The model file.
        path: PathBuf,
        /// The element, as `Type `name` (line N)`.
        element: String,
        /// The property (XML tag) holding the number.
        property: String,
        /// Its text, squeezed to one line.
        text: String,
    },
    /// A mesh file named by a contact mesh is not where OpenSim would look for it.
    #[error("{path}: {element}: {property} `{file}` not found (searched: {searched})")]
    MeshNotFound {
        /// The model file.
        path: PathBuf,
        /// The contact mesh element, as `Type `name` (line N)`.
        element: String,
        /// The property naming the mesh file.
        property: String,
        /// The mesh file as written.
        file: String,
        /// The folders searched.
        searched: String,
    },
    /// A construct kneetrack does not implement, on something it needs (a function type on
    /// the knee or patellofemoral joint, a moving path point in a quadriceps path, ...).
    #[error("{path}: {element}: {message}")]
    Unsupported {
        /// The model file.
        path: PathBuf,
        /// The element, as `Type `name` (line N)`.
        element: String,
        /// What is not implemented.
        message: String,
    },
}

/// Text from the file, squeezed to one line and at most 80 characters, for a message.
pub(crate) fn one_line(text: &str) -> String {
    let squeezed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if squeezed.chars().count() > 80 {
        let mut cut: String = squeezed.chars().take(77).collect();
        cut.push_str("...");
        cut
    } else {
        squeezed
    }
}
