/** Line decoders (CRI, Docker json-file) and partial-line merging: the first step of every log line. */
export type { DecodeFailure, DecodeResult, DecodedLine, JsonMessageLine, LineFormat, Stream } from './types.ts';
export { isDecodeFailure } from './types.ts';
export { decodeCri } from './cri.ts';
export { decodeDocker } from './docker.ts';
export { decodeLine, decodeLineKeepingJson } from './decode.ts';
export { isRfc3339 } from './timestamp.ts';
export { PartialMerger, utf8PrefixLength } from './merge.ts';
export type { Fragment, JsonFragment, MergeStats, MergedLine, PartialMergerOptions } from './merge.ts';
