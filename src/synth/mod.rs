//! Deterministic synthesis of sample captures. (being written)
