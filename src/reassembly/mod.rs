//! TCP stream reassembly (placeholder docs, rewritten below once behaviour is final).

mod conn;
mod counters;
mod half;
mod held;
mod history;
mod info;
mod segment;
mod seq;
mod state;

pub use conn::TcpConn;
pub use counters::DirCounters;
pub use half::Limits;
pub use info::SegmentInfo;
pub use segment::{Delivery, Segment, TcpFlags};
pub use state::ConnState;

#[cfg(test)]
mod tests;
