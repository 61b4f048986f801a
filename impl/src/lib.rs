//! wsapi
