//! The timestamp parsers and formatters on arbitrary text and instants.
//!
//! Properties: no panic; `parse_amz_date_time` is exact (what it accepts, formatting gives
//! back byte for byte); `parse_rfc3339` agrees with its own formatting; every instant up to
//! the year 9999 formats and parses back to itself.
#![no_main]

use iam_db_auth::UtcSeconds;
use libfuzzer_sys::fuzz_target;

/// 9999-12-31T23:59:59Z, the last instant SigV4's four-digit years can write.
const LAST_WRITABLE: u64 = 253_402_300_799;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 8 {
        let secs = u64::from_le_bytes(data[..8].try_into().unwrap());
        let t = UtcSeconds::from_unix(secs);
        // Formatting never panics, even past the year 9999.
        let (amz, rfc) = (t.amz_date_time(), t.rfc3339());
        if secs <= LAST_WRITABLE {
            assert_eq!(UtcSeconds::parse_amz_date_time(&amz), Some(t), "{amz}");
            assert_eq!(UtcSeconds::parse_rfc3339(&rfc), Some(t), "{rfc}");
            assert_eq!(&amz[..8], t.amz_date());
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(t) = UtcSeconds::parse_amz_date_time(text) {
        assert_eq!(t.amz_date_time(), text, "parse_amz_date_time is not exact");
        assert!(t.unix() <= LAST_WRITABLE);
    }
    if let Some(t) = UtcSeconds::parse_rfc3339(text) {
        assert_eq!(UtcSeconds::parse_rfc3339(&t.rfc3339()), Some(t), "{text:?}");
    }
});
