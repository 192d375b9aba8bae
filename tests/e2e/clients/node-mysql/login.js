// An ordinary node mysql2 program, unaware of IAM: connects to the host and port given (no
// password, no TLS on the local leg), runs one query, prints "<CURRENT_USER()> <upstream cipher>".
// Exit 1 with the driver's message and error code on failure.
const mysql = require('mysql2/promise');

async function main() {
  const [host, port, user, database] = process.argv.slice(2);
  try {
    const conn = await mysql.createConnection({ host, port: Number(port), user, database,
      connectTimeout: 20000 });
    const [rows] = await conn.query(
      "SELECT CONCAT(CURRENT_USER(), ' ', VARIABLE_VALUE) AS who FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'");
    console.log(rows[0].who);
    await conn.end();
  } catch (err) {
    console.error(`node-mysql2: ${err.errno || ''} ${err.code || ''} ${err.message}`);
    process.exit(1);
  }
}

main();
