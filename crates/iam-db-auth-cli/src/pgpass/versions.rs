//! Which libpq releases read a passfile line as long as a token's, by `PQlibVersion()`.

/// The buffer size of libpq's passfile reader before long lines were supported
/// (`NAMEDATALEN * 5`): longer lines were cut there and their tail read as another line.
pub const LEGACY_LINE_BUFFER: usize = 320;

/// Whether a libpq release reads passfile lines longer than [`LEGACY_LINE_BUFFER`] bytes,
/// given `PQlibVersion()` (e.g. `150018` for 15.18, `90624` for 9.6.24).
///
/// libpq commit 4178b7499 ("Teach libpq to handle arbitrary-length lines in .pgpass files",
/// September 2020) replaced the 320-byte line buffer with a growing one and was back-patched to
/// every branch then supported. It shipped in 13.0 and in the minor releases of 2020-11-12:
/// 12.5, 11.10, 10.15, 9.6.20 and 9.5.24. Earlier releases cut a token line at about 320 bytes
/// (so the token is wrong) and read the rest as another line; 9.4 and older were never fixed.
pub fn libpq_reads_long_lines(version: i32) -> bool {
    if version >= 100_000 {
        // 10 and later: major * 10000 + minor.
        let (major, minor) = (version / 10_000, version % 10_000);
        match major {
            10 => minor >= 15,
            11 => minor >= 10,
            12 => minor >= 5,
            _ => major >= 13,
        }
    } else {
        // 9.x: 90000 + major2 * 100 + minor.
        let (major2, minor) = ((version / 100) % 100, version % 100);
        match major2 {
            6 => minor >= 20,
            5 => minor >= 24,
            _ => false,
        }
    }
}

/// `PQlibVersion()` as text (`15.18`, `9.6.24`).
pub fn libpq_version_text(version: i32) -> String {
    if version >= 100_000 {
        format!("{}.{}", version / 10_000, version % 10_000)
    } else {
        format!(
            "{}.{}.{}",
            version / 10_000,
            (version / 100) % 100,
            version % 100
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_versions_that_read_long_lines() {
        let table = [
            (180_001, true),
            (150_018, true),
            (140_000, true),
            (130_000, true),
            (120_005, true),
            (120_004, false),
            (110_010, true),
            (110_009, false),
            (100_015, true),
            (100_014, false),
            (90_620, true),
            (90_619, false),
            (90_524, true),
            (90_523, false),
            (90_426, false),
            (80_422, false),
        ];
        for (version, expected) in table {
            assert_eq!(libpq_reads_long_lines(version), expected, "{version}");
        }
        assert_eq!(libpq_version_text(150_018), "15.18");
        assert_eq!(libpq_version_text(90_624), "9.6.24");
    }
}
