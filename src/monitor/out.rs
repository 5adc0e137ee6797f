//! Where the stream goes: standard output, or a folder of files rotated by size or time.
//!
//! Every record is one line, written whole with one `write` (so a reader tailing the file never
//! sees half a line), into a buffer flushed at least once a second ([`Out::tick`]). A file is
//! rotated between two lines: the one being written, `ctxscope-<UTC start>.ndjson`, is closed
//! and renamed `ctxscope-<UTC start>-<UTC end>.ndjson`, and a new one is opened; no line is
//! lost or written twice. [`Out::reopen`] (on SIGHUP) closes the file as it is, after
//! logrotate renamed it, and opens a new one.

use anyhow::{Context as _, Result};
use ctxscope_dissectors::Timestamp;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// How often buffered lines reach the file at the latest.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// When a file is rotated.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rotation {
    /// Once this many bytes were written to it.
    pub size: Option<u64>,
    /// Once it has been open this long (wall clock).
    pub age: Option<Duration>,
}

pub enum Out {
    Stdout(BufWriter<io::Stdout>, Flushed),
    Dir(Files),
}

/// When the buffer last reached its destination.
pub struct Flushed(Instant);

pub struct Files {
    dir: PathBuf,
    rotation: Rotation,
    file: BufWriter<File>,
    path: PathBuf,
    /// The file's start, as in its name.
    start: String,
    opened: Instant,
    written: u64,
    flushed: Flushed,
}

impl Out {
    /// `-` for standard output, else a folder (created if need be).
    pub fn open(to: &Path, rotation: Rotation) -> Result<Out> {
        if to == Path::new("-") {
            return Ok(Out::Stdout(
                BufWriter::new(io::stdout()),
                Flushed(Instant::now()),
            ));
        }
        std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
        let (file, path, start) = new_file(to)?;
        Ok(Out::Dir(Files {
            dir: to.to_path_buf(),
            rotation,
            file,
            path,
            start,
            opened: Instant::now(),
            written: 0,
            flushed: Flushed(Instant::now()),
        }))
    }

    /// Writes one line (with its newline), rotating first if the file is due.
    pub fn line(&mut self, line: &[u8]) -> io::Result<()> {
        match self {
            Out::Stdout(w, _) => w.write_all(line),
            Out::Dir(files) => {
                if files.due() {
                    files.rotate()?;
                }
                files.written += line.len() as u64;
                files.file.write_all(line)
            }
        }
    }

    /// Flushes if the last flush is a second old; rotates a file that is due by age.
    pub fn tick(&mut self) -> io::Result<()> {
        if let Out::Dir(files) = self
            && files.written > 0
            && files.due()
        {
            files.rotate()?;
        }
        let (w, flushed): (&mut dyn Write, &mut Flushed) = match self {
            Out::Stdout(w, f) => (w, f),
            Out::Dir(files) => (&mut files.file, &mut files.flushed),
        };
        if flushed.0.elapsed() >= FLUSH_EVERY {
            w.flush()?;
            flushed.0 = Instant::now();
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::Stdout(w, _) => w.flush(),
            Out::Dir(files) => files.file.flush(),
        }
    }

    /// Closes the file as it is (logrotate renamed it) and opens a new one. Nothing to do on
    /// standard output.
    pub fn reopen(&mut self) -> io::Result<()> {
        match self {
            Out::Stdout(w, _) => w.flush(),
            Out::Dir(files) => files.next(false),
        }
    }
}

impl Files {
    fn due(&self) -> bool {
        let r = self.rotation;
        r.size.is_some_and(|max| self.written >= max)
            || r.age.is_some_and(|max| self.opened.elapsed() >= max)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.next(true)
    }

    /// Closes the current file (renamed with its end when `rename`) and opens the next.
    fn next(&mut self, rename: bool) -> io::Result<()> {
        self.file.flush()?;
        if rename {
            let end = utc_stamp();
            let done = free_name(&self.dir, &format!("ctxscope-{}-{end}", self.start));
            std::fs::rename(&self.path, done)?;
        }
        let (file, path, start) = new_file(&self.dir).map_err(io::Error::other)?;
        self.file = file;
        self.path = path;
        self.start = start;
        self.opened = Instant::now();
        self.written = 0;
        Ok(())
    }
}

/// A new file `ctxscope-<UTC now>.ndjson` in `dir`.
fn new_file(dir: &Path) -> Result<(BufWriter<File>, PathBuf, String)> {
    let start = utc_stamp();
    let path = free_name(dir, &format!("ctxscope-{start}"));
    let file = File::options()
        .create_new(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    Ok((BufWriter::new(file), path, start))
}

/// `dir/STEM.ndjson`, or `dir/STEM-N.ndjson` with the first N free.
fn free_name(dir: &Path, stem: &str) -> PathBuf {
    let mut path = dir.join(format!("{stem}.ndjson"));
    let mut n = 1;
    while path.exists() {
        path = dir.join(format!("{stem}-{n}.ndjson"));
        n += 1;
    }
    path
}

/// The clock now, e.g. `20260115T090000.123456Z`.
pub fn utc_stamp() -> String {
    wall_clock()
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect()
}

/// The clock now, as a timestamp.
pub fn wall_clock() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_nanos(i64::try_from(since.as_nanos()).unwrap_or(i64::MAX))
}
