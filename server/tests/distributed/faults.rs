//! Fault tests: see the issue.
