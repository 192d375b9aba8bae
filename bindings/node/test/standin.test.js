'use strict';
// node-postgres and mysql2 pools against the stand-ins (scripts/tests/58-package-node.sh starts
// them, sets the environment, and runs this file under libfaketime with IAM_DB_AUTH_CA_FILE
// naming the stand-ins' CA): logins over verified TLS, and a pool that opens a connection after
// its first token expired (both clocks moved 16 minutes; the first token is refused then).
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const pg = require('pg');
const mysql = require('mysql2/promise');
const iam = require('iam-db-auth');

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through scripts/tests/58-package-node.sh)`);
  return v;
}

function setClock(offset) {
  fs.writeFileSync(env('IAM_TEST_FAKETIME_FILE'), `${offset}\n`);
}

function signedAt(token) {
  const m = /X-Amz-Date=(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(token);
  assert.ok(m, 'no X-Amz-Date in the token');
  return Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

function pgOptions(extra = {}) {
  return { host: '127.0.0.1', port: +env('IAM_STANDIN_PG_PORT'), user: env('IAM_STANDIN_PG_USER'),
    database: env('IAM_STANDIN_PG_DATABASE'), signingHost: env('IAM_STANDIN_PG_RDS_HOST'), signingPort: 5432,
    connectionTimeoutMillis: 10000, ...extra };
}

function mysqlOptions(extra = {}) {
  return { host: '127.0.0.1', port: +env('IAM_STANDIN_MARIADB_PORT'), user: env('IAM_STANDIN_MARIADB_SSL_USER'),
    database: env('IAM_STANDIN_MARIADB_DATABASE'), signingHost: env('IAM_STANDIN_MARIADB_RDS_HOST'), signingPort: 3306,
    connectTimeout: 10000, ...extra };
}

async function checkPg(client) {
  const { rows } = await client.query('SELECT current_user::text AS u, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  assert.deepStrictEqual(rows, [{ u: env('IAM_STANDIN_PG_USER'), ssl: true }]);
}

async function checkMysql(conn) {
  const [[{ u }]] = await conn.query('SELECT CURRENT_USER() AS u');
  const [[cipher]] = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
  assert.ok(u.startsWith(`${env('IAM_STANDIN_MARIADB_SSL_USER')}@`), u);
  assert.ok(cipher.Value, 'no TLS');
}

test('node-postgres pool logs in, 4 connections', async () => {
  const pool = new pg.Pool(iam.pgConfig(pgOptions({ max: 4 })));
  try {
    const clients = await Promise.all([0, 1, 2, 3].map(() => pool.connect()));
    for (const c of clients) await checkPg(c);
    assert.strictEqual(pool.totalCount, 4);
    clients.forEach((c) => c.release());
  } finally {
    await pool.end();
  }
});

test('node-postgres pool keeps logging in after its first token expired', async () => {
  setClock('+0');
  const pool = new pg.Pool(iam.pgConfig(pgOptions({ max: 2 })));
  try {
    const first = await pool.connect();
    await checkPg(first);
    const o = pgOptions();
    const tokenOptions = { host: o.host, port: o.port, user: o.user, signingHost: o.signingHost, signingPort: 5432 };
    const firstToken = await iam.tokenAsync(tokenOptions); // the cached token the pool used
    setClock('+16m');
    const stale = new pg.Client({ host: o.host, port: o.port, user: o.user, database: o.database, password: firstToken,
      ssl: iam.tlsOptions(o.signingHost), connectionTimeoutMillis: 10000 });
    await assert.rejects(stale.connect(), /authentication failed/, 'the first token, 16 minutes on, was accepted: the clocks did not move');
    const second = await pool.connect();
    await checkPg(second);
    assert.strictEqual(pool.totalCount, 2);
    const fresh = await iam.tokenAsync(tokenOptions);
    assert.ok(signedAt(fresh) - signedAt(firstToken) >= 15 * 60 * 1000, 'the token was not renewed');
    first.release();
    second.release();
  } finally {
    setClock('+0');
    await pool.end();
  }
});

test('mysql2 pool logs in, 4 connections', async () => {
  const pool = mysql.createPool(iam.mysql2Config(mysqlOptions({ connectionLimit: 4 })));
  try {
    const conns = await Promise.all([0, 1, 2, 3].map(() => pool.getConnection()));
    for (const c of conns) await checkMysql(c);
    conns.forEach((c) => c.release());
  } finally {
    await pool.end();
  }
});

test('mysql2 pool keeps logging in after its first token expired', async () => {
  setClock('+0');
  const pool = mysql.createPool(iam.mysql2Config(mysqlOptions({ connectionLimit: 2 })));
  try {
    const first = await pool.getConnection();
    await checkMysql(first);
    const o = mysqlOptions();
    const tokenOptions = { host: o.host, port: o.port, user: o.user, signingHost: o.signingHost, signingPort: 3306 };
    const firstToken = await iam.tokenAsync(tokenOptions);
    setClock('+16m');
    const staleConfig = iam.mysql2Config(mysqlOptions());
    staleConfig.authPlugins = { mysql_clear_password: () => () => Buffer.from(`${firstToken}\0`) };
    await assert.rejects(mysql.createConnection(staleConfig), /Access denied/, 'the first token, 16 minutes on, was accepted');
    const second = await pool.getConnection();
    await checkMysql(second);
    const fresh = await iam.tokenAsync(tokenOptions);
    assert.ok(signedAt(fresh) - signedAt(firstToken) >= 15 * 60 * 1000, 'the token was not renewed');
    first.release();
    second.release();
  } finally {
    setClock('+0');
    await pool.end();
  }
});
