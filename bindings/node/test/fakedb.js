'use strict';
// A fake PostgreSQL or MySQL server on 127.0.0.1 with a self-signed certificate that records
// every password a client sends it: the impostor the recipes must give no token. It speaks just
// enough of each protocol for a client to reach the point of sending its password.

const { execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const tls = require('tls');

/** A self-signed certificate for `names` (DNS names or IPs): { key, cert } in PEM. */
function selfSigned(...names) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fakedb-'));
  try {
    const san = names.map((n) => (net.isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${san}`, '-days', '1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore', timeout: 30000 });
    return { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

class Reader {
  constructor(stream) {
    this.stream = stream;
    this.buf = Buffer.alloc(0);
    this.waiters = [];
    this.onData = (d) => { this.buf = Buffer.concat([this.buf, d]); this.pump(); };
    this.onEnd = () => { for (const w of this.waiters.splice(0)) w.reject(new Error('closed')); };
    stream.on('data', this.onData);
    stream.on('close', this.onEnd);
    stream.on('error', this.onEnd);
  }
  read(n) {
    return new Promise((resolve, reject) => { this.waiters.push({ n, resolve, reject }); this.pump(); });
  }
  pump() {
    while (this.waiters.length && this.buf.length >= this.waiters[0].n) {
      const w = this.waiters.shift();
      const out = this.buf.subarray(0, w.n);
      this.buf = this.buf.subarray(w.n);
      w.resolve(out);
    }
  }
  // Hands the socket over (to TLS), with any bytes already read put back.
  detach() {
    this.stream.removeListener('data', this.onData);
    this.stream.removeListener('close', this.onEnd);
    this.stream.removeListener('error', this.onEnd);
    this.stream.pause();
    if (this.buf.length) this.stream.unshift(this.buf);
    this.buf = Buffer.alloc(0);
  }
}

function startTls(state, socket, reader, cert) {
  reader.detach();
  return new Promise((resolve) => {
    const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: tls.createSecureContext(cert) });
    secure.on('secure', () => { state.handshakes++; resolve(secure); });
    secure.on('error', () => resolve(null));
    secure.on('close', () => resolve(null));
  });
}

async function start(cert, serve) {
  const state = { passwords: [], handshakes: 0 };
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setTimeout(10000, () => socket.destroy());
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    serve(state, socket, cert).catch(() => {}).finally(() => socket.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    get passwords() { return [...state.passwords]; },
    get handshakes() { return state.handshakes; },
    close() { for (const s of sockets) s.destroy(); return new Promise((resolve) => server.close(resolve)); },
  };
}

/** A fake PostgreSQL server: TLS on SSLRequest, then a cleartext password request. */
function postgres(cert) {
  return start(cert, async (state, socket) => {
    let stream = socket;
    let reader = new Reader(stream);
    for (;;) {
      const len = (await reader.read(4)).readUInt32BE(0);
      if (len < 8 || len > 65536) return;
      const msg = await reader.read(len - 4);
      const code = msg.readUInt32BE(0);
      if (code === 80877103) { // SSLRequest
        stream.write('S');
        const secure = await startTls(state, stream, reader, cert);
        if (!secure) return;
        stream = secure;
        reader = new Reader(stream);
        continue;
      }
      if (code === 80877104) { stream.write('N'); continue; } // GSSENCRequest
      stream.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3])); // AuthenticationCleartextPassword
      const head = await reader.read(5);
      if (head[0] !== 0x70) return;
      const body = await reader.read(head.readUInt32BE(1) - 4);
      state.passwords.push(body.toString('utf8').replace(/\0+$/, ''));
      const fatal = Buffer.from('SFATAL\0C28P01\0Mfake server\0\0');
      const e = Buffer.alloc(5);
      e[0] = 0x45;
      e.writeUInt32BE(4 + fatal.length, 1);
      stream.write(Buffer.concat([e, fatal]));
      return;
    }
  });
}

function packet(seq, payload) {
  const head = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, (payload.length >> 16) & 0xff, seq]);
  return Buffer.concat([head, payload]);
}

async function readPacket(reader) {
  const head = await reader.read(4);
  const n = head[0] | (head[1] << 8) | (head[2] << 16);
  return { seq: head[3], payload: await reader.read(n) };
}

/** A fake MySQL server: offers TLS, switches the client to mysql_clear_password. */
function mysql(cert) {
  return start(cert, async (state, socket) => {
    const caps = 0x1 | 0x200 | 0x800 | 0x2000 | 0x8000 | 0x80000;
    const greeting = Buffer.concat([
      Buffer.from([10]), Buffer.from('8.0.0-fake\0'), Buffer.from([1, 0, 0, 0]), Buffer.from('abcdefgh\0'),
      Buffer.from([caps & 0xff, (caps >> 8) & 0xff, 33, 2, 0, (caps >> 16) & 0xff, (caps >> 24) & 0xff, 21]),
      Buffer.alloc(10), Buffer.from('ijklmnopqrst\0'), Buffer.from('mysql_native_password\0'),
    ]);
    let stream = socket;
    let reader = new Reader(stream);
    stream.write(packet(0, greeting));
    let p = await readPacket(reader);
    if (p.payload.length === 32 && (p.payload.readUInt32LE(0) & 0x800)) {
      const secure = await startTls(state, stream, reader, cert);
      if (!secure) return;
      stream = secure;
      reader = new Reader(stream);
      p = await readPacket(reader);
    }
    stream.write(packet(p.seq + 1, Buffer.from('\xfemysql_clear_password\0', 'latin1')));
    p = await readPacket(reader);
    state.passwords.push(p.payload.toString('utf8').replace(/\0+$/, ''));
    stream.write(packet(p.seq + 1, Buffer.from('\xff\x15\x04#28000fake server', 'latin1')));
  });
}

module.exports = { selfSigned, postgres, mysql };
