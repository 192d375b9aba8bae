//! A pool that keeps logging in: opens N connections one after another through an `IamPool`,
//! each a new login (the previous one is closed, not returned), and prints one line per login.
//! Between logins it waits for a line on stdin, so a test can move the clocks past the first
//! token's expiry in between.
//!
//!   pool_logins postgres|mysql HOST PORT USER DATABASE REGION LOGINS [--no-refresh]
//!
//! `--no-refresh` acquires from the sqlx pool directly, which keeps its first password: the
//! control that shows what the hook prevents.

use iam_db_auth::DatabaseLogin;
use iam_db_auth_examples::{Error, IamPool, mysql_options, pg_options};
use sqlx::{MySql, Postgres};
use std::io::BufRead;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (args, refresh) = match args.split_last() {
        Some((last, rest)) if last == "--no-refresh" => (rest, false),
        _ => (args.as_slice(), true),
    };
    let [_, engine, host, port, user, database, region, logins] = args else {
        eprintln!(
            "usage: pool_logins postgres|mysql HOST PORT USER DATABASE REGION LOGINS [--no-refresh]"
        );
        return ExitCode::from(2);
    };
    let (Ok(port), Ok(logins)) = (port.parse::<u16>(), logins.parse::<u32>()) else {
        eprintln!("PORT and LOGINS are numbers");
        return ExitCode::from(2);
    };
    let login = DatabaseLogin::new(host.as_str(), port, user.as_str()).region(region.as_str());
    let outcome = match engine.as_str() {
        "postgres" => run_postgres(&login, database, logins, refresh).await,
        "mysql" => run_mysql(&login, database, logins, refresh).await,
        _ => {
            eprintln!("engine: postgres or mysql");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pool_logins: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Waits for the test's go-ahead (a line on stdin; end of input also goes on).
fn wait_for_next() {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

async fn run_postgres(
    login: &DatabaseLogin,
    database: &str,
    logins: u32,
    refresh: bool,
) -> Result<(), Error> {
    let options = sqlx::pool::PoolOptions::<Postgres>::new().max_connections(1);
    let pool = IamPool::new(login.clone(), pg_options(login, database)?, options).await?;
    for i in 1..=logins {
        if i > 1 {
            wait_for_next();
        }
        let mut conn = if refresh {
            pool.acquire().await?
        } else {
            pool.pool().acquire().await?
        };
        let (who, tls): (String, bool) = sqlx::query_as(
            "SELECT current_user::text, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        )
        .fetch_one(&mut *conn)
        .await?;
        println!("login {i}: {who} tls={tls}");
        conn.close().await?;
    }
    Ok(())
}

async fn run_mysql(
    login: &DatabaseLogin,
    database: &str,
    logins: u32,
    refresh: bool,
) -> Result<(), Error> {
    let options = sqlx::pool::PoolOptions::<MySql>::new().max_connections(1);
    let pool = IamPool::new(login.clone(), mysql_options(login, database)?, options).await?;
    for i in 1..=logins {
        if i > 1 {
            wait_for_next();
        }
        let mut conn = if refresh {
            pool.acquire().await?
        } else {
            pool.pool().acquire().await?
        };
        let (who, cipher): (String, String) =
            sqlx::query_as("SELECT CURRENT_USER(), VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'")
                .fetch_one(&mut *conn)
                .await?;
        println!("login {i}: {who} tls={}", !cipher.is_empty());
        conn.close().await?;
    }
    Ok(())
}
