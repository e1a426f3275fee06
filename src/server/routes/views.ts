/**
 * POST /v1/views: per log path, whether its lines are left out and its multi-line rule, as
 * Enricher.fileView says (the agent's file source asks it in-process; the `source` asks here,
 * src/client/views.ts). A look, not a use: asking keeps no deleted pod in the store.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Enricher } from '../../enrich/index.ts';
import { JSON_TYPE, MAX_VIEW_FILES, VIEWS_ROUTE, ViewsAnswerSchema, ViewsRequestSchema, type ViewsAnswer } from '../../protocol/index.ts';
import { ApiError, errorResponse, unsupportedMediaType } from '../errors.ts';

export interface ViewsRoutesDeps {
  enricher: Enricher;
  /** server.maxBodyBytes. */
  maxBodyBytes: number;
}


export function viewsRoutes(deps: ViewsRoutesDeps): FastifyPluginAsyncZod {
  const { enricher } = deps;
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(JSON_TYPE, { parseAs: 'string', bodyLimit: deps.maxBodyBytes }, (_request, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch (err) {
        done(new ApiError(400, 'malformed_body', 'request body is not JSON', [{ field: 'body', message: (err as Error).message }]), undefined);
      }
    });
    app.addContentTypeParser('*', (_request, _payload, done) => done(unsupportedMediaType('send application/json: {"files": ["/var/log/pods/...", ...]}'), undefined));

    app.route({
      method: 'POST',
      url: VIEWS_ROUTE,
      schema: {
        tags: ['enrichment'],
        summary: 'Whether log files are excluded, and their multi-line rule',
        description:
          'What the bundled `source` asks before it opens a file it found, and again for all its files every ' +
          '`source.checkpointInterval`: an excluded file is not read at all (parked at its end), and a file with a multi-line ' +
          'rule has its records joined by the source, which then sends with `multiline=false`. Decided as for the events ' +
          'themselves (enrichment.exclude, the multiline annotation) from what the store holds now; a file whose pod is not ' +
          `known yet is not excluded while the pods are still being listed. At most ${MAX_VIEW_FILES} files per request.`,
        body: ViewsRequestSchema,
        response: {
          200: ViewsAnswerSchema,
          400: errorResponse(`A body that is not JSON, or not \`{"files": [...]}\` with at most ${MAX_VIEW_FILES} non-empty paths; the details name the field.`),
          401: errorResponse('Missing or wrong bearer token (when `server.authToken` is set).'),
          413: errorResponse('Body larger than `server.maxBodyBytes`.'),
          415: errorResponse('A Content-Type other than application/json.'),
        },
      },
      handler: async (request): Promise<ViewsAnswer> => {
        const files = request.body.files;
        const views = new Array<ViewsAnswer['views'][number]>(files.length);
        for (let i = 0; i < files.length; i++) {
          const file = files[i]!;
          const view = enricher.fileView(file);
          views[i] = { file, known: enricher.resolve(file).matched, excluded: view.excluded, multiline: view.multiline?.source ?? null };
        }
        return { views };
      },
    });
  };
}
