/**
 * The receiving end for bench/otlp-sink.bench.ts, in its own process so that its work is not
 * counted: an HTTP server taking both the NDJSON and the OTLP/HTTP posts, and a @grpc/grpc-js
 * server for LogsService/Export. Each reads the whole request and answers success (an empty
 * ExportLogsServiceResponse for OTLP) without decoding it. Prints its ports as one JSON line.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';

const identity = (b: Buffer): Buffer => b;
const httpServer = http.createServer((req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    if (req.url === '/v1/logs') res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    else res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
const grpcServer = new grpc.Server();
grpcServer.addService(
  { Export: { path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
  { Export: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, Buffer.alloc(0)) },
);
const grpcPort = await new Promise<number>((resolve, reject) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err === null ? resolve(port) : reject(err))));
process.stdout.write(`${JSON.stringify({ http: (httpServer.address() as AddressInfo).port, grpc: grpcPort })}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
