'use strict';
// iam-db-auth for Node.js: AWS IAM database authentication tokens (RDS, Aurora, DSQL,
// ElastiCache, MemoryDB) from libiam_db_auth, through a small N-API addon; and the two recipes a
// connection pool needs, node-postgres and mysql2, each giving every new connection a fresh token
// over TLS verified against the RDS CA bundle.

const fs = require('fs');
const path = require('path');
// net and tls load on first use: a program that only makes tokens does not pay for them.
const lazy = (name) => { let m; return () => (m ||= require(name)); };
const net = lazy('net');
const tls = lazy('tls');

const native = loadNative();

function loadNative() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`iam-db-auth: no prebuilt binary for ${process.platform}-${process.arch} (this package ships linux-x64, glibc 2.28 or newer)`);
  }
  return require(path.join(__dirname, 'native', 'iam-db-auth.linux-x64-gnu.node'));
}

const KINDS = { rds: 0, dsql: 1, 'dsql-admin': 2, elasticache: 3, memorydb: 4 };

/** A failure the library reported: `code` is an IAM_ERROR_* number (never renumbered; decide
 * on it, not on the text); the message never holds a token or a secret. */
class IamDbAuthError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'IamDbAuthError';
    this.code = code;
  }
}

const STRING_FIELDS = ['host', 'user', 'region', 'profile', 'signingHost'];
const NUMBER_FIELDS = ['port', 'signingPort', 'expiresIn'];

function nativeOptions(options) {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('iam-db-auth: options must be an object ({host, port, user, ...})');
  }
  const o = {};
  for (const f of STRING_FIELDS) {
    if (options[f] === undefined || options[f] === null) continue;
    if (typeof options[f] !== 'string') throw new TypeError(`iam-db-auth: ${f} must be a string`);
    o[f] = options[f];
  }
  for (const f of NUMBER_FIELDS) {
    if (options[f] === undefined || options[f] === null) continue;
    const n = options[f];
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new TypeError(`iam-db-auth: ${f} must be a non-negative integer`);
    o[f] = n;
  }
  if (typeof o.host !== 'string') throw new TypeError('iam-db-auth: host is required');
  if (options.kind !== undefined) {
    if (!Object.prototype.hasOwnProperty.call(KINDS, options.kind)) {
      throw new TypeError(`iam-db-auth: kind must be one of ${Object.keys(KINDS).join(', ')}`);
    }
    o.kind = KINDS[options.kind];
  }
  o.noCache = options.cache === false;
  o.serverless = options.serverless === true;
  return o;
}

function unwrap(outcome) {
  if (outcome.code !== 0) throw new IamDbAuthError(outcome.code, outcome.message);
  return outcome.value;
}

/**
 * A token: the password for `user` at `host:port`. Blocks the calling thread while credentials
 * are looked up: microseconds with environment credentials or a cached token (the library's
 * cache hands a token back while two minutes of its life are left); when a network credential
 * source must be asked, up to IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS (default 10 s). In a server,
 * prefer tokenAsync.
 */
function token(options) {
  return unwrap(native.token(nativeOptions(options)));
}

/** token() on libuv's thread pool: a Promise of the token (rejected with an IamDbAuthError). */
async function tokenAsync(options) {
  return unwrap(await native.tokenAsync(nativeOptions(options)));
}

/** The CA file (PEM) servers are verified with: IAM_DB_AUTH_CA_FILE, the copy `iam-db-auth ca
 * update` wrote, the installed RDS bundle, else the bundle built into the library. */
function caFile() {
  return unwrap(native.caFile());
}

const MAX_CA_FILE = 4 << 20;
let caCache = null;

function caBundle() {
  const file = caFile();
  const st = fs.statSync(file);
  if (!st.isFile() || st.size > MAX_CA_FILE) {
    throw new IamDbAuthError(32, `CA file ${file} is not a regular file under ${MAX_CA_FILE} bytes`);
  }
  if (caCache && caCache.file === file && caCache.size === st.size && caCache.mtimeMs === st.mtimeMs) {
    return caCache.pem;
  }
  const pem = fs.readFileSync(file, 'utf8');
  caCache = { file, size: st.size, mtimeMs: st.mtimeMs, pem };
  return pem;
}

/**
 * TLS options a token may be sent over (for tls.connect, node-postgres' `ssl`): the server's
 * certificate must chain to the CA bundle of caFile() and be valid for `serverName` (the name the
 * token is signed for), whatever address the socket connects to.
 */
function tlsOptions(serverName) {
  if (typeof serverName !== 'string' || serverName === '') {
    throw new TypeError('iam-db-auth: tlsOptions needs the server name to verify the certificate against');
  }
  return {
    ca: caBundle(),
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    servername: net().isIP(serverName) ? undefined : serverName,
    checkServerIdentity: (_host, cert) => tls().checkServerIdentity(serverName, cert),
  };
}

// The token's options from a recipe's: where to connect, and what to sign for.
function signing(o, defaultPort) {
  if (!o || typeof o.host !== 'string' || !o.user) {
    throw new TypeError('iam-db-auth: host and user are required');
  }
  const port = o.port || defaultPort;
  const name = o.signingHost || o.host;
  const tokenOptions = {
    host: o.host, port, user: o.user, region: o.region, profile: o.profile,
    signingHost: o.signingHost, signingPort: o.signingPort, cache: o.cache,
  };
  return { port, name, tokenOptions };
}

/**
 * node-postgres (pg.Pool or pg.Client) configuration: `password` is a function, so every new
 * connection gets a fresh token, and `ssl` verifies the server against the RDS CA bundle for the
 * signed name. `options`: host, port (5432), user, database, region, profile, signingHost,
 * signingPort (connecting through a tunnel or to an address), cache; any other pg setting
 * (max, idleTimeoutMillis, ...) is passed through.
 */
function pgConfig(options) {
  const { port, name, tokenOptions } = signing(options, 5432);
  const rest = { ...options };
  for (const k of ['region', 'profile', 'signingHost', 'signingPort', 'cache', 'password', 'ssl']) delete rest[k];
  return {
    ...rest,
    port,
    password: () => tokenAsync(tokenOptions),
    ssl: tlsOptions(name),
  };
}

/**
 * mysql2 (createPool or createConnection) configuration: the `mysql_clear_password` plugin sends
 * a fresh token for every new connection, over TLS verified against the RDS CA bundle for the
 * signed name. mysql2 checks the certificate against its `host`, so with signingHost (a tunnel,
 * an address) `host` becomes the signed name and the socket goes to the given address. Options as
 * pgConfig (port 3306).
 */
function mysql2Config(options) {
  const { port, name, tokenOptions } = signing(options, 3306);
  const rest = { ...options };
  for (const k of ['region', 'profile', 'signingHost', 'signingPort', 'cache', 'password', 'ssl']) delete rest[k];
  const config = {
    ...rest,
    port,
    ssl: { ca: caBundle(), rejectUnauthorized: true, verifyIdentity: true, minVersion: 'TLSv1.2' },
    authPlugins: {
      mysql_clear_password: () => async () => Buffer.from(`${await tokenAsync(tokenOptions)}\0`),
    },
  };
  if (name !== options.host) {
    config.host = name;
    config.stream = () => net().connect({ host: options.host, port });
  }
  return config;
}

module.exports = {
  token,
  tokenAsync,
  caFile,
  tlsOptions,
  pgConfig,
  mysql2Config,
  IamDbAuthError,
  version: () => native.version(),
  clearCache: () => native.clearCache(),
};
