/**
 * Loaded before every test (.taprc `node-arg`): turns on the byte buffers' debug mode, so that a
 * buffer handed back while something still reads it shows up as NUL bytes (src/enrich/byte-writer.ts).
 * Set in the environment, so that the processes tests start inherit it. The name is byte-writer.ts's
 * DEBUG_BUFFERS_ENV, written out: importing it would read the variable before it is set.
 */
process.env.KUBE_LOG_ENRICHER_DEBUG_BUFFERS = '1';
