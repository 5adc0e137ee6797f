//! Whole-dissector tests.
