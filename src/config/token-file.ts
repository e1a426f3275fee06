/**
 * The one reader of bearer-token files (server.authTokenFile, source.serviceTokenFile,
 * kubernetes.kubelet.tokenFile, and the kubeconfig/in-cluster token files the reflectors re-read
 * on every request): the file's content
 * trimmed, or why it cannot be used. An empty file is as unusable as a missing one. Messages name
 * the file and never its content.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

export type TokenFileResult =
  | { ok: true; token: string }
  | { ok: false; code: 'unreadable_token_file' | 'empty_token_file'; message: string };

/** Reads `path` now (start-up, check-config). */
export function readTokenFile(path: string): TokenFileResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return unreadable(path, e);
  }
  return tokenOf(path, text);
}

/** Reads `path` without blocking (per request). */
export async function readTokenFileAsync(path: string): Promise<TokenFileResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return unreadable(path, e);
  }
  return tokenOf(path, text);
}

function tokenOf(path: string, text: string): TokenFileResult {
  const token = text.trim();
  if (token === '') return { ok: false, code: 'empty_token_file', message: `the token file ${path} is empty` };
  return { ok: true, token };
}

function unreadable(path: string, e: unknown): TokenFileResult {
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  return { ok: false, code: 'unreadable_token_file', message: `cannot read the token file ${path} (${code})` };
}

/** The token-file keys a configuration sets, in key order: what start-up and check-config read. */
export function tokenFileSettings(config: {
  server: { authTokenFile?: string | undefined };
  source: { serviceTokenFile?: string | undefined };
  kubernetes: { podSource: string; kubelet: { tokenFile: string } };
}): { key: string; path: string }[] {
  const settings: { key: string; path: string }[] = [];
  if (config.kubernetes.podSource === 'kubelet') settings.push({ key: 'kubernetes.kubelet.tokenFile', path: config.kubernetes.kubelet.tokenFile });
  if (config.server.authTokenFile !== undefined) settings.push({ key: 'server.authTokenFile', path: config.server.authTokenFile });
  if (config.source.serviceTokenFile !== undefined) settings.push({ key: 'source.serviceTokenFile', path: config.source.serviceTokenFile });
  return settings;
}
