'use strict';
// A server with a self-signed certificate for the right name gets no token from either recipe,
// whatever `ssl` the caller passed; the same server does get one from the drivers alone over
// unverified TLS (the control: the fake would see a token sent to it).
const test = require('node:test');
const assert = require('node:assert');
const pg = require('pg');
const mysql = require('mysql2/promise');
const iam = require('iam-db-auth');
const fakedb = require('./fakedb');

const RDS = 'mydb.c9akciq32.us-east-1.rds.amazonaws.com';
const cert = fakedb.selfSigned(RDS, '127.0.0.1');

test('node-postgres: a self-signed server gets no token', async () => {
  const fake = await fakedb.postgres(cert);
  try {
    const token = iam.token({ host: '127.0.0.1', port: fake.port, user: 'app', signingHost: RDS, signingPort: 5432 });
    const control = new pg.Client({ host: '127.0.0.1', port: fake.port, user: 'app', database: 'x', password: token,
      ssl: { rejectUnauthorized: false }, connectionTimeoutMillis: 10000 });
    await assert.rejects(control.connect());
    assert.deepStrictEqual(fake.passwords, [token], 'control: the fake did not capture the token');
    assert.strictEqual(fake.handshakes, 1);

    for (const ssl of [undefined, false, { rejectUnauthorized: false }]) {
      const pool = new pg.Pool(iam.pgConfig({ host: '127.0.0.1', port: fake.port, user: 'app', database: 'x',
        signingHost: RDS, signingPort: 5432, ssl, connectionTimeoutMillis: 10000 }));
      await assert.rejects(pool.query('SELECT 1'), undefined, `ssl ${JSON.stringify(ssl)}: logged in to the fake`);
      await pool.end();
      assert.strictEqual(fake.passwords.length, 1, `ssl ${JSON.stringify(ssl)}: the fake got a password`);
      assert.strictEqual(fake.handshakes, 1, `ssl ${JSON.stringify(ssl)}: a TLS handshake completed`);
    }
  } finally {
    await fake.close();
  }
});

test('mysql2: a self-signed server gets no token', async () => {
  const fake = await fakedb.mysql(cert);
  try {
    const token = iam.token({ host: '127.0.0.1', port: fake.port, user: 'app', signingHost: RDS, signingPort: 3306 });
    await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port: fake.port, user: 'app', ssl: { rejectUnauthorized: false },
      connectTimeout: 10000, authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) } }));
    assert.deepStrictEqual(fake.passwords, [token], 'control: the fake did not capture the token');
    assert.strictEqual(fake.handshakes, 1);

    for (const ssl of [undefined, false, { rejectUnauthorized: false }]) {
      const pool = mysql.createPool(iam.mysql2Config({ host: '127.0.0.1', port: fake.port, user: 'app',
        signingHost: RDS, signingPort: 3306, ssl, connectTimeout: 10000 }));
      await assert.rejects(pool.query('SELECT 1'), undefined, `ssl ${JSON.stringify(ssl)}: logged in to the fake`);
      await pool.end();
      assert.strictEqual(fake.passwords.length, 1, `ssl ${JSON.stringify(ssl)}: the fake got a password`);
      assert.strictEqual(fake.handshakes, 1, `ssl ${JSON.stringify(ssl)}: a TLS handshake completed`);
    }
  } finally {
    await fake.close();
  }
});
