//! Bounded reading of input files: every scenario, sweep and data file goes through
//! [`read_text`] (or [`read_bytes`]), so a file of gigabytes, a FIFO or a device such as
//! `/dev/zero` is a clear error naming the limit — never a hang or an out-of-memory abort.

use std::io::Read;
use std::path::Path;

/// Largest scenario or sweep file, bytes (the shipped ones are a few KB).
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;
/// Largest OpenSim motion or storage file (.mot, .sto), bytes: hours of 1 kHz data.
pub const MAX_DATA_BYTES: u64 = 512 << 20;
/// Largest model or mesh file (.osim, .stl, .obj, .vtp), bytes: a fine MRI segmentation is
/// tens of MB.
pub const MAX_MODEL_BYTES: u64 = 1 << 30;

/// Reads at most `limit` bytes of a regular file. A folder, FIFO, socket or device is
/// refused before it is opened (opening a FIFO would wait for a writer); a file larger than
/// `limit` (`what` names the kind of file in the message) is refused before it is read, and
/// one that grows past `limit` while being read is refused too.
pub fn read_bytes(path: &Path, limit: u64, what: &str) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a folder"
        } else {
            "not a regular file (a FIFO, socket or device)"
        };
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("is {kind}; give a {what}"),
        ));
    }
    let too_large = |size: String| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("is {size} bytes; a {what} may have at most {limit} bytes"),
        )
    };
    if meta.len() > limit {
        return Err(too_large(meta.len().to_string()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(format!("more than {limit}")));
    }
    Ok(bytes)
}

/// [`read_bytes`], then UTF-8: text that is not UTF-8 is refused with the byte offset.
pub fn read_text(path: &Path, limit: u64, what: &str) -> std::io::Result<String> {
    String::from_utf8(read_bytes(path, limit, what)?).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_folders_and_oversized_files_are_refused() {
        let e = read_text(Path::new("/dev/zero"), 100, "scenario file").unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = read_text(Path::new("/"), 100, "scenario file").unwrap_err();
        assert!(e.to_string().contains("a folder"), "{e}");
        let dir = std::env::temp_dir().join(format!("kneetrack-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("big.toml");
        std::fs::write(&f, vec![b'#'; 101]).unwrap();
        let e = read_text(&f, 100, "scenario file").unwrap_err();
        assert!(e.to_string().contains("at most 100 bytes"), "{e}");
        std::fs::write(&f, b"ok\xff").unwrap();
        let e = read_text(&f, 100, "scenario file").unwrap_err();
        assert!(e.to_string().contains("offset 2"), "{e}");
        std::fs::write(&f, b"ok").unwrap();
        assert_eq!(read_text(&f, 100, "scenario file").unwrap(), "ok");
    }
}
