/**
 * POST /v1/views: what the service says of log files before the bundled `source` reads them,
 * the remote form of Enricher.fileView (the agent asks its enricher directly). The source parks
 * the files of excluded pods (never opens them) and joins multi-line records itself with the
 * rule given here, so that the service need not hold lines between batches. Both ends read the
 * schemas from here: the service validates requests and documents them (OpenAPI), the source
 * checks the answers.
 */
import { z } from 'zod';

/** Paths per request; the source asks in chunks of this many. */
export const MAX_VIEW_FILES = 10_000;
/** Longest path accepted, in characters (as GET /v1/lookup). */
export const MAX_VIEW_PATH_CHARS = 4096;

export const ViewsRequestSchema = z
  .object({
    files: z
      .array(z.string().min(1).max(MAX_VIEW_PATH_CHARS))
      .max(MAX_VIEW_FILES)
      .describe(`Log paths, as the source finds them under its pods directory (at most ${MAX_VIEW_FILES}).`),
  })
  .describe('The files to tell about.');

export const FileViewSchema = z.object({
  file: z.string(),
  known: z
    .boolean()
    .describe("True when the file's pod and container are in the service's store (its events get pod metadata now)."),
  excluded: z
    .boolean()
    .describe(
      "True when the file's lines are left out now: pod, container or namespace excluded, or (opt-in mode) not opted in. " +
        'The bundled `source` then does not read the file at all.',
    ),
  multiline: z
    .string()
    .nullable()
    .describe(
      "The pod's multi-line rule as its annotation gives it (`java`, `python`, `go` or a regular expression), or null: its " +
        'lines are not joined. Null too for a value the service cannot use (it logs it).',
    ),
});

export const ViewsAnswerSchema = z
  .object({
    views: z.array(FileViewSchema).describe('One per requested file, in request order.'),
  })
  .describe('What the service says of each file now.');

export type ViewsRequest = z.output<typeof ViewsRequestSchema>;
export type FileViewAnswer = z.output<typeof FileViewSchema>;
export type ViewsAnswer = z.output<typeof ViewsAnswerSchema>;
