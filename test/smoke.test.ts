import t from 'tap';
t.test('runtime is node 24', async (t) => {
  t.match(process.version, /^v24\./);
});
