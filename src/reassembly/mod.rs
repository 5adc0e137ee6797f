//! TCP stream reassembly, per direction, with typed events. (being written)
