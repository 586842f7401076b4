//! See ../../stamp.rs.

const BUILD: &str = "a";

include!("../../stamp.rs");
