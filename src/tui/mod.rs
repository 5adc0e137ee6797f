//! Terminal UI (being written on its own branch).
