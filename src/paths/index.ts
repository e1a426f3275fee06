/** Pod identity from a kubelet log path (/var/log/pods and /var/log/containers layouts). */
export type { PathMatch, PodLogIdentity } from './types.ts';
export { podIdentityFromPath } from './identity.ts';
export { createPathResolver } from './resolver.ts';
export type { PathResolver, PathResolverOptions } from './resolver.ts';
export { isDns1123Label, isDns1123Subdomain, isPodUid } from './names.ts';
