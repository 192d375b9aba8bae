// An ordinary node-postgres program, unaware of IAM: connects to the host and port given (no
// password, no TLS on the local leg), runs one query, prints "<current_user> <ssl upstream>".
// Exit 1 with the driver's message (and the SQLSTATE it got) on failure.
const { Client } = require('pg');

async function main() {
  const [host, port, user, database] = process.argv.slice(2);
  const client = new Client({ host, port: Number(port), user, database, ssl: false,
    connectionTimeoutMillis: 20000 });
  try {
    await client.connect();
    const res = await client.query(
      "SELECT current_user || ' ' || ssl AS who FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    console.log(res.rows[0].who);
    await client.end();
  } catch (err) {
    console.error(`node-pg: ${err.code || ''} ${err.message}`);
    process.exit(1);
  }
}

main();
