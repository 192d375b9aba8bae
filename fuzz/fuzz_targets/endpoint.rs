//! The endpoint and region rules on arbitrary text: `validate_host`, `infer_region`,
//! `validate_region`, and the user and profile checks every request passes.
//!
//! Properties: no panic; an inferred region is a region name found in the host; inference
//! ignores ASCII case; a valid host is a bare name; `is_region_name` and `validate_region`
//! agree; every message stays short whatever the input's size.
#![no_main]

use iam_db_auth::endpoint::{
    MAX_HOST_LEN, infer_region, is_region_name, validate_host, validate_region,
};
use iam_db_auth::internals::{validate_profile, validate_user};
use libfuzzer_sys::fuzz_target;

/// Messages quote at most a shortened, escaped prefix of the input.
const MAX_MESSAGE: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    match validate_host(text) {
        Ok(()) => {
            assert!(!text.is_empty() && text.len() <= MAX_HOST_LEN, "{text:?}");
            assert!(text.is_ascii(), "a valid host is ASCII: {text:?}");
            assert!(
                !text.contains(|c: char| c.is_whitespace() || c.is_control() || "/?#@".contains(c)),
                "a valid host has no whitespace, path, query or userinfo: {text:?}"
            );
            if !text.starts_with('[') {
                assert!(
                    !text.contains(':'),
                    "a valid non-IPv6 host has no port: {text:?}"
                );
            }
        }
        Err(e) => assert!(
            e.message().len() <= MAX_MESSAGE,
            "{} bytes",
            e.message().len()
        ),
    }

    if let Some(region) = infer_region(text) {
        assert!(is_region_name(&region), "inferred {region:?} from {text:?}");
        assert!(
            text.to_ascii_lowercase().contains(&region),
            "inferred {region:?}, which {text:?} does not contain"
        );
        assert_eq!(
            infer_region(&text.to_ascii_uppercase()).as_deref(),
            Some(region.as_str())
        );
    }

    let region_ok = validate_region(text);
    assert_eq!(region_ok.is_ok(), is_region_name(text), "{text:?}");
    if let Err(e) = region_ok {
        assert!(
            e.message().len() <= MAX_MESSAGE,
            "{} bytes",
            e.message().len()
        );
    }
    if let Err(e) = validate_user(text) {
        assert!(
            e.message().len() <= MAX_MESSAGE,
            "{} bytes",
            e.message().len()
        );
    }
    if let Err(e) = validate_profile(text) {
        assert!(
            e.message().len() <= MAX_MESSAGE,
            "{} bytes",
            e.message().len()
        );
    }
});
