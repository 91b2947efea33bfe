//! Plain SQL scripts (pg_dump and pg_dumpall output) cut into pieces exactly where psql would
//! cut them, without running psql.
//!
//! A dump can be hostile, so we never hand it to psql: our executor sends statements and COPY
//! data over the wire itself. For that to mean the same thing as `psql -f dump.sql`, this lexer
//! mirrors psql's own: `src/fe_utils/psqlscan.l` (where a statement ends),
//! `src/bin/psql/psqlscanslash.l` (backslash commands) and `src/bin/psql/mainloop.c` (lines).
//! The psql behaviours that matter, and that are easy to get wrong:
//!
//! - psql reads the script line by line and strips each line's `\n` before lexing it, while the
//!   lexer state (inside a quote, comment, parentheses ...) carries over to the next line. So a
//!   `--` comment ends at the end of its line or at a `\r`, and no token spans two lines.
//! - A `;` ends a statement only outside quotes, comments and parentheses, and outside the
//!   `BEGIN ... END` of a `CREATE FUNCTION|PROCEDURE ... BEGIN ATOMIC` body.
//! - A backslash outside quotes and comments starts a meta-command, even in the middle of a line
//!   or of a statement; `\;` and `\:` are the exceptions (a literal `;` or `:`).
//! - After `COPY ... FROM STDIN`, the data starts on the next line and ends at a line that is
//!   exactly `\.`; the rest of the COPY statement's own line is lexed after the data.
//!
//! What it deliberately does not follow, so the executor has to keep these true:
//! - psql variable interpolation (`:name`, `:'name'`): the text is kept verbatim, as psql does
//!   for an undefined variable (the forms are still lexed as psql lexes them).
//! - `standard_conforming_strings`: psql lexes `'...'` with backslash escapes when the server
//!   reports it off; this lexer assumes on (pg_dump always sets it). The executor should stop
//!   if the server ever reports it off.
//! - Client encodings: statements must be valid UTF-8 (an error otherwise). psql lexes
//!   SJIS/BIG5/GBK/GB18030/JOHAB specially; the executor should keep `client_encoding` UTF8.
//! - A NUL byte outside COPY data is an error (psql would silently cut the line there).
//! - Running anything: meta-commands are only reported.
//!
//! Memory stays bounded however large the dump: one line (at most
//! `max(max_statement_bytes, 1 MiB)` bytes outside COPY data), one statement (at most
//! `max_statement_bytes`), and one COPY data chunk.

use std::io::{self, BufRead, Read};

/// COPY data is handed out in chunks of about this many bytes (whole lines).
const COPY_CHUNK: usize = 64 * 1024;

/// Lines outside COPY data are read whole (psql does the same). Even with a small statement
/// limit a line may be this long, so that a long comment between statements is not an error.
const MIN_LINE_CAP: usize = 1 << 20;

/// One piece of a plain SQL script, in the order psql would process it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptItem {
    /// An SQL statement including its terminating semicolon if it had one (a final statement at
    /// end of input without `;` is still emitted). Leading whitespace/comments between statements
    /// are not part of it. `line` is the 1-based line where the statement starts.
    Statement { sql: String, line: usize },
    /// The statement was `COPY ... FROM STDIN` (case-insensitive, also `FROM stdin WITH (...)`,
    /// and pg_dump's `COPY public.t (a, b) FROM stdin;`): emitted instead of `Statement`. The data
    /// that follows comes as `CopyData` chunks and then `CopyEnd`.
    CopyStart { sql: String, line: usize },
    /// Raw COPY data bytes (whole lines including their '\n'), at most about 64 KiB per chunk
    /// (a single longer line may exceed it). The terminating `\.` line is NOT included.
    ///
    /// Only a line longer than the reader's line limit (`max(max_statement_bytes, 1 MiB)`) is
    /// split over several chunks, so that memory stays bounded.
    CopyData(Vec<u8>),
    /// The `\.` line that ends COPY data was read. `line` is its line number.
    CopyEnd { line: usize },
    /// A psql meta-command: a backslash command such as `\connect db`, `\restrict KEY`, `\! ls`,
    /// `\o |cmd`, `\i file`, `\copy ...`, `\g |cmd`. `name` is the command without the backslash
    /// (e.g. "connect", "!", "o", "g"), `args` the rest of the line trimmed. The module never
    /// executes anything; the caller decides what to allow.
    ///
    /// As in psql the name runs up to whitespace or the next backslash (`\!ls` is the command
    /// "!ls", which psql rejects as invalid); `\\` gives the name "\\". `args` is the whole rest
    /// of the line: psql would stop a command's arguments at an unquoted backslash and go on with
    /// another meta-command (or, after `\\`, with SQL) on the same line, so a caller that allows
    /// a command must refuse arguments it cannot fully account for (see [`connect_target`]).
    MetaCommand {
        name: String,
        args: String,
        line: usize,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("line {line}: a statement longer than {limit} bytes")]
    StatementTooLong { line: usize, limit: usize },
    #[error("line {line}: the script ends inside COPY data (no \\. line)")]
    UnterminatedCopy { line: usize },
    #[error("line {line}: the script ends inside a quoted string, identifier or comment")]
    Unterminated { line: usize },
    #[error("reading the script: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads a script from any `BufRead` (the caller wraps decompressors around files).
///
/// After an error the reader is finished: `next_item` returns `Ok(None)`.
pub struct ScriptReader<R> {
    reader: R,
    max_statement_bytes: usize,
    /// The longest line read outside COPY data.
    line_cap: usize,
    bytes_read: u64,
    /// The current line of SQL text (with its `\n`, unless it is the last line) ...
    buf: Vec<u8>,
    /// ... the next byte of it to lex ...
    pos: usize,
    /// ... and its line number.
    buf_line: usize,
    /// The number of the next line to be read from `reader`.
    next_line: usize,
    mode: Mode,
    /// In COPY data, the line being read started in an earlier chunk (so it is not `\.`).
    copy_mid_line: bool,
    /// A `CopyEnd` to hand out after the last `CopyData` chunk.
    pending_copy_end: Option<usize>,
    /// The statement so far, the line it starts on, and whether it has started (anything other
    /// than whitespace and comments was seen).
    stmt: Vec<u8>,
    stmt_line: usize,
    started: bool,
    lx: Lexer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sql,
    /// In COPY data; `line` is where the COPY statement started.
    Copy {
        line: usize,
    },
    Done,
}

/// psql's lexer states that outlive a line (flex start conditions `xc`, `xq`/`xb`/`xh`/`xus`,
/// `xe`, `xd`/`xui` and `xdolq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    /// `/* ... */`; `depth` counts the nested comments opened inside the first.
    Comment {
        depth: u32,
    },
    /// `'...'`; `escape` for `E'...'`, where a backslash escapes the next character.
    Single {
        escape: bool,
    },
    /// `"..."` and `U&"..."`.
    Double,
    /// `$tag$ ... $tag$`; the tag is `Lexer::dollar_tag`.
    Dollar,
}

/// Recognises `COPY ... FROM STDIN` from the statement's tokens: COPY first, then the first
/// FROM or TO outside parentheses, and STDIN right after FROM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CopyDetect {
    Start,
    Copy,
    From,
    CopyIn,
    Other,
}

#[derive(Debug)]
struct Lexer {
    quote: Quote,
    /// Where the current quote or comment started (for `Unterminated`).
    quote_line: usize,
    dollar_tag: Vec<u8>,
    /// An `E'...'` string closed right at the end of a line: psql's `xqs` state, which may
    /// continue the string on the next line (see `quote_continuation`).
    xqs_pending: bool,
    paren_depth: u32,
    begin_depth: u32,
    /// psql's `identifier_count` and `identifiers[4]`: the first letters of the statement's
    /// leading CREATE / OR / REPLACE / FUNCTION / PROCEDURE keywords.
    ident_count: u32,
    idents: [u8; 4],
    copy: CopyDetect,
}

impl Lexer {
    fn new() -> Self {
        Self {
            quote: Quote::None,
            quote_line: 0,
            dollar_tag: Vec::new(),
            xqs_pending: false,
            paren_depth: 0,
            begin_depth: 0,
            ident_count: 0,
            idents: [0; 4],
            copy: CopyDetect::Start,
        }
    }

    fn open(&mut self, quote: Quote, line: usize) {
        self.quote = quote;
        self.quote_line = line;
    }

    /// A statement ended (psql resets `identifier_count` at a terminating semicolon).
    fn end_statement(&mut self) {
        self.ident_count = 0;
        self.copy = CopyDetect::Start;
    }

    /// `\;`: psql puts a `;` into the query without ending it; the server will see a new
    /// statement there.
    fn sub_statement(&mut self) {
        self.ident_count = 0;
        if self.copy != CopyDetect::CopyIn {
            self.copy = CopyDetect::Start;
        }
    }

    /// An identifier or unquoted keyword (psql's `{identifier}` rule).
    fn identifier(&mut self, word: &[u8]) {
        const MARKED: [&[u8]; 5] = [b"create", b"function", b"procedure", b"or", b"replace"];
        if self.ident_count == 0 {
            self.idents = [0; 4];
        }
        let n = self.ident_count as usize;
        if n < self.idents.len() && MARKED.iter().any(|k| word.eq_ignore_ascii_case(k)) {
            self.idents[n] = word[0].to_ascii_lowercase();
        }
        self.ident_count = self.ident_count.saturating_add(1);

        // psql's heuristic for SQL-standard bodies (CREATE [OR REPLACE] FUNCTION|PROCEDURE ...
        // BEGIN ATOMIC ... END): inside BEGIN, CASE also ends with END; only outside parentheses.
        let id = self.idents;
        let routine = id[0] == b'c'
            && (id[1] == b'f'
                || id[1] == b'p'
                || (id[1] == b'o' && id[2] == b'r' && (id[3] == b'f' || id[3] == b'p')));
        if routine && self.paren_depth == 0 {
            if word.eq_ignore_ascii_case(b"begin") {
                self.begin_depth = self.begin_depth.saturating_add(1);
            } else if word.eq_ignore_ascii_case(b"case") {
                if self.begin_depth >= 1 {
                    self.begin_depth = self.begin_depth.saturating_add(1);
                }
            } else if word.eq_ignore_ascii_case(b"end") {
                self.begin_depth = self.begin_depth.saturating_sub(1);
            }
        }

        self.copy = match self.copy {
            CopyDetect::Start if word.eq_ignore_ascii_case(b"copy") => CopyDetect::Copy,
            CopyDetect::Start => CopyDetect::Other,
            CopyDetect::Copy if self.paren_depth == 0 && word.eq_ignore_ascii_case(b"from") => {
                CopyDetect::From
            }
            CopyDetect::Copy if self.paren_depth == 0 && word.eq_ignore_ascii_case(b"to") => {
                CopyDetect::Other
            }
            CopyDetect::From if word.eq_ignore_ascii_case(b"stdin") => CopyDetect::CopyIn,
            CopyDetect::From => CopyDetect::Other,
            state => state,
        };
    }

    /// Any token other than an identifier.
    fn token(&mut self) {
        if matches!(self.copy, CopyDetect::Start | CopyDetect::From) {
            self.copy = CopyDetect::Other;
        }
    }
}

impl<R: BufRead> ScriptReader<R> {
    /// `max_statement_bytes` bounds one statement (the caller passes e.g. 256 MiB).
    pub fn new(reader: R, max_statement_bytes: usize) -> Self {
        Self {
            reader,
            max_statement_bytes,
            line_cap: max_statement_bytes.max(MIN_LINE_CAP),
            bytes_read: 0,
            buf: Vec::new(),
            pos: 0,
            buf_line: 1,
            next_line: 1,
            mode: Mode::Sql,
            copy_mid_line: false,
            pending_copy_end: None,
            stmt: Vec::new(),
            stmt_line: 1,
            started: false,
            lx: Lexer::new(),
        }
    }

    /// The next item, or `None` at end of input.
    pub fn next_item(&mut self) -> Result<Option<ScriptItem>, ScriptError> {
        let result = self.advance();
        if result.is_err() {
            self.mode = Mode::Done;
            self.pending_copy_end = None;
        }
        result
    }

    /// Bytes consumed from the underlying reader so far (for progress reporting).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The current 1-based line number.
    pub fn line(&self) -> usize {
        match self.mode {
            Mode::Sql if self.pos < self.buf.len() => self.buf_line,
            _ => self.next_line,
        }
    }

    fn advance(&mut self) -> Result<Option<ScriptItem>, ScriptError> {
        if let Some(line) = self.pending_copy_end.take() {
            return Ok(Some(ScriptItem::CopyEnd { line }));
        }
        match self.mode {
            Mode::Done => Ok(None),
            Mode::Copy { line } => self.copy_data(line).map(Some),
            Mode::Sql => loop {
                if self.pos >= self.buf.len() && !self.read_line()? {
                    return self.end_of_input();
                }
                let buf = std::mem::take(&mut self.buf);
                let step = self.lex(&buf);
                self.buf = buf;
                if let Some(item) = step? {
                    return Ok(Some(item));
                }
            },
        }
    }

    /// Reads the next line into `buf`; false at end of input.
    fn read_line(&mut self) -> Result<bool, ScriptError> {
        let first = self.bytes_read == 0;
        self.buf.clear();
        if self.buf.capacity() > 4 * MIN_LINE_CAP {
            self.buf.shrink_to(COPY_CHUNK);
        }
        self.pos = 0;
        self.buf_line = self.next_line;
        let cap = self.line_cap as u64 + 1;
        let n = (&mut self.reader)
            .take(cap)
            .read_until(b'\n', &mut self.buf)?;
        self.bytes_read += n as u64;
        if n == 0 {
            return Ok(false);
        }
        if self.buf.len() > self.line_cap && self.buf.last() != Some(&b'\n') {
            return Err(ScriptError::StatementTooLong {
                line: self.buf_line,
                limit: self.line_cap,
            });
        }
        // psql reads lines as C strings, so a NUL byte would silently cut a line short (and
        // could, say, hide the end of a comment); refuse it outside COPY data instead.
        if self.buf.contains(&0) {
            return Err(invalid_data(self.buf_line, "a NUL byte"));
        }
        if self.buf.last() == Some(&b'\n') {
            self.next_line += 1;
        }
        // psql ignores a UTF-8 byte order mark at the start of the script.
        if first && self.buf.starts_with(b"\xEF\xBB\xBF") {
            self.pos = 3;
        }
        Ok(true)
    }

    fn end_of_input(&mut self) -> Result<Option<ScriptItem>, ScriptError> {
        if self.lx.quote != Quote::None {
            return Err(ScriptError::Unterminated {
                line: self.lx.quote_line,
            });
        }
        self.mode = Mode::Done;
        if !self.started {
            return Ok(None);
        }
        // psql sends what is left at the end of the file, whatever the parenthesis depth.
        let len = self.stmt.trim_ascii_end().len();
        self.stmt.truncate(len);
        self.lx.paren_depth = 0;
        self.lx.begin_depth = 0;
        self.finish_statement().map(Some)
    }

    fn finish_statement(&mut self) -> Result<ScriptItem, ScriptError> {
        let line = self.stmt_line;
        let copy_in = self.lx.copy == CopyDetect::CopyIn;
        self.started = false;
        self.lx.end_statement();
        let sql = into_text(std::mem::take(&mut self.stmt), line)?;
        if copy_in {
            self.mode = Mode::Copy { line };
            self.copy_mid_line = false;
            Ok(ScriptItem::CopyStart { sql, line })
        } else {
            Ok(ScriptItem::Statement { sql, line })
        }
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), ScriptError> {
        if self.stmt.len() + bytes.len() > self.max_statement_bytes {
            return Err(ScriptError::StatementTooLong {
                line: self.stmt_line,
                limit: self.max_statement_bytes,
            });
        }
        self.stmt.extend_from_slice(bytes);
        Ok(())
    }

    /// Reads COPY data up to a chunk's worth of whole lines, or the end marker.
    ///
    /// psql (`handleCopyIn`) reads the data from the script itself, starting at the line after
    /// the COPY statement; the data ends at a line that is exactly `\.` (with `\n` or `\r\n`).
    fn copy_data(&mut self, copy_line: usize) -> Result<ScriptItem, ScriptError> {
        let mut chunk = Vec::with_capacity(COPY_CHUNK + 8 * 1024);
        let cap = self.line_cap as u64;
        loop {
            let line_start = chunk.len();
            let n = (&mut self.reader).take(cap).read_until(b'\n', &mut chunk)?;
            self.bytes_read += n as u64;
            if n == 0 {
                return Err(ScriptError::UnterminatedCopy { line: copy_line });
            }
            let complete = chunk.last() == Some(&b'\n');
            if !self.copy_mid_line && is_end_of_copy(&chunk[line_start..], complete) {
                chunk.truncate(line_start);
                let line = self.next_line;
                if complete {
                    self.next_line += 1;
                }
                self.mode = Mode::Sql;
                if chunk.is_empty() {
                    return Ok(ScriptItem::CopyEnd { line });
                }
                self.pending_copy_end = Some(line);
                return Ok(ScriptItem::CopyData(chunk));
            }
            if complete {
                self.next_line += 1;
            }
            self.copy_mid_line = !complete;
            // An incomplete line is either longer than `cap` or the last one in the input.
            if chunk.len() >= COPY_CHUNK || !complete {
                return Ok(ScriptItem::CopyData(chunk));
            }
        }
    }

    /// Lexes `buf[self.pos..]` (the current line) until an item is complete or the line ends.
    fn lex(&mut self, buf: &[u8]) -> Result<Option<ScriptItem>, ScriptError> {
        let n = buf.len();
        // The line as psql's lexer sees it: without its '\n'.
        let body_end = if buf.last() == Some(&b'\n') { n - 1 } else { n };
        let line = self.buf_line;
        let mut i = self.pos;
        // Where the statement text not yet copied into `stmt` starts in this line.
        let mut seg = if self.started { Some(i) } else { None };

        // psql skips an empty line (outside quotes and comments) without adding a newline to
        // the statement; the previous line's newline already separates.
        if i == 0 && buf == b"\n" && self.lx.quote == Quote::None {
            self.pos = n;
            return Ok(None);
        }

        if std::mem::take(&mut self.lx.xqs_pending) {
            if i >= body_end {
                // An empty line ("\r" is not empty): psql does not lex it.
                self.lx.xqs_pending = true;
            } else if let Some(j) = quote_continuation(&buf[i..body_end]) {
                self.lx.quote = Quote::Single { escape: true };
                i += j;
            }
        }

        while i < n {
            match self.lx.quote {
                Quote::None => {}
                Quote::Comment { depth } => {
                    i = match find2(&buf[i..], b'*', b'/') {
                        None => n,
                        Some(k) => {
                            let p = i + k;
                            let next = buf.get(p + 1).copied();
                            if buf[p] == b'/' && next == Some(b'*') {
                                self.lx.quote = Quote::Comment {
                                    depth: depth.saturating_add(1),
                                };
                                p + 2
                            } else if buf[p] == b'*' && next == Some(b'/') {
                                self.lx.quote = match depth {
                                    0 => Quote::None,
                                    d => Quote::Comment { depth: d - 1 },
                                };
                                p + 2
                            } else {
                                p + 1
                            }
                        }
                    };
                    continue;
                }
                Quote::Single { escape } => {
                    let found = if escape {
                        find2(&buf[i..], b'\'', b'\\')
                    } else {
                        find1(&buf[i..], b'\'')
                    };
                    i = match found {
                        None => n,
                        // E'...': a backslash escapes whatever follows, even a quote.
                        Some(k) if buf[i + k] == b'\\' => (i + k + 2).min(n),
                        Some(k) if buf.get(i + k + 1) == Some(&b'\'') => i + k + 2,
                        Some(k) => {
                            let mut end = i + k + 1;
                            self.lx.quote = Quote::None;
                            // psql's xqs state: `E'a'<newline>'b'` is one string, so the
                            // second part still takes backslash escapes. psql's lexer only
                            // sees a '\r' as a newline inside a line; a string that closes at
                            // the very end of a line may continue on the next one.
                            if escape {
                                if end >= body_end {
                                    self.lx.xqs_pending = true;
                                } else if let Some(j) = quote_continuation(&buf[end..body_end]) {
                                    self.lx.quote = Quote::Single { escape: true };
                                    end += j;
                                }
                            }
                            end
                        }
                    };
                    continue;
                }
                Quote::Double => {
                    i = match find1(&buf[i..], b'"') {
                        None => n,
                        Some(k) if buf.get(i + k + 1) == Some(&b'"') => i + k + 2,
                        Some(k) => {
                            self.lx.quote = Quote::None;
                            i + k + 1
                        }
                    };
                    continue;
                }
                Quote::Dollar => {
                    // Nothing is special inside a dollar quote except its closing tag.
                    let tag = &self.lx.dollar_tag;
                    let mut j = i;
                    let mut closed = None;
                    while let Some(k) = find1(&buf[j..], b'$') {
                        let after = j + k + 1;
                        if buf[after..].starts_with(tag)
                            && buf.get(after + tag.len()) == Some(&b'$')
                        {
                            closed = Some(after + tag.len() + 1);
                            break;
                        }
                        j = after;
                    }
                    match closed {
                        Some(end) => {
                            self.lx.quote = Quote::None;
                            i = end;
                        }
                        None => i = n,
                    }
                    continue;
                }
            }

            // Outside quotes and comments (psql's INITIAL state).
            let c = buf[i];
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0c => {
                    i += 1;
                    continue;
                }
                b'-' if buf.get(i + 1) == Some(&b'-') => {
                    // Kept in the statement text once it has started, skipped before.
                    i = find_line_end(buf, i + 2);
                    continue;
                }
                b'/' if buf.get(i + 1) == Some(&b'*') => {
                    self.lx.open(Quote::Comment { depth: 0 }, line);
                    i += 2;
                    continue;
                }
                b'\\' if !matches!(buf.get(i + 1), Some(b';' | b':')) => {
                    // A meta-command. In the middle of a statement psql runs it and then goes
                    // on collecting the statement (`\g` would even send it); we report it and
                    // keep the partial statement, which continues on the next line. The caller
                    // refuses whatever it does not allow, so nothing is lost silently.
                    // psql puts a newline between the lines of a statement, but not for a
                    // line that holds nothing but the meta-command (the previous line's
                    // newline is then the separator).
                    if let Some(s) = seg.filter(|&s| s < i) {
                        self.append(&buf[s..i])?;
                        self.append(b"\n")?;
                    }
                    self.pos = n;
                    return meta_command(&buf[i + 1..body_end], line).map(Some);
                }
                _ => {}
            }

            // Anything else is statement text.
            let start = match seg {
                Some(s) => s,
                None => {
                    self.started = true;
                    self.stmt_line = line;
                    seg = Some(i);
                    i
                }
            };
            match c {
                b';' => {
                    if self.lx.paren_depth == 0 && self.lx.begin_depth == 0 {
                        self.append(&buf[start..=i])?;
                        self.pos = i + 1;
                        return self.finish_statement().map(Some);
                    }
                    self.lx.token();
                    i += 1;
                }
                b'(' => {
                    self.lx.token();
                    self.lx.paren_depth = self.lx.paren_depth.saturating_add(1);
                    i += 1;
                }
                b')' => {
                    self.lx.token();
                    self.lx.paren_depth = self.lx.paren_depth.saturating_sub(1);
                    i += 1;
                }
                b'\'' => {
                    self.lx.token();
                    self.lx.open(Quote::Single { escape: false }, line);
                    i += 1;
                }
                b'"' => {
                    self.lx.token();
                    self.lx.open(Quote::Double, line);
                    i += 1;
                }
                b'\\' => {
                    // `\;` or `\:`: psql puts just the `;` or `:` into the statement, and a
                    // `\;` does not end it (the server gets several statements at once).
                    self.append(&buf[start..i])?;
                    seg = Some(i + 1);
                    if buf[i + 1] == b';' {
                        self.lx.sub_statement();
                    } else {
                        self.lx.token();
                    }
                    i += 2;
                }
                b'$' => i = self.dollar(buf, i, line),
                b':' => {
                    self.lx.token();
                    i = colon_end(buf, i);
                }
                b'0'..=b'9' => {
                    self.lx.token();
                    i = number_end(buf, i);
                }
                b'.' if buf.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                    self.lx.token();
                    i = number_end(buf, i);
                }
                c if is_ident_start(c) => i = self.word(buf, i, line),
                _ => {
                    self.lx.token();
                    i += 1;
                }
            }
        }

        if let Some(s) = seg {
            self.append(&buf[s..n])?;
        }
        self.pos = n;
        Ok(None)
    }

    /// A token starting with a letter: a string with a prefix (`E'`, `B'`, `X'`, `U&'`,
    /// `U&"`) or an identifier. Flex takes the longest match, so a prefix only counts when the
    /// letter starts the token (`xe'...'` is the identifier `xe` and a plain string).
    fn word(&mut self, buf: &[u8], i: usize, line: usize) -> usize {
        let next = buf.get(i + 1).copied();
        match (buf[i], next) {
            (b'e' | b'E', Some(b'\'')) => {
                self.lx.token();
                self.lx.open(Quote::Single { escape: true }, line);
                i + 2
            }
            (b'b' | b'B' | b'x' | b'X', Some(b'\'')) => {
                self.lx.token();
                self.lx.open(Quote::Single { escape: false }, line);
                i + 2
            }
            // N'...': psql takes the N alone; the quote then starts a plain string.
            (b'n' | b'N', Some(b'\'')) => {
                self.lx.token();
                i + 1
            }
            (b'u' | b'U', Some(b'&')) => {
                self.lx.token();
                match buf.get(i + 2) {
                    Some(b'\'') => {
                        self.lx.open(Quote::Single { escape: false }, line);
                        i + 3
                    }
                    Some(b'"') => {
                        self.lx.open(Quote::Double, line);
                        i + 3
                    }
                    _ => i + 1,
                }
            }
            _ => {
                let end = scan(buf, i + 1, is_ident_cont);
                self.lx.identifier(&buf[i..end]);
                end
            }
        }
    }

    /// A token starting with `$`: a dollar quote, a parameter (`$1`) or a lone `$`. (A `$`
    /// inside an identifier, as in `a$b$`, never gets here: identifiers include `$`.)
    fn dollar(&mut self, buf: &[u8], i: usize, line: usize) -> usize {
        self.lx.token();
        match buf.get(i + 1).copied() {
            Some(d) if d.is_ascii_digit() => {
                junk_end(buf, scan(buf, i + 1, |c| c.is_ascii_digit()))
            }
            Some(b'$') => {
                self.lx.dollar_tag.clear();
                self.lx.open(Quote::Dollar, line);
                i + 2
            }
            Some(c) if is_ident_start(c) => {
                let j = scan(buf, i + 2, is_dolq_cont);
                if buf.get(j) == Some(&b'$') {
                    self.lx.dollar_tag.clear();
                    self.lx.dollar_tag.extend_from_slice(&buf[i + 1..j]);
                    self.lx.open(Quote::Dollar, line);
                    j + 1
                } else {
                    // psql's dolqfailed: only the `$` is taken, the rest is lexed again.
                    i + 1
                }
            }
            _ => i + 1,
        }
    }
}

impl<R: BufRead> Iterator for ScriptReader<R> {
    type Item = Result<ScriptItem, ScriptError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_item().transpose()
    }
}

/// `rest` is the line after the backslash (without its newline).
fn meta_command(rest: &[u8], line: usize) -> Result<ScriptItem, ScriptError> {
    let (name, args) = if rest.first() == Some(&b'\\') {
        rest.split_at(1)
    } else {
        // psqlscanslash.l: the command name ends at whitespace or a backslash.
        let k = rest
            .iter()
            .position(|&b| is_space(b) || b == b'\\')
            .unwrap_or(rest.len());
        rest.split_at(k)
    };
    Ok(ScriptItem::MetaCommand {
        name: into_text(name.to_vec(), line)?,
        args: into_text(args.trim_ascii().to_vec(), line)?,
        line,
    })
}

fn into_text(bytes: Vec<u8>, line: usize) -> Result<String, ScriptError> {
    String::from_utf8(bytes).map_err(|e| invalid_data(line, &format!("invalid UTF-8 ({e})")))
}

fn invalid_data(line: usize, what: &str) -> ScriptError {
    ScriptError::Io(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("line {line}: {what} in the script"),
    ))
}

fn is_end_of_copy(line: &[u8], complete: bool) -> bool {
    matches!(line, b"\\.\n" | b"\\.\r\n") || (!complete && matches!(line, b"\\." | b"\\.\r"))
}

/// psql's xqs state after an `E'...'` string (`quotecontinue` in psqlscan.l): horizontal
/// whitespace or `--` comments, a newline, any whitespace or comments ending in a newline, and
/// a quote continue the same string. `s` is the rest of the line without its '\n', so the
/// only newline psql's lexer can see here is '\r'. Returns the offset after that quote.
fn quote_continuation(s: &[u8]) -> Option<usize> {
    let mut j = 0;
    loop {
        match s.get(j) {
            Some(b' ' | b'\t' | 0x0c) => j += 1,
            Some(b'-') if s.get(j + 1) == Some(&b'-') => j += find1(&s[j..], b'\r')?,
            _ => break,
        }
    }
    if s.get(j) != Some(&b'\r') {
        return None;
    }
    j += 1;
    loop {
        match s.get(j) {
            Some(b' ' | b'\t' | b'\r' | 0x0c) => j += 1,
            Some(b'-') if s.get(j + 1) == Some(&b'-') => j += find1(&s[j..], b'\r')? + 1,
            _ => break,
        }
    }
    (s.get(j) == Some(&b'\'')).then_some(j + 1)
}

/// After `:` (psql's variable rules and the `::` / `:=` operators): `:name`, `:'name'`,
/// `:"name"` and `:{?name}` are single tokens, so e.g. the quote in `:'a'` starts no string.
fn colon_end(b: &[u8], i: usize) -> usize {
    match b.get(i + 1).copied() {
        Some(b':' | b'=') => i + 2,
        Some(c) if is_var_char(c) => scan(b, i + 1, is_var_char),
        Some(q @ (b'\'' | b'"')) => {
            let j = scan(b, i + 2, is_var_char);
            if j > i + 2 && b.get(j) == Some(&q) {
                j + 1
            } else {
                i + 1
            }
        }
        Some(b'{') if b.get(i + 2) == Some(&b'?') => {
            let j = scan(b, i + 3, is_var_char);
            if j > i + 3 && b.get(j) == Some(&b'}') {
                j + 1
            } else {
                i + 1
            }
        }
        _ => i + 1,
    }
}

/// The end of a numeric token starting at `i` (a digit, or a `.` before a digit), following
/// the longest-match rules of psqlscan.l (PostgreSQL 15+): an identifier right after a number
/// is part of the token ("trailing junk"), and `1e-` is one token, so `1e--` starts no comment.
fn number_end(b: &[u8], i: usize) -> usize {
    let base_end = if b[i] == b'.' {
        dec_integer_end(b, i + 1).unwrap_or(i + 1)
    } else {
        let d = dec_integer_end(b, i).unwrap_or(i + 1);
        if b.get(d) != Some(&b'.') {
            d
        } else if b.get(d + 1) == Some(&b'.') {
            // `1..`: the integer, then `..`
            return d;
        } else {
            dec_integer_end(b, d + 1).unwrap_or(d + 1)
        }
    };
    if matches!(b.get(base_end), Some(b'e' | b'E'))
        && matches!(b.get(base_end + 1), Some(b'+' | b'-'))
    {
        return match dec_integer_end(b, base_end + 2) {
            Some(e) => junk_end(b, e),
            None => base_end + 2,
        };
    }
    junk_end(b, base_end)
}

/// `[0-9](_?[0-9])*` starting at `i`.
fn dec_integer_end(b: &[u8], i: usize) -> Option<usize> {
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut j = i + 1;
    loop {
        match b.get(j) {
            Some(d) if d.is_ascii_digit() => j += 1,
            Some(b'_') if b.get(j + 1).is_some_and(u8::is_ascii_digit) => j += 2,
            _ => return Some(j),
        }
    }
}

/// An identifier glued to the end of a number or parameter belongs to the same token.
fn junk_end(b: &[u8], i: usize) -> usize {
    if b.get(i).is_some_and(|&c| is_ident_start(c)) {
        scan(b, i + 1, is_ident_cont)
    } else {
        i
    }
}

fn scan(b: &[u8], from: usize, pred: impl Fn(u8) -> bool) -> usize {
    let from = from.min(b.len());
    from + b[from..]
        .iter()
        .position(|&c| !pred(c))
        .unwrap_or(b.len() - from)
}

/// Where a `--` comment ends: at a '\n' or '\r' (psql's `non_newline`).
fn find_line_end(b: &[u8], from: usize) -> usize {
    let from = from.min(b.len());
    from + find2(&b[from..], b'\n', b'\r').unwrap_or(b.len() - from)
}

fn find1(b: &[u8], x: u8) -> Option<usize> {
    b.iter().position(|&c| c == x)
}

fn find2(b: &[u8], x: u8, y: u8) -> Option<usize> {
    b.iter().position(|&c| c == x || c == y)
}

/// psql's `space`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// psql's `ident_start` (also `dolq_start`).
fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

/// psql's `ident_cont`: identifiers may contain `$`.
fn is_ident_cont(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || c == b'$'
}

/// psql's `dolq_cont` (a dollar-quote tag has no `$`).
fn is_dolq_cont(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

/// psql's `variable_char`.
fn is_var_char(c: u8) -> bool {
    is_dolq_cont(c)
}

/// The database name in the arguments of `\connect` as pg_dump/pg_dumpall write it:
/// `chinook`, `"my db"`, `-reuse-previous=on "dbname='my db'"`, `-reuse-previous=on "dbname='it\'s'"`.
/// Names that need quoting are written as a libpq conninfo (`dbname='...'`, where libpq's own
/// escapes are `\'` and `\\`; a doubled `''` is accepted too) wrapped in psql double quotes
/// (inside which `""` is a literal `"`). Returns None when there is no database name.
///
/// The arguments are parsed as psql parses them (`read_connect_arg`: whitespace-separated,
/// double quotes kept then stripped, single quotes with backslash escapes, trailing unquoted
/// semicolons dropped), and a name that psql would take as a connection string
/// (`key=value ...`) must set `dbname` and nothing else.
///
/// None also means "not safe to follow": anything else on the line (a user, host or port that
/// psql would switch to, another meta-command or SQL after an unquoted backslash, a backquoted
/// shell command, a psql variable), other connection parameters, a URI, or a name that libpq
/// could itself expand as a connection string. A caller should refuse such a `\connect`.
pub fn connect_target(args: &str) -> Option<String> {
    let parsed = slash_args(args)?;
    let mut rest = parsed.as_slice();
    if let Some(first) = rest.first() {
        if let Some(value) = first.text.strip_prefix("-reuse-previous=") {
            if !is_psql_bool(value) {
                return None;
            }
            rest = &rest[1..];
        }
    }
    // \connect [dbname [user [host [port]]]]: anything after the name changes the login or server.
    let [db] = rest else {
        return None;
    };
    // psql takes an unquoted `-` or empty argument as "no database name".
    if !db.quoted && (db.text.is_empty() || db.text == "-") {
        return None;
    }
    if is_uri(&db.text) {
        return None;
    }
    let name = if db.text.contains('=') {
        conninfo_dbname(&db.text)?
    } else {
        db.text.clone()
    };
    if name.is_empty() || name.contains('=') || is_uri(&name) {
        return None;
    }
    Some(name)
}

struct SlashArg {
    text: String,
    quoted: bool,
}

/// Splits meta-command arguments the way psqlscanslash.l does for `\connect` (OT_SQLIDHACK,
/// trailing semicolons stripped). None for constructs we will not interpret.
fn slash_args(s: &str) -> Option<Vec<SlashArg>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            return Some(out);
        }
        if b[i] == b'\\' {
            // The end of this command: psql would go on with another one, or with SQL.
            return None;
        }
        let mut raw = Vec::new();
        let mut quoted = false;
        let mut unquoted_tail = 0usize;
        while i < b.len() && !is_space(b[i]) && b[i] != b'\\' {
            match b[i] {
                b'\'' => {
                    quoted = true;
                    unquoted_tail = 0;
                    i = slash_single_quoted(b, i + 1, &mut raw)?;
                }
                b'"' => {
                    // Kept with its quotes here; `dequote` removes them below.
                    quoted = true;
                    unquoted_tail = 0;
                    let end = i + 1 + find1(&b[i + 1..], b'"')?;
                    raw.extend_from_slice(&b[i..=end]);
                    i = end + 1;
                }
                // psql runs backquoted text as a shell command.
                b'`' => return None,
                // psql variable interpolation.
                b':' if b
                    .get(i + 1)
                    .is_some_and(|&c| is_var_char(c) || matches!(c, b'\'' | b'"' | b'{')) =>
                {
                    return None;
                }
                c => {
                    raw.push(c);
                    unquoted_tail += 1;
                    i += 1;
                }
            }
        }
        while unquoted_tail > 0 && raw.last() == Some(&b';') {
            raw.pop();
            unquoted_tail -= 1;
        }
        let text = String::from_utf8(dequote(&raw)).ok()?;
        if text.contains('\0') {
            return None;
        }
        out.push(SlashArg { text, quoted });
    }
}

/// A single-quoted meta-command argument starting after the quote (psqlscanslash.l's
/// `xslashquote`). Returns the offset after the closing quote.
fn slash_single_quoted(b: &[u8], mut i: usize, raw: &mut Vec<u8>) -> Option<usize> {
    loop {
        match *b.get(i)? {
            b'\'' if b.get(i + 1) == Some(&b'\'') => {
                raw.push(b'\'');
                i += 2;
            }
            b'\'' => return Some(i + 1),
            b'\\' => {
                let c = *b.get(i + 1)?;
                i += 2;
                match c {
                    b'n' => raw.push(b'\n'),
                    b't' => raw.push(b'\t'),
                    b'b' => raw.push(0x08),
                    b'r' => raw.push(b'\r'),
                    b'f' => raw.push(0x0c),
                    b'0'..=b'7' => {
                        let mut v = u32::from(c - b'0');
                        for _ in 0..2 {
                            match b.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        raw.push((v & 0xff) as u8);
                    }
                    b'x' if b.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                        let mut v = 0u32;
                        for _ in 0..2 {
                            match b.get(i).and_then(|&d| char::from(d).to_digit(16)) {
                                Some(d) => {
                                    v = v * 16 + d;
                                    i += 1;
                                }
                                None => break,
                            }
                        }
                        raw.push((v & 0xff) as u8);
                    }
                    other => raw.push(other),
                }
            }
            c => {
                raw.push(c);
                i += 1;
            }
        }
    }
}

/// psql's `dequote_downcase_identifier` without downcasing: double quotes are removed, and
/// inside them `""` stands for `"`.
fn dequote(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut in_quotes = false;
    let mut k = 0;
    while k < raw.len() {
        if raw[k] == b'"' {
            if in_quotes && raw.get(k + 1) == Some(&b'"') {
                out.push(b'"');
                k += 2;
                continue;
            }
            in_quotes = !in_quotes;
        } else {
            out.push(raw[k]);
        }
        k += 1;
    }
    out
}

/// psql's `ParseVariableBool`.
fn is_psql_bool(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    let prefix_of = |word: &str| word.starts_with(v.as_str());
    !v.is_empty()
        && (prefix_of("true")
            || prefix_of("false")
            || prefix_of("yes")
            || prefix_of("no")
            || (v.len() >= 2 && (prefix_of("on") || prefix_of("off")))
            || v == "1"
            || v == "0")
}

fn is_uri(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    lower.starts_with("postgresql://") || lower.starts_with("postgres://")
}

/// The `dbname` of a libpq `key=value` connection string that sets nothing else.
fn conninfo_dbname(s: &str) -> Option<String> {
    let pairs = parse_conninfo(s)?;
    match pairs.as_slice() {
        [(key, value)] if key == "dbname" => Some(value.clone()),
        _ => None,
    }
}

/// libpq's `conninfo_parse`: `key = value` pairs, values bare or single-quoted, with
/// backslash escapes. Inside quotes `''` is also taken as a quote (see `connect_target`).
fn parse_conninfo(s: &str) -> Option<Vec<(String, String)>> {
    fn ws(c: u8) -> bool {
        matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
    }
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            return Some(out);
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !ws(b[i]) {
            i += 1;
        }
        let key = String::from_utf8(b[start..i].to_vec()).ok()?;
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        let mut value = Vec::new();
        if b.get(i) == Some(&b'\'') {
            i += 1;
            loop {
                match *b.get(i)? {
                    b'\\' => {
                        value.push(*b.get(i + 1)?);
                        i += 2;
                    }
                    b'\'' if b.get(i + 1) == Some(&b'\'') => {
                        value.push(b'\'');
                        i += 2;
                    }
                    b'\'' => {
                        i += 1;
                        break;
                    }
                    c => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < b.len() && !ws(b[i]) {
                if b[i] == b'\\' {
                    i += 1;
                    if i >= b.len() {
                        break;
                    }
                }
                value.push(b[i]);
                i += 1;
            }
        }
        out.push((key, String::from_utf8(value).ok()?));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    const MAX: usize = 1 << 20;

    fn collect<R: BufRead>(reader: R, max: usize) -> Result<Vec<ScriptItem>, ScriptError> {
        let mut r = ScriptReader::new(reader, max);
        let mut out = Vec::new();
        while let Some(item) = r.next_item()? {
            out.push(item);
        }
        assert!(r.next_item()?.is_none(), "None again after the end");
        Ok(out)
    }

    /// All items; also checks that a reader handing out one byte at a time gives the same.
    fn items_bytes(input: &[u8]) -> Vec<ScriptItem> {
        let whole = collect(input, MAX).unwrap();
        let trickled = collect(BufReader::with_capacity(1, input), MAX).unwrap();
        assert_eq!(whole, trickled);
        whole
    }

    fn items(input: &str) -> Vec<ScriptItem> {
        items_bytes(input.as_bytes())
    }

    fn error(input: &[u8], max: usize) -> ScriptError {
        collect(input, max).expect_err("an error")
    }

    /// The SQL of the statements only.
    fn sqls(input: &str) -> Vec<String> {
        items(input)
            .into_iter()
            .filter_map(|item| match item {
                ScriptItem::Statement { sql, .. } => Some(sql),
                _ => None,
            })
            .collect()
    }

    fn stmt(sql: &str, line: usize) -> ScriptItem {
        ScriptItem::Statement {
            sql: sql.into(),
            line,
        }
    }

    fn meta(name: &str, args: &str, line: usize) -> ScriptItem {
        ScriptItem::MetaCommand {
            name: name.into(),
            args: args.into(),
            line,
        }
    }

    fn copy_start(sql: &str, line: usize) -> ScriptItem {
        ScriptItem::CopyStart {
            sql: sql.into(),
            line,
        }
    }

    fn data(bytes: &str) -> ScriptItem {
        ScriptItem::CopyData(bytes.as_bytes().to_vec())
    }

    #[test]
    fn splits_statements_on_semicolons() {
        assert_eq!(
            items("SELECT 1; SELECT 2;\nSELECT\n  3;\n"),
            vec![
                stmt("SELECT 1;", 1),
                stmt("SELECT 2;", 1),
                stmt("SELECT\n  3;", 2)
            ]
        );
        // psql sends even an empty statement.
        assert_eq!(items(";\n"), vec![stmt(";", 1)]);
        // psql leaves out empty lines inside a statement, except within quotes.
        assert_eq!(
            sqls("SELECT 1\n\n\n+ 2;\nSELECT 'a\n\nb', $$\n\n$$ /*\n\n*/;"),
            vec!["SELECT 1\n+ 2;", "SELECT 'a\n\nb', $$\n\n$$ /*\n\n*/;"]
        );
    }

    #[test]
    fn statement_lines_are_where_the_statement_starts() {
        let input =
            "\n\n-- header\n/* block\n comment */\n\n  CREATE TABLE t (\n  a int\n);\n\nSELECT 1;";
        assert_eq!(
            items(input),
            vec![
                stmt("CREATE TABLE t (\n  a int\n);", 7),
                stmt("SELECT 1;", 11)
            ]
        );
    }

    #[test]
    fn comments_hide_semicolons() {
        assert_eq!(
            sqls("SELECT 1 -- not the end;\n+ 1;\nSELECT /* a; /* nested; */ still; */ 2;\n"),
            vec![
                "SELECT 1 -- not the end;\n+ 1;",
                "SELECT /* a; /* nested; */ still; */ 2;"
            ]
        );
        // A comment does not start a quote either.
        assert_eq!(sqls("SELECT 1 -- it's\n;"), vec!["SELECT 1 -- it's\n;"]);
        // psql ends a `--` comment at a carriage return too.
        assert_eq!(
            sqls("SELECT 1 -- c\r; SELECT 2;"),
            vec!["SELECT 1 -- c\r;", "SELECT 2;"]
        );
        // Comments between statements are not part of either.
        assert_eq!(
            sqls("SELECT 1; -- one\n/* two; */ SELECT 2;"),
            vec!["SELECT 1;", "SELECT 2;"]
        );
    }

    #[test]
    fn quotes_hide_semicolons() {
        assert_eq!(
            sqls(concat!(
                "SELECT 'it''s; fine';\n",
                "SELECT E'\\';', e'\\\\';\n",
                "SELECT \"weird;ident\", \"a\"\"; b\";\n",
                "SELECT U&'\\0041;', U&\"x;\", B'1;', X'f;', N'n;';\n",
                "SELECT 'two\nlines;';\n",
            )),
            vec![
                "SELECT 'it''s; fine';",
                "SELECT E'\\';', e'\\\\';",
                "SELECT \"weird;ident\", \"a\"\"; b\";",
                "SELECT U&'\\0041;', U&\"x;\", B'1;', X'f;', N'n;';",
                "SELECT 'two\nlines;';",
            ]
        );
        // Without the E prefix a backslash is an ordinary character ...
        assert_eq!(
            sqls("SELECT '\\'; SELECT 2;"),
            vec!["SELECT '\\';", "SELECT 2;"]
        );
        // ... and E is only a prefix at the start of a token.
        assert_eq!(
            sqls("SELECT xe'\\'; SELECT 2;"),
            vec!["SELECT xe'\\';", "SELECT 2;"]
        );
        assert_eq!(
            sqls("SELECT 1e'\\'; SELECT 2;"),
            vec!["SELECT 1e'\\';", "SELECT 2;"]
        );
    }

    #[test]
    fn escape_string_continues_after_a_carriage_return() {
        // psql's xqs state: E'a' CR 'b\'...' is one escape string.
        assert_eq!(
            sqls("SELECT E'a'\r'\\';';\nSELECT 2;"),
            vec!["SELECT E'a'\r'\\';';", "SELECT 2;"]
        );
        // A plain string after a newline is a new, plain string: psql never sees the '\n'.
        assert_eq!(
            sqls("SELECT E'a'\n'\\'; SELECT 2;"),
            vec!["SELECT E'a'\n'\\';", "SELECT 2;"]
        );
    }

    #[test]
    fn dollar_quotes() {
        assert_eq!(
            sqls(concat!(
                "SELECT $$ a; 'b $$;\n",
                "SELECT $fn$ x; $$ y; $f$ $fn$;\n",
                "SELECT $_1é$ ; $_1é$;\n",
                "SELECT $a$ multi\nline; $a$;\n",
            )),
            vec![
                "SELECT $$ a; 'b $$;",
                "SELECT $fn$ x; $$ y; $f$ $fn$;",
                "SELECT $_1é$ ; $_1é$;",
                "SELECT $a$ multi\nline; $a$;",
            ]
        );
        // Tags are case-sensitive.
        assert_eq!(
            sqls("SELECT $A$ ; $a$ ; $A$;"),
            vec!["SELECT $A$ ; $a$ ; $A$;"]
        );
    }

    #[test]
    fn dollar_signs_that_are_not_quotes() {
        // A parameter.
        assert_eq!(
            sqls("PREPARE p AS SELECT $1; SELECT 2;"),
            vec!["PREPARE p AS SELECT $1;", "SELECT 2;"]
        );
        // `$` inside identifiers.
        assert_eq!(
            sqls("SELECT a$b$; SELECT 2;"),
            vec!["SELECT a$b$;", "SELECT 2;"]
        );
        assert_eq!(
            sqls("SELECT a$$; SELECT 2;"),
            vec!["SELECT a$$;", "SELECT 2;"]
        );
        // `$1$$`: the parameter ends at the `$`, which then starts a dollar quote.
        assert_eq!(sqls("SELECT $1$$; x $$;"), vec!["SELECT $1$$; x $$;"]);
        // A lone `$` or a failed tag.
        assert_eq!(
            sqls("SELECT $; SELECT $a; SELECT 2;"),
            vec!["SELECT $;", "SELECT $a;", "SELECT 2;"]
        );
    }

    #[test]
    fn parentheses_hold_semicolons() {
        let rule = "CREATE RULE r AS ON INSERT TO t DO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));";
        assert_eq!(sqls(&format!("{rule}\nSELECT 1;")), vec![rule, "SELECT 1;"]);
        // A stray `)` does not make the depth negative.
        assert_eq!(
            sqls("SELECT 1); SELECT 2;"),
            vec!["SELECT 1);", "SELECT 2;"]
        );
    }

    #[test]
    fn begin_atomic_bodies() {
        let function = "CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT x;\nEND;";
        let procedure = "create procedure p() begin atomic insert into t values (1); end;";
        let input = format!("{function}\n{procedure}\nSELECT 1;\n");
        assert_eq!(
            items(&input),
            vec![stmt(function, 1), stmt(procedure, 6), stmt("SELECT 1;", 7)]
        );
        // Outside CREATE FUNCTION/PROCEDURE, BEGIN and END are ordinary statements.
        assert_eq!(
            sqls("BEGIN;\nSELECT CASE WHEN true THEN 1 END;\nEND;\n"),
            vec!["BEGIN;", "SELECT CASE WHEN true THEN 1 END;", "END;"]
        );
    }

    #[test]
    fn plpgsql_bodies_are_opaque() {
        let function = "CREATE FUNCTION public.f() RETURNS trigger\n    LANGUAGE plpgsql\n    AS $$\nBEGIN\n  IF true THEN\n    RETURN NEW;\n  END IF;\n  BEGIN\n    NULL;\n  END;\n  RETURN NULL;\nEND;\n$$;";
        assert_eq!(
            items(&format!(
                "{function}\n\nALTER FUNCTION public.f() OWNER TO postgres;\n"
            )),
            vec![
                stmt(function, 1),
                stmt("ALTER FUNCTION public.f() OWNER TO postgres;", 15)
            ]
        );
    }

    #[test]
    fn backslash_semicolon_does_not_end_a_statement() {
        assert_eq!(
            items("SELECT 1\\; SELECT 2;\nSELECT a\\:b;"),
            vec![stmt("SELECT 1; SELECT 2;", 1), stmt("SELECT a:b;", 2)]
        );
    }

    #[test]
    fn variable_forms_are_single_tokens() {
        // psql lexes `:a` as one token (then `$$` opens a quote), and `:'v'` as one token (so
        // the next quote opens a string).
        assert_eq!(sqls("SELECT :a$$; x $$;"), vec!["SELECT :a$$; x $$;"]);
        assert_eq!(sqls("SELECT :'v''; x';"), vec!["SELECT :'v''; x';"]);
        assert_eq!(
            sqls("SELECT 1::int; SELECT 2;"),
            vec!["SELECT 1::int;", "SELECT 2;"]
        );
    }

    #[test]
    fn numbers_follow_psql_tokens() {
        // `1e-` is one token (PostgreSQL 15+), so `1e--1` holds no comment.
        assert_eq!(
            sqls("SELECT 1e--1;\nSELECT 2;"),
            vec!["SELECT 1e--1;", "SELECT 2;"]
        );
        // `1$$` is a number and then a dollar quote.
        assert_eq!(sqls("SELECT 1$$; $$;"), vec!["SELECT 1$$; $$;"]);
        // `1a$$` is one (junk) token including the dollars.
        assert_eq!(
            sqls("SELECT 1a$$; SELECT 2;"),
            vec!["SELECT 1a$$;", "SELECT 2;"]
        );
        assert_eq!(sqls("SELECT 1.5e+3, .5, 0x1F, 1_000; SELECT 2;").len(), 2);
    }

    #[test]
    fn copy_from_stdin() {
        let input = "COPY public.t (a, b) FROM stdin;\n1\ta\\.b\n2\t\\\\.\n\\.x\n \\.\n3\t\\N\n\\.\nSELECT 1;\n";
        assert_eq!(
            items(input),
            vec![
                copy_start("COPY public.t (a, b) FROM stdin;", 1),
                data("1\ta\\.b\n2\t\\\\.\n\\.x\n \\.\n3\t\\N\n"),
                ScriptItem::CopyEnd { line: 7 },
                stmt("SELECT 1;", 8),
            ]
        );
        // CRLF line ends; an empty COPY; other spellings.
        assert_eq!(
            items(
                "copy t from STDIN with (format csv);\r\n1,2\r\n\\.\r\nCOPY t FROM stdin;\n\\.\n"
            ),
            vec![
                copy_start("copy t from STDIN with (format csv);", 1),
                data("1,2\r\n"),
                ScriptItem::CopyEnd { line: 3 },
                copy_start("COPY t FROM stdin;", 4),
                ScriptItem::CopyEnd { line: 5 },
            ]
        );
        // Comments, newlines and column lists between the words; `\.` at the very end.
        assert_eq!(
            items("COPY t /* c */ (a)\n  FROM -- c\n STDIN;\nx\n\\."),
            vec![
                copy_start("COPY t /* c */ (a)\n  FROM -- c\n STDIN;", 1),
                data("x\n"),
                ScriptItem::CopyEnd { line: 5 },
            ]
        );
    }

    #[test]
    fn copy_data_is_read_after_the_copy_line() {
        // psql reads the data from the next line and lexes the rest of the COPY line after it.
        assert_eq!(
            items("COPY t FROM stdin; SELECT 1;\ndata\n\\.\nSELECT 2;\n"),
            vec![
                copy_start("COPY t FROM stdin;", 1),
                data("data\n"),
                ScriptItem::CopyEnd { line: 3 },
                stmt("SELECT 1;", 1),
                stmt("SELECT 2;", 4),
            ]
        );
    }

    #[test]
    fn copy_data_is_chunked() {
        let mut rows = String::new();
        for i in 0..20_000 {
            rows.push_str(&format!("{i}\tsome text with \\\\ backslashes\t\\N\n"));
        }
        assert!(rows.len() > 3 * COPY_CHUNK);
        let input = format!("COPY t FROM stdin;\n{rows}\\.\nSELECT 1;\n");
        let all = items(&input);
        assert_eq!(all[0], copy_start("COPY t FROM stdin;", 1));
        let chunks: Vec<&[u8]> = all
            .iter()
            .filter_map(|item| match item {
                ScriptItem::CopyData(d) => Some(d.as_slice()),
                _ => None,
            })
            .collect();
        assert!(chunks.len() >= 3, "{} chunks", chunks.len());
        for chunk in &chunks {
            assert!(chunk.len() < COPY_CHUNK + 100);
            assert!(chunk.ends_with(b"\n"), "whole lines");
        }
        assert_eq!(chunks.concat(), rows.as_bytes());
        let n = all.len();
        assert_eq!(all[n - 2], ScriptItem::CopyEnd { line: 20_002 });
        assert_eq!(all[n - 1], stmt("SELECT 1;", 20_003));
    }

    #[test]
    fn other_copies_are_plain_statements() {
        assert_eq!(
            items(
                "COPY t TO stdout;\nCOPY t FROM '/etc/passwd';\nCOPY t FROM PROGRAM 'id';\nCOPY (SELECT * FROM stdin) TO STDOUT;\nCOPY \"stdin\" FROM stdout;\nSELECT 'COPY t FROM stdin';\n"
            ),
            vec![
                stmt("COPY t TO stdout;", 1),
                stmt("COPY t FROM '/etc/passwd';", 2),
                stmt("COPY t FROM PROGRAM 'id';", 3),
                stmt("COPY (SELECT * FROM stdin) TO STDOUT;", 4),
                stmt("COPY \"stdin\" FROM stdout;", 5),
                stmt("SELECT 'COPY t FROM stdin';", 6),
            ]
        );
    }

    #[test]
    fn meta_commands_at_the_start_of_a_line() {
        let input = "\\connect chinook\n\\restrict abc\n\\! rm -rf /\n\\o |cat\n\\i /etc/passwd\n\\copy t from program 'id'\n  \\c  \"my db\"  \r\n\\!ls\n\\\\ x\n\\set x `id`\n\\\nSELECT 1;\n";
        assert_eq!(
            items(input),
            vec![
                meta("connect", "chinook", 1),
                meta("restrict", "abc", 2),
                meta("!", "rm -rf /", 3),
                meta("o", "|cat", 4),
                meta("i", "/etc/passwd", 5),
                meta("copy", "t from program 'id'", 6),
                meta("c", "\"my db\"", 7),
                meta("!ls", "", 8),
                meta("\\", "x", 9),
                meta("set", "x `id`", 10),
                meta("", "", 11),
                stmt("SELECT 1;", 12),
            ]
        );
        // A command name ends at the next backslash.
        assert_eq!(items("\\connect\\! id"), vec![meta("connect", "\\! id", 1)]);
    }

    #[test]
    fn meta_command_in_the_middle_of_a_statement() {
        assert_eq!(
            items("SELECT 1 \\g |id\n;\nSELECT 'a'\n\\echo hi\n, 'b';"),
            vec![
                meta("g", "|id", 1),
                stmt("SELECT 1 \n;", 1),
                meta("echo", "hi", 4),
                stmt("SELECT 'a'\n, 'b';", 3),
            ]
        );
        // After a complete statement on the same line.
        assert_eq!(
            items("SELECT 1; \\! id\n"),
            vec![stmt("SELECT 1;", 1), meta("!", "id", 1)]
        );
    }

    #[test]
    fn backslashes_in_quotes_and_comments_are_not_meta_commands() {
        let input = "SELECT '\\! id', E'\\\\', \"\\o\", $$ \\g |id $$, $t$\n\\! id\n$t$ /* \\! id */;\n-- \\! id\nSELECT 1;";
        assert_eq!(
            items(input),
            vec![
                stmt(
                    "SELECT '\\! id', E'\\\\', \"\\o\", $$ \\g |id $$, $t$\n\\! id\n$t$ /* \\! id */;",
                    1
                ),
                stmt("SELECT 1;", 5),
            ]
        );
    }

    #[test]
    fn unterminated_quotes_and_comments() {
        for (input, line) in [
            ("SELECT 1;\nSELECT 'abc;\n\n", 2),
            ("SELECT 1;\n\nSELECT \"abc;\n", 3),
            ("SELECT $x$ abc; $y$\n;\n", 1),
            ("SELECT E'abc\\';\n", 1),
            ("SELECT 1;\n/* a /* b */\n", 2),
            ("SELECT 1 /* a\n*/ /*", 2),
        ] {
            match error(input.as_bytes(), MAX) {
                ScriptError::Unterminated { line: l } => assert_eq!(l, line, "{input:?}"),
                other => panic!("{input:?}: {other}"),
            }
        }
    }

    #[test]
    fn unterminated_copy() {
        let mut r = ScriptReader::new(&b"SELECT 1;\nCOPY t FROM stdin;\n1\n2\n\\.x\n"[..], MAX);
        assert_eq!(r.next_item().unwrap(), Some(stmt("SELECT 1;", 1)));
        assert_eq!(
            r.next_item().unwrap(),
            Some(copy_start("COPY t FROM stdin;", 2))
        );
        let mut got = Vec::new();
        let err = loop {
            match r.next_item() {
                Ok(Some(ScriptItem::CopyData(d))) => got.extend(d),
                Ok(other) => panic!("{other:?}"),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(err, ScriptError::UnterminatedCopy { line: 2 }),
            "{err}"
        );
        assert!(r.next_item().unwrap().is_none(), "finished after an error");
        // A COPY statement at the very end, without data.
        assert!(matches!(
            error(b"COPY t FROM stdin", MAX),
            ScriptError::UnterminatedCopy { line: 1 }
        ));
    }

    #[test]
    fn statement_too_long() {
        let long = format!("SELECT 1;\n\nSELECT '{}';\n", "x".repeat(200));
        match error(long.as_bytes(), 100) {
            ScriptError::StatementTooLong { line, limit } => assert_eq!((line, limit), (3, 100)),
            other => panic!("{other}"),
        }
        // Across lines too.
        let lines = format!("SELECT\n{}1;\n", "x,\n".repeat(50));
        assert!(matches!(
            error(lines.as_bytes(), 100),
            ScriptError::StatementTooLong {
                line: 1,
                limit: 100
            }
        ));
        // COPY data is not a statement.
        let copy = format!("COPY t FROM stdin;\n{}\n\\.\n", "x".repeat(500));
        assert_eq!(collect(copy.as_bytes(), 100).unwrap().len(), 3);
    }

    #[test]
    fn invalid_utf8() {
        match error(b"SELECT 1;\nSELECT '\xff';\n", MAX) {
            ScriptError::Io(e) => {
                assert_eq!(e.kind(), io::ErrorKind::InvalidData);
                assert!(e.to_string().contains("line 2"), "{e}");
            }
            other => panic!("{other}"),
        }
        assert!(matches!(
            error(b"\\connect \xff\n", MAX),
            ScriptError::Io(_)
        ));
        assert!(matches!(error(b"SELECT '\0';\n", MAX), ScriptError::Io(_)));
        // Even in a comment between statements (psql would lose the rest of the line).
        assert!(matches!(
            error(b"SELECT 1;\n/* \0 */ SELECT 2;\n", MAX),
            ScriptError::Io(_)
        ));
        // COPY data is passed through untouched.
        assert_eq!(
            items_bytes(b"COPY t FROM stdin;\n\xff\xfe\0\n\\.\n"),
            vec![
                copy_start("COPY t FROM stdin;", 1),
                ScriptItem::CopyData(b"\xff\xfe\0\n".to_vec()),
                ScriptItem::CopyEnd { line: 3 },
            ]
        );
    }

    #[test]
    fn end_of_input() {
        assert_eq!(
            items("SELECT 1;\nSELECT 2\n  \n"),
            vec![stmt("SELECT 1;", 1), stmt("SELECT 2", 2)]
        );
        assert_eq!(
            items("SELECT (1 -- open"),
            vec![stmt("SELECT (1 -- open", 1)]
        );
        assert_eq!(
            items("SELECT 1;\n-- bye\n/* bye */\n\n"),
            vec![stmt("SELECT 1;", 1)]
        );
        assert_eq!(items(""), vec![]);
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        assert_eq!(
            items("\u{feff}\\connect db\nSELECT 1;"),
            vec![meta("connect", "db", 1), stmt("SELECT 1;", 2)]
        );
    }

    #[test]
    fn progress() {
        let input = b"SELECT 1;\nCOPY t FROM stdin;\nx\n\\.\nSELECT 2;\n";
        let mut r = ScriptReader::new(&input[..], MAX);
        assert_eq!((r.bytes_read(), r.line()), (0, 1));
        r.next_item().unwrap();
        // The rest of line 1 (its newline) is still to be read.
        assert_eq!(r.line(), 1);
        let all: Result<Vec<_>, _> = r.by_ref().collect();
        assert_eq!(all.unwrap().len(), 4);
        assert_eq!(r.bytes_read(), input.len() as u64);
        assert_eq!(r.line(), 6);
    }

    #[test]
    fn connect_targets() {
        for (args, want) in [
            ("chinook", Some("chinook")),
            ("chinook;", Some("chinook")),
            ("\"my db\"", Some("my db")),
            ("\"My\"\"Db\"", Some("My\"Db")),
            ("'single quoted'", Some("single quoted")),
            ("-reuse-previous=on \"dbname='my db'\"", Some("my db")),
            ("-reuse-previous=on \"dbname='it''s'\"", Some("it's")),
            ("-reuse-previous=on \"dbname='it\\'s'\"", Some("it's")),
            (
                "-reuse-previous=on \"dbname='back\\\\slash'\"",
                Some("back\\slash"),
            ),
            (
                "-reuse-previous=on \"dbname='say \"\"hi\"\"'\"",
                Some("say \"hi\""),
            ),
            ("dbname=plain", Some("plain")),
            ("", None),
            ("-", None),
            ("\"\"", None),
            ("-reuse-previous=on", None),
            ("-reuse-previous=maybe chinook", None),
            ("chinook postgres", None),
            ("chinook \\! id", None),
            ("chinook \\\\ DROP TABLE t;", None),
            ("`id`", None),
            (":db", None),
            ("postgresql://evil/db", None),
            ("-reuse-previous=on \"dbname=x host=evil\"", None),
            ("-reuse-previous=on \"dbname='host=evil'\"", None),
            ("\"dbname='unterminated\"", None),
        ] {
            assert_eq!(connect_target(args).as_deref(), want, "{args:?}");
        }
    }

    #[test]
    fn reads_a_real_pg_dumpall_file() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/dumps/cluster.pg18.dumpall.sql"
        );
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let end_markers = bytes
            .split(|&b| b == b'\n')
            .filter(|line| *line == b"\\." || *line == b"\\.\r")
            .count();
        assert!(end_markers > 0);

        let file = std::fs::File::open(path).unwrap();
        let all = collect(BufReader::new(file), 256 << 20).unwrap();

        let targets: Vec<String> = all
            .iter()
            .filter_map(|item| match item {
                ScriptItem::MetaCommand { name, args, .. } if name == "connect" => {
                    Some(connect_target(args).expect("a database name"))
                }
                _ => None,
            })
            .collect();
        assert_eq!(targets, ["template1", "chinook", "postgres", "world"]);

        let names: Vec<&str> = all
            .iter()
            .filter_map(|item| match item {
                ScriptItem::MetaCommand { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        assert!(names.contains(&"restrict") && names.contains(&"unrestrict"));
        assert!(
            names
                .iter()
                .all(|n| matches!(*n, "connect" | "restrict" | "unrestrict")),
            "{names:?}"
        );

        let copies = all
            .iter()
            .filter(|item| matches!(item, ScriptItem::CopyStart { .. }))
            .count();
        assert_eq!(copies, end_markers);
        // Every CopyStart is followed by CopyData* and a CopyEnd, and there is no stray data.
        let mut in_copy = false;
        for item in &all {
            match item {
                ScriptItem::CopyStart { sql, .. } => {
                    assert!(!in_copy && sql.starts_with("COPY "), "{sql}");
                    in_copy = true;
                }
                ScriptItem::CopyData(d) => assert!(in_copy && !d.is_empty()),
                ScriptItem::CopyEnd { .. } => {
                    assert!(in_copy);
                    in_copy = false;
                }
                ScriptItem::Statement { sql, .. } => {
                    assert!(!in_copy);
                    assert!(sql.ends_with(';'), "{sql}");
                    assert!(!sql.starts_with("--") && !sql.starts_with(' '), "{sql}");
                }
                ScriptItem::MetaCommand { .. } => assert!(!in_copy),
            }
        }
        assert!(!in_copy);
    }
}
