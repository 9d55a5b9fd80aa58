//! The `boxoffice` command's subcommands that need more than a few lines
//! (files of the binary, not of the engine library).

#[cfg(feature = "simulate")]
pub mod simulate;
