//! Where the region comes from when the caller gives none: the endpoint name (see
//! `endpoint::infer_region`), then `AWS_REGION`, `AWS_DEFAULT_REGION`, then the `region` of the
//! profile in the shared config file. Never a silent default; never the network (the stock
//! chain's instance-metadata region lookup can stall for seconds).

use crate::endpoint::{is_region_name, shorten};
use crate::error::{Error, ErrorCode, Result};
use futures_util::FutureExt as _;
use std::borrow::Cow;

/// How a region was found, for logs and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionSource {
    /// Passed by the caller.
    Explicit,
    /// Read from the endpoint name.
    Endpoint,
    /// `AWS_REGION` or `AWS_DEFAULT_REGION`.
    Environment,
    /// The profile's `region` setting.
    Profile,
}

impl std::fmt::Display for RegionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RegionSource::Explicit => "given by the caller",
            RegionSource::Endpoint => "from the endpoint name",
            RegionSource::Environment => "from AWS_REGION / AWS_DEFAULT_REGION",
            RegionSource::Profile => "from the profile",
        })
    }
}

/// The region from `AWS_REGION`, else `AWS_DEFAULT_REGION`; an error if the set one is not a
/// region name.
pub fn from_environment() -> Result<Option<String>> {
    for var in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        match std::env::var(var) {
            Ok(value) if value.is_empty() => continue,
            Ok(value) => {
                return if is_region_name(&value) {
                    Ok(Some(value))
                } else {
                    Err(Error::new(
                        ErrorCode::InvalidRegion,
                        format!(
                            "{var}='{}' is not a region name (expected e.g. us-east-1)",
                            shorten(&value).escape_debug()
                        ),
                    ))
                };
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::new(
                    ErrorCode::InvalidRegion,
                    format!("{var} is not valid UTF-8"),
                ));
            }
            Err(std::env::VarError::NotPresent) => {}
        }
    }
    Ok(None)
}

/// The `region` of a profile in the shared config files (`AWS_CONFIG_FILE`, default
/// `~/.aws/config`). `profile` `None` means `AWS_PROFILE`, else `default`.
pub fn from_profile_file(profile: Option<&str>) -> Result<Option<String>> {
    let files = crate::credentials::read_shared_files().map_err(|problem| {
        Error::new(
            ErrorCode::RegionNotFound,
            format!(
                "no AWS region: {problem}, so profile {} could not supply one; fix the file or pass a region",
                profile_label(profile)
            ),
        )
    })?;
    let mut builder =
        aws_config::profile::ProfileFileRegionProvider::builder().profile_files(files);
    if let Some(name) = profile {
        builder = builder.profile_name(name);
    }
    let provider = builder.build();
    // It is given the files' contents, so it completes on first poll.
    let Some(region) = aws_config::meta::region::ProvideRegion::region(&provider).now_or_never()
    else {
        return Ok(None);
    };
    let Some(region) = region else {
        // aws-config reads an unreadable file as empty and an unparseable one as absent (with
        // a log line our callers never see): say so, rather than "no profile sets a region".
        return match profile_files_problem() {
            Some(problem) => Err(Error::new(
                ErrorCode::RegionNotFound,
                format!(
                    "no AWS region: {problem}, so profile {} could not supply one; fix the file or pass a region",
                    profile_label(profile)
                ),
            )),
            None => Ok(None),
        };
    };
    let region = region.as_ref();
    if is_region_name(region) {
        Ok(Some(region.to_string()))
    } else {
        Err(Error::new(
            ErrorCode::InvalidRegion,
            format!(
                "the region '{}' in profile {} is not a region name",
                shorten(region).escape_debug(),
                profile_label(profile)
            ),
        ))
    }
}

/// Why the shared AWS files cannot be used, if they cannot: one exists but cannot be read (a
/// directory, no permission), or they do not parse. The message names the file and the line,
/// never its content (the files hold secret keys).
pub fn profile_files_problem() -> Option<String> {
    let files = match crate::credentials::read_shared_files() {
        Ok(files) => files,
        Err(problem) => return Some(problem),
    };
    use aws_types::os_shim_internal::{Env, Fs};
    let loaded = aws_config::profile::parser::load(&Fs::real(), &Env::real(), &files, None)
        .now_or_never()?;
    let err = loaded.err()?;
    let mut text = err.to_string();
    if let Some(cause) = std::error::Error::source(&err) {
        text = format!("{text}: {}", cause.to_string().replace('\n', " "));
    }
    Some(text)
}

/// The configured region: environment, then profile file.
pub fn configured_region(profile: Option<&str>) -> Result<Option<String>> {
    match from_environment()? {
        Some(region) => Ok(Some(region)),
        None => from_profile_file(profile),
    }
}

/// `'name'` for an explicit profile, else the one the environment selects.
pub fn profile_label(profile: Option<&str>) -> Cow<'static, str> {
    match profile {
        Some(name) => format!("'{}'", shorten(name)).into(),
        None => match std::env::var("AWS_PROFILE") {
            Ok(name) if !name.is_empty() => format!("'{}' (AWS_PROFILE)", shorten(&name)).into(),
            _ => "'default'".into(),
        },
    }
}
