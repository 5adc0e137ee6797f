//! What the messages of one handshake add up to, TLS and DTLS alike: the facts, one event per
//! message kind (the first; DTLS retransmits whole flights), when reading can stop, and the
//! anomalies that stopped it.

use super::anomaly::AnomalyKind;
use super::cert;
use super::event::{ClientHello, Counts, Event, Handshake, Progress, ServerHello, Summary};
use crate::anomaly::Anomalies;
use crate::event::{Event as AnyEvent, Summary as AnySummary};
use crate::types::{Dir, Timestamp};
use tls_parser::RawCertificate;

/// Handshake bytes held for one message, per direction. A ClientHello is a few hundred bytes, a
/// certificate chain a few KiB (rarely 20); a message longer than this is not read.
pub const MESSAGE_CAP: usize = 64 * 1024;

/// One handshake message, as far as the metadata needs it.
pub(super) enum Message<'m> {
    ClientHello(ClientHello),
    ServerHello(ServerHello),
    /// The certificate chain: only its first entry, the server's own certificate, is read.
    Certificate(&'m [RawCertificate<'m>]),
    /// ServerHelloDone: the server sent no certificate (or it came before).
    ServerDone,
    /// Any other message: nothing in it is kept.
    Other,
}

#[derive(Default)]
pub(super) struct Reader {
    handshake: Handshake,
    progress: Progress,
    anomalies: Anomalies<AnomalyKind>,
}

impl Reader {
    /// The summary of a connection whose records went as `counts` say.
    pub(super) fn summary(&self, counts: &Counts) -> AnySummary {
        AnySummary::Tls(Box::new(self.tls_summary(counts)))
    }

    /// The same, unwrapped.
    pub(super) fn tls_summary(&self, counts: &Counts) -> Summary {
        Summary {
            handshake: self.handshake.clone(),
            progress: self.progress,
            counts: counts.clone(),
            anomalies: self.anomalies.table(),
        }
    }

    /// Whether messages are still wanted.
    pub(super) fn reading(&self) -> bool {
        self.progress == Progress::InProgress
    }

    pub(super) fn message(
        &mut self,
        msg: Message<'_>,
        dir: Dir,
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) {
        if !self.reading() {
            return;
        }
        let h = &mut self.handshake;
        match msg {
            Message::ClientHello(hello) if h.client_hello.is_none() => {
                out.push(AnyEvent::new(ts, dir, Event::ClientHello(hello.clone())));
                h.client_hello = Some(hello);
            }
            Message::ServerHello(hello) if h.server_hello.is_none() => {
                // TLS 1.3 encrypts everything after the ServerHello, the certificate included.
                let last = hello.version.is_13();
                out.push(AnyEvent::new(ts, dir, Event::ServerHello(hello.clone())));
                h.server_hello = Some(hello);
                if last {
                    self.progress = Progress::Complete;
                }
            }
            // The server's chain: after its hello (a client's chain comes after ServerHelloDone,
            // when reading is over).
            Message::Certificate(chain) if h.server_hello.is_some() => {
                let Some(leaf) = chain.first() else {
                    self.progress = Progress::Complete;
                    return;
                };
                match cert::certificate(leaf.data) {
                    Some(c) => {
                        out.push(AnyEvent::new(ts, dir, Event::Certificate(c.clone())));
                        h.certificate = Some(c);
                        self.progress = Progress::Complete;
                    }
                    None => self.give_up(dir, ts, out, AnomalyKind::MalformedCertificate, || {
                        format!(
                            "the server certificate ({} bytes) is not valid X.509 DER",
                            leaf.data.len()
                        )
                    }),
                }
            }
            Message::ServerDone => self.progress = Progress::Complete,
            _ => {}
        }
    }

    /// Direction `dir` is encrypted from here on (ChangeCipherSpec, application data, a new
    /// epoch): once the server's side is, nothing more of the handshake can be read.
    pub(super) fn encrypted(&mut self, dir: Dir) {
        if dir == Dir::ToClient && self.reading() {
            self.progress = Progress::Complete;
        }
    }

    /// Counts (and reports, within the budget of its code) an anomaly that ends reading: the
    /// handshake (if it was still being read) cannot be followed further.
    pub(super) fn give_up(
        &mut self,
        dir: Dir,
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
        kind: AnomalyKind,
        message: impl FnOnce() -> String,
    ) {
        if self.reading() {
            self.progress = Progress::Abandoned;
        }
        self.anomalies.raise(out, ts, dir, kind, message);
    }
}
