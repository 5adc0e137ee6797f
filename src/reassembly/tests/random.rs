//! Randomised streams.
