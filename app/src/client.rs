//! Browser-only plumbing (placeholder).
