'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const iam = require('iam-db-auth');

const RDS = 'mydb.c9akciq32.us-east-1.rds.amazonaws.com';

test('token (sync) for an RDS endpoint', () => {
  const t = iam.token({ host: RDS, port: 5432, user: 'app' });
  assert.ok(t.startsWith(`${RDS}:5432/?Action=connect&DBUser=app&`), t.slice(0, 80));
  assert.match(t, /X-Amz-Signature=[0-9a-f]{64}$/);
  assert.match(iam.version(), /^1\./);
});

test('tokenAsync, signing host and port, kinds', async () => {
  const t = await iam.tokenAsync({ host: '127.0.0.1', port: 15432, user: 'app', signingHost: RDS, signingPort: 5432, cache: false });
  assert.ok(t.startsWith(`${RDS}:5432/?`), t.slice(0, 80));
  const dsql = await iam.tokenAsync({ host: 'abcdefghijklmnopqrst.dsql.us-east-1.on.aws', kind: 'dsql-admin' });
  assert.match(dsql, /Action=DbConnectAdmin/);
});

test('failures are IamDbAuthError with the library code, sync and async', async () => {
  assert.throws(() => iam.token({ host: 'db.internal', port: 5432, user: 'app' }),
    (e) => e instanceof iam.IamDbAuthError && e.code === 7 && /region/.test(e.message));
  await assert.rejects(iam.tokenAsync({ host: 'db.internal', port: 5432, user: 'app' }),
    (e) => e instanceof iam.IamDbAuthError && e.code === 7);
  assert.throws(() => iam.token({ host: RDS, port: 70000, user: 'app' }), (e) => e.code === 8 && /port/.test(e.message));
  assert.throws(() => iam.token({ port: 5432 }), TypeError);
  assert.throws(() => iam.token({ host: RDS, kind: 'nope' }), TypeError);
});

// Promises settle on libuv's pool threads: each failure's message must still be its own.
test('concurrent tokenAsync calls each get their own answer', async () => {
  const calls = [];
  for (let i = 0; i < 400; i++) {
    if (i % 2) {
      const user = `user-${i}`;
      calls.push(iam.tokenAsync({ host: 'db.example.com', port: 5432, user, region: 'us-east-1' })
        .then((t) => assert.ok(t.includes(`&DBUser=${user}&`), `call ${i}`)));
    } else {
      const host = `https://db-${i}.example.com`;
      calls.push(assert.rejects(iam.tokenAsync({ host, port: 5432, user: 'app', region: 'us-east-1' }),
        (e) => e.code === 3 && e.message.includes(`'${host}'`)));
    }
  }
  await Promise.all(calls);
});

test('caFile and tlsOptions follow the CA lookup', () => {
  assert.ok(fs.statSync(iam.caFile()).isFile());
  const o = iam.tlsOptions(RDS);
  assert.strictEqual(o.rejectUnauthorized, true);
  assert.strictEqual(o.servername, RDS);
  assert.match(o.ca, /BEGIN CERTIFICATE/);
  assert.throws(() => iam.tlsOptions(''), TypeError);
});
