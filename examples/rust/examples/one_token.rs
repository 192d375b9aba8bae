//! Cold start: a fresh process makes one token through the Rust API and prints its length
//! (scripts/bench: a process start, the engine's first use, one signature).
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let host = args.get(1).map_or("mydb.c9akciq32.us-east-1.rds.amazonaws.com", String::as_str);
    match iam_db_auth::DatabaseLogin::new(host, 5432, "app").token() {
        Ok(token) => {
            println!("{}", token.as_str().len());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
