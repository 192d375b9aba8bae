//! `iam_token_options`: the struct, how it grows, and how a caller's copy is initialised and read.
//!
//! The struct grows by appending fields, never by changing one. Every field's default is its
//! zero value, for ever, so "initialise" means "zero it and set `struct_size`", and a field a
//! caller's header did not have reads as its default. The caller says in `struct_size` how
//! large its struct is:
//! - a size of a released header (`RELEASED_SIZES`) or this library's own: the fields it
//!   covers are read, the rest take their defaults;
//! - a larger size (a newer header than this library): accepted only if the part this library
//!   does not know is all zero, as the newer fields then mean their defaults; otherwise
//!   refused, never silently ignored;
//! - any other size: refused (garbage, or `sizeof` of the wrong thing).
//!
//! `iam_token_options_init` is 0.1's function: it writes exactly `RELEASED_SIZES[0]` bytes for
//! ever, so a program built against that header never has more written into its struct than
//! it declared. `iam_token_options_init_sized` (behind the header's `IAM_TOKEN_OPTIONS_INIT`,
//! which passes `sizeof`) is the form for new code: it writes the size the caller's header says.
//!
//! The `abi-growth-test` feature appends a field (`LibraryOptions::test_expires_in`) so the
//! rules above are tested against a struct that has actually grown (tests/options_growth.rs).

use crate::error::{Error, ErrorCode, Result};
use std::ffi::c_char;
use std::mem::size_of;

/// Options for `iam_token_get_ext` and `iam_token_create`. Initialise with
/// `IAM_TOKEN_OPTIONS_INIT(&options)` (or 0.1's `iam_token_options_init`), then set the fields
/// you need; unset pointers are NULL and unset numbers 0.
///
/// `struct_size` lets the structure grow: fields are only ever appended, each one's zero value
/// is its default, and the library reads only the fields the caller's header knew about. A
/// larger structure (from a newer header) is refused if a field this library does not know is
/// set.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct IamTokenOptions {
    /// `sizeof(iam_token_options)` as the caller compiled it (set by `IAM_TOKEN_OPTIONS_INIT`).
    pub struct_size: u32,
    /// One of `IAM_KIND_*`.
    pub kind: u32,
    /// The host connected to. Required.
    pub host: *const c_char,
    /// The port connected to. Required for RDS; ignored by kinds that sign no port.
    pub port: u16,
    /// The region; NULL or "" to infer it from the host or find it in the configuration.
    pub region: *const c_char,
    /// The database user. Required for RDS, ElastiCache and MemoryDB; ignored by DSQL.
    pub user: *const c_char,
    /// The AWS profile for credentials; NULL or "" for `IAM_DB_AUTH_PROFILE`, else the
    /// default chain (which honours `AWS_PROFILE`).
    pub profile: *const c_char,
    /// The host to sign for, if not `host`; NULL or "" for `IAM_DB_AUTH_SIGNING_HOST`, else
    /// `host`.
    pub signing_host: *const c_char,
    /// The port to sign for, if not `port`; 0 for `IAM_DB_AUTH_SIGNING_PORT`, else `port`.
    pub signing_port: u16,
    /// Token lifetime in seconds; 0 for 900. RDS accepts only 900; DSQL up to 604800.
    pub expires_in: u32,
    /// `IAM_FLAG_*` values or-ed together.
    pub flags: u32,
}

/// `sizeof(iam_token_options)` in each released header, oldest first. A release that appends
/// fields appends its size; no size is ever removed. A new field must start at or after the
/// last size: the 4 bytes after `flags` are tail padding, and a field placed there would not
/// change `sizeof`, so `struct_size` could not tell the two headers apart.
pub(crate) const RELEASED_SIZES: &[usize] = &[SIZE_0_1];

/// 0.1's and 1.0's struct: 72 bytes with 8-byte pointers, 44 with 4-byte ones.
const SIZE_0_1: usize = if cfg!(target_pointer_width = "64") {
    72
} else {
    44
};

// The public struct is the last released one: a field added to it needs its size above.
const _: () = assert!(size_of::<IamTokenOptions>() == RELEASED_SIZES[RELEASED_SIZES.len() - 1]);

/// The options as this library reads them: the public struct, plus, under the
/// `abi-growth-test` feature only, a field appended after the last released size.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct LibraryOptions {
    pub(crate) public: IamTokenOptions,
    /// Test only: a field added after 1.0. Overrides `expires_in` when not 0.
    #[cfg(feature = "abi-growth-test")]
    pub(crate) test_expires_in: u64,
}

#[cfg(feature = "abi-growth-test")]
const _: () = assert!(
    std::mem::offset_of!(LibraryOptions, test_expires_in)
        >= RELEASED_SIZES[RELEASED_SIZES.len() - 1]
);

impl LibraryOptions {
    /// The options a request is made from.
    pub(crate) fn effective(self) -> IamTokenOptions {
        #[cfg(feature = "abi-growth-test")]
        if self.test_expires_in != 0 {
            return IamTokenOptions {
                expires_in: u32::try_from(self.test_expires_in).unwrap_or(u32::MAX),
                ..self.public
            };
        }
        self.public
    }
}

/// Options with every field unset (RDS, cache on), as `IAM_TOKEN_OPTIONS_INIT` fills them.
pub(crate) fn default_options() -> IamTokenOptions {
    IamTokenOptions {
        struct_size: size_of::<IamTokenOptions>() as u32,
        kind: super::IAM_KIND_RDS,
        host: std::ptr::null(),
        port: 0,
        region: std::ptr::null(),
        user: std::ptr::null(),
        profile: std::ptr::null(),
        signing_host: std::ptr::null(),
        signing_port: 0,
        expires_in: 0,
        flags: 0,
    }
}

/// Whether a caller's struct of `size` bytes is one this library can read.
fn readable_size(size: usize) -> bool {
    RELEASED_SIZES.contains(&size) || size >= size_of::<LibraryOptions>()
}

fn size_error(size: usize) -> Error {
    Error::new(
        ErrorCode::InvalidOptions,
        format!(
            "options.struct_size is {size}, not the size of any iam_token_options (this library \
             reads {}); initialise the options with IAM_TOKEN_OPTIONS_INIT(&options)",
            RELEASED_SIZES
                .iter()
                .chain(std::iter::once(&size_of::<LibraryOptions>()))
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

/// Zeroes `size` bytes at `options` and sets `struct_size` to `size`: every field's default.
///
/// # Safety
/// `options` is non-NULL, writable for `size` bytes and aligned for `iam_token_options`;
/// `size` is at least 4.
pub(crate) unsafe fn init(options: *mut IamTokenOptions, size: usize) {
    // SAFETY: writable for `size` bytes (this function's contract).
    unsafe { std::ptr::write_bytes(options.cast::<u8>(), 0, size) };
    // SAFETY: `struct_size` is the first field, within `size` bytes, and `options` is aligned.
    unsafe { std::ptr::addr_of_mut!((*options).struct_size).write(size as u32) };
}

/// Checks the size a caller asks `iam_token_options_init_sized` to initialise.
pub(crate) fn check_init_size(size: usize) -> Result<()> {
    if readable_size(size) && u32::try_from(size).is_ok() {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidOptions,
            format!(
                "size {size} is not the size of an iam_token_options; pass \
                 sizeof(iam_token_options), as IAM_TOKEN_OPTIONS_INIT(&options) does"
            ),
        ))
    }
}

/// Copies the caller's options, honouring `struct_size`.
///
/// # Safety
/// `ptr` is NULL or points to at least `ptr->struct_size` readable bytes (and at least 4).
pub(crate) unsafe fn read(ptr: *const IamTokenOptions) -> Result<LibraryOptions> {
    if ptr.is_null() {
        return Err(Error::new(ErrorCode::NullArgument, "options is NULL"));
    }
    let ours = size_of::<LibraryOptions>();
    // SAFETY: the caller guarantees at least 4 readable bytes (struct_size comes first).
    let theirs = unsafe { std::ptr::addr_of!((*ptr).struct_size).read_unaligned() } as usize;
    if !readable_size(theirs) {
        return Err(size_error(theirs));
    }
    if theirs > ours {
        // A newer header: accept only if every field this library does not know is zero.
        // SAFETY: the caller guarantees `theirs` readable bytes.
        let tail = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>().add(ours), theirs - ours) };
        if tail.iter().any(|b| *b != 0) {
            return Err(Error::new(
                ErrorCode::InvalidOptions,
                "options set fields this library version does not know; upgrade libiam_db_auth",
            ));
        }
    }
    let mut options = LibraryOptions {
        public: IamTokenOptions {
            struct_size: 0,
            ..default_options()
        },
        #[cfg(feature = "abi-growth-test")]
        test_expires_in: 0,
    };
    // SAFETY: `theirs.min(ours)` bytes are readable at `ptr` (the caller's contract) and
    // writable in `options` (at most its size); the regions cannot overlap. Every field is an
    // integer or a raw pointer, valid for any bit pattern, and the fields the copy does not
    // reach keep their defaults.
    unsafe {
        std::ptr::copy_nonoverlapping(
            ptr.cast::<u8>(),
            std::ptr::addr_of_mut!(options).cast::<u8>(),
            theirs.min(ours),
        );
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `init` zeroes the struct, so each default must be its field's zero value.
    #[test]
    fn every_default_is_zero() {
        let o = default_options();
        assert!(
            o.kind == 0
                && o.host.is_null()
                && o.port == 0
                && o.region.is_null()
                && o.user.is_null()
                && o.profile.is_null()
                && o.signing_host.is_null()
                && o.signing_port == 0
                && o.expires_in == 0
                && o.flags == 0
        );
    }

    #[test]
    fn sizes_a_header_never_had_are_refused() {
        let ours = size_of::<LibraryOptions>();
        for (size, readable) in [
            (0, false),
            (4, false),
            (8, false),
            (RELEASED_SIZES[0] - 8, false),
            (RELEASED_SIZES[0], true),
            (ours, true),
            (ours + 8, true),
            (ours + 1, true),
        ] {
            assert_eq!(readable_size(size), readable, "size {size}");
            assert_eq!(check_init_size(size).is_ok(), readable, "size {size}");
        }
        assert!(check_init_size(u32::MAX as usize + 1).is_err());
    }
}
