/** The byte buffers' ownership rules: a lent buffer cannot be written until it is handed back, and only once. */
import t from 'tap';
import { BufferOwnershipError, buffersPoisoned, ByteWriter, ByteWriterPool } from '../../src/enrich/byte-writer.ts';

t.test('tests run with the debug mode on', async (t) => {
  t.ok(buffersPoisoned(), 'KUBE_LOG_ENRICHER_DEBUG_BUFFERS=1 (set by .taprc)');
});

t.test('a lent buffer cannot be written, reset or lent again until it is released', async (t) => {
  const out = new ByteWriter(64);
  out.ascii('{"a":1}');
  const lent = out.lend();
  t.equal(lent.toString(), '{"a":1}');
  t.ok(out.lent);
  t.throws(() => out.ascii('x'), BufferOwnershipError, 'ascii');
  t.throws(() => out.utf8('é'), BufferOwnershipError, 'utf8');
  t.throws(() => out.bytes(Buffer.from('x')), BufferOwnershipError, 'bytes');
  t.throws(() => out.byte(0x0a), BufferOwnershipError, 'byte');
  t.throws(() => out.reserve(1), BufferOwnershipError, 'reserve');
  t.throws(() => out.reset(), BufferOwnershipError, 'reset');
  t.throws(() => out.lend(), BufferOwnershipError, 'lend');
  t.equal(lent.toString(), '{"a":1}', 'what was lent is untouched by the refused writes');
  t.equal(out.view().toString(), '{"a":1}', 'the owner may still look');

  out.release();
  t.notOk(out.lent);
  t.throws(() => out.release(), BufferOwnershipError, 'released twice');
  out.reset();
  out.ascii('{"b":2}');
  t.equal(out.view().toString(), '{"b":2}', 'written again once released');
});

t.test('debug mode: released bytes are poisoned, so a reader that kept them reads garbage', async (t) => {
  const out = new ByteWriter(64);
  out.utf8('{"message":"hello"}\n');
  const kept = out.lend();
  out.release();
  t.same([...new Set(kept)], [0], 'all NUL');
  t.throws(() => JSON.parse(kept.toString()), SyntaxError, 'no JSON parser accepts it');
});

t.test('a pool hands a writer out once and takes it back once, ending its loan', async (t) => {
  const pool = new ByteWriterPool(2);
  const writer = pool.take();
  writer.ascii('abc');
  const lent = writer.lend();
  pool.give(writer);
  t.notOk(writer.lent, 'given back: its loan ended');
  t.same([...new Set(lent)], [0], 'and its bytes poisoned');
  t.throws(() => pool.give(writer), BufferOwnershipError, 'given back twice');
  t.throws(() => pool.give(new ByteWriter()), BufferOwnershipError, 'not taken from this pool');
  const again = pool.take();
  t.equal(again, writer, 'reused');
  t.equal(again.length, 0, 'empty');
  const other = pool.take();
  t.not(other, writer, 'a second writer while the first is out');
});

t.test('a writer grows past its first buffer, and keeps what it wrote', async (t) => {
  const out = new ByteWriter(64);
  const text = 'x'.repeat(1000);
  out.utf8(text);
  out.byte(0x0a);
  t.equal(out.view().toString(), `${text}\n`);
  t.ok(out.capacity >= 1001);
});
