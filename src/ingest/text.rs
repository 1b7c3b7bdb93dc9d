//! Loading delimited text files whole and splitting them into lines, in parallel, with 1-based line
//! numbers (the header is line 1). Files are memory-mapped (read-only; the kernel's page cache is the
//! buffer, nothing is copied) and every later step borrows from the map.
use std::path::{Path, PathBuf};

use memchr::memchr_iter;
use rayon::prelude::*;

use crate::{Error, Result};

/// The bytes of a file: a read-only map, or (for an empty file, which cannot be mapped) nothing.
pub enum FileBytes {
    Mapped(memmap2::Mmap),
    Empty,
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(map) => map,
            FileBytes::Empty => &[],
        }
    }
}

impl FileBytes {
    /// Maps `path` read-only. Like every mmap-based reader (polars' included), it assumes the file is
    /// not truncated while it is being read.
    pub fn open(path: &Path) -> Result<FileBytes> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len == 0 {
            return Ok(FileBytes::Empty);
        }
        // SAFETY: the map is read-only and private to this process; the files are inputs that the
        // pipeline only reads.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        // Read front to back, once: ask the kernel to read ahead.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(FileBytes::Mapped(map))
    }
}

/// A CSV file in memory whose header has been checked.
pub struct TextFile {
    pub path: PathBuf,
    pub data: FileBytes,
    /// Byte offset of each data line (line `i` is source line `i + 2`).
    line_starts: LineStarts,
}

/// Line start offsets: four bytes each in a file below 4 GiB (a vector of millions of them is
/// written while the file is read: half the fresh memory of eight-byte offsets).
enum LineStarts {
    Narrow(Vec<u32>),
    Wide(Vec<usize>),
}

impl LineStarts {
    fn len(&self) -> usize {
        match self {
            LineStarts::Narrow(v) => v.len(),
            LineStarts::Wide(v) => v.len(),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> Option<usize> {
        match self {
            LineStarts::Narrow(v) => v.get(i).map(|&s| s as usize),
            LineStarts::Wide(v) => v.get(i).copied(),
        }
    }
}

/// A line offset as stored ([`LineStarts`]).
trait Offset: Copy + Default + Send + Sync {
    fn of(offset: usize) -> Self;
}

impl Offset for u32 {
    fn of(offset: usize) -> Self {
        offset as u32
    }
}

impl Offset for usize {
    fn of(offset: usize) -> Self {
        offset
    }
}

const CHUNK: usize = 1 << 22;

impl TextFile {
    /// Reads `path` and checks that its header is exactly `expected` (comma-separated, in order).
    pub fn open(path: &Path, expected: &[&str]) -> Result<TextFile> {
        let data = FileBytes::open(path)?;
        let body = check_header(path, &data, expected)?;
        let line_starts = split_lines(&data, body);
        Ok(TextFile {
            path: path.to_path_buf(),
            data,
            line_starts,
        })
    }

    /// Reads `path` with whatever header it has; returns the file and the header's column names.
    pub fn open_any(path: &Path) -> Result<(TextFile, Vec<String>)> {
        let data = FileBytes::open(path)?;
        let (body, names) = read_header(path, &data)?;
        let line_starts = split_lines(&data, body);
        let file = TextFile {
            path: path.to_path_buf(),
            data,
            line_starts,
        };
        Ok((file, names))
    }

    /// Gives the file's pages back to the kernel once the file has been parsed: the map stays
    /// readable (a later read of a line, e.g. for the quarantine, brings its page back from the page
    /// cache), but the whole file no longer counts in the process's resident memory.
    pub fn release_pages(&self) {
        if let FileBytes::Mapped(map) = &self.data {
            // SAFETY: the map is a read-only private map of a file the pipeline only reads: dropping
            // its pages loses nothing, they are read again from the file on the next access.
            let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
    }

    pub fn n_rows(&self) -> usize {
        self.line_starts.len()
    }

    /// The bytes of data row `row` without its line terminator.
    pub fn line(&self, row: usize) -> &[u8] {
        let start = self.line_starts.get(row).expect("a row of the file");
        let end = self
            .line_starts
            .get(row + 1)
            .map_or(self.data.len(), |next| next - 1);
        let mut line = &self.data[start..end.max(start)];
        if line.last() == Some(&b'\n') {
            line = &line[..line.len() - 1];
        }
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        line
    }

    /// Source line number of data row `row` (header = 1).
    pub fn line_no(row: usize) -> u64 {
        row as u64 + 2
    }

    pub fn file_name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

/// Returns the offset where the body starts after validating the header.
fn check_header(path: &Path, data: &[u8], expected: &[&str]) -> Result<usize> {
    let (body, names) = read_header(path, data)?;
    if names.len() != expected.len() {
        return Err(Error::data_file(
            path,
            1,
            "wrong_column_count",
            format!(
                "the header has {} columns, expected {}: {}",
                names.len(),
                expected.len(),
                expected.join(",")
            ),
        ));
    }
    if names != expected {
        return Err(Error::data_file(
            path,
            1,
            "wrong_header",
            format!(
                "the header is '{}', expected '{}'",
                names.join(","),
                expected.join(",")
            ),
        ));
    }
    Ok(body)
}

/// The header's column names of the CSV file `path`, read from its first line only (checked as
/// [`TextFile::open_any`] does).
pub fn header_names(path: &Path) -> Result<Vec<String>> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut first = Vec::new();
    std::io::BufReader::new(file)
        .read_until(b'\n', &mut first)
        .map_err(|e| Error::io(path, e))?;
    Ok(read_header(path, &first)?.1)
}

/// The header's column names (trimmed, quotes removed) and the offset where the body starts.
fn read_header(path: &Path, data: &[u8]) -> Result<(usize, Vec<String>)> {
    let data_start = if data.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let rest = &data[data_start..];
    if rest.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::data_file(
            path,
            1,
            "empty_file",
            "the file is empty: expected a header line",
        ));
    }
    let header_end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
    let header = &rest[..header_end];
    let header = header.strip_suffix(b"\r").unwrap_or(header);
    let header = std::str::from_utf8(header).map_err(|e| {
        Error::data_file(
            path,
            1,
            "bad_utf8",
            format!("the header is not valid UTF-8 ({e})"),
        )
    })?;
    let names: Vec<String> = header
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .collect();
    Ok(((data_start + header_end + 1).min(data.len()), names))
}

/// Start offsets of every line in `data[body..]`; a final line terminator does not open a new line.
fn split_lines(data: &[u8], body: usize) -> LineStarts {
    if u32::try_from(data.len()).is_ok() {
        LineStarts::Narrow(line_offsets(data, body))
    } else {
        LineStarts::Wide(line_offsets(data, body))
    }
}

fn line_offsets<T: Offset>(data: &[u8], body: usize) -> Vec<T> {
    if body >= data.len() {
        return Vec::new();
    }
    // Chunk boundaries at newlines so each chunk holds whole lines.
    let mut bounds = vec![body];
    let mut pos = body;
    while pos + CHUNK < data.len() {
        match memchr::memchr(b'\n', &data[pos + CHUNK..]) {
            Some(i) => {
                pos = pos + CHUNK + i + 1;
                if pos < data.len() {
                    bounds.push(pos);
                }
            }
            None => break,
        }
    }
    bounds.push(data.len());
    // Lines per chunk (a chunk ends after a newline, or at the end of the data), then each chunk's
    // starts written into its own part of one vector.
    let counts: Vec<usize> = bounds
        .par_windows(2)
        .map(|w| {
            let (from, to) = (w[0], w[1]);
            1 + memchr_iter(b'\n', &data[from..to]).count() - usize::from(data[to - 1] == b'\n')
        })
        .collect();
    let mut starts = vec![T::default(); counts.iter().sum()];
    let mut parts: Vec<&mut [T]> = Vec::with_capacity(counts.len());
    let mut rest = starts.as_mut_slice();
    for &c in &counts {
        let (part, tail) = rest.split_at_mut(c);
        parts.push(part);
        rest = tail;
    }
    parts
        .into_par_iter()
        .zip(bounds.par_windows(2))
        .for_each(|(part, w)| {
            let (from, to) = (w[0], w[1]);
            part[0] = T::of(from);
            let found = memchr_iter(b'\n', &data[from..to])
                .map(|i| from + i + 1)
                .filter(|&s| s < to);
            for (slot, s) in part[1..].iter_mut().zip(found) {
                *slot = T::of(s);
            }
        });
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(content: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, content).unwrap();
        (dir, path)
    }

    #[test]
    fn lines_and_numbers() {
        let (_d, p) = file(b"a,b\n1,2\r\n3,4\n\n5,6");
        let f = TextFile::open(&p, &["a", "b"]).unwrap();
        let lines: Vec<&[u8]> = (0..f.n_rows()).map(|i| f.line(i)).collect();
        assert_eq!(lines, vec![&b"1,2"[..], b"3,4", b"", b"5,6"]);
        assert_eq!(TextFile::line_no(3), 5);
    }

    #[test]
    fn header_errors_name_rule_and_line() {
        let (_d, p) = file(b"");
        assert!(
            matches!(TextFile::open(&p, &["a"]), Err(Error::DataFile { rule, line: 1, .. }) if rule == "empty_file")
        );
        let (_d, p) = file(b"a,c\n1,2\n");
        assert!(
            matches!(TextFile::open(&p, &["a", "b"]), Err(Error::DataFile { rule, .. }) if rule == "wrong_header")
        );
        let (_d, p) = file(b"a\n1\n");
        assert!(
            matches!(TextFile::open(&p, &["a", "b"]), Err(Error::DataFile { rule, .. }) if rule == "wrong_column_count")
        );
        let (_d, p) = file(b"a,\xff\n1\n");
        assert!(
            matches!(TextFile::open(&p, &["a", "b"]), Err(Error::DataFile { rule, .. }) if rule == "bad_utf8")
        );
    }

    #[test]
    fn narrow_and_wide_offsets_agree() {
        let data = b"h\n10,a\n\n2,b\r\n3,c";
        let narrow: Vec<u32> = line_offsets(data, 2);
        let wide: Vec<usize> = line_offsets(data, 2);
        assert_eq!(wide, vec![2, 7, 8, 13]);
        assert_eq!(narrow.iter().map(|&s| s as usize).collect::<Vec<_>>(), wide);
    }

    #[test]
    fn many_chunks_keep_every_line() {
        let mut content = b"x\n".to_vec();
        for i in 0..(3 * CHUNK / 7) {
            content.extend_from_slice(format!("{i}\n").as_bytes());
        }
        let (_d, p) = file(&content);
        let f = TextFile::open(&p, &["x"]).unwrap();
        assert_eq!(f.n_rows(), 3 * CHUNK / 7);
        for i in [0, 1, 12345, f.n_rows() - 1] {
            assert_eq!(f.line(i), i.to_string().as_bytes());
        }
    }
}
