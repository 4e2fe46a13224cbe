// One HTTP exchange with Keystone or a region's Neutron over the built-in fetch: a deadline,
// the caller's signal, and failures that say which service could not be reached.

/** How a region's Neutron tells the central side's calls (central plugin, xjob) from its users'. */
export const USER_AGENT = 'central-neutronclient';

/**
 * Socket errors of the connect phase: the request never reached the server, so sending it
 * again (to a URL found afresh) cannot do anything twice.
 */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** No answer: refused, reset, timed out. `cause` is the socket error (or the TimeoutError). */
export class ServiceUnreachableError extends Error {
  override name = 'ServiceUnreachableError';
  /** True when the connection was never made, so the request did not reach the server. */
  readonly notConnected: boolean;

  constructor(
    message: string,
    readonly url: string,
    cause: unknown,
  ) {
    super(message, { cause });
    const code = (cause as { code?: unknown } | null)?.code;
    this.notConnected = typeof code === 'string' && NOT_CONNECTED.has(code);
  }
}

export interface Exchange {
  status: number;
  headers: Headers;
  /** The whole body, read within the same deadline. */
  text: string;
}

/**
 * Sends one request and reads the whole answer within `timeoutSeconds`. The caller's own
 * abort is rethrown as it is (the caller knows it stopped); any other failure becomes a
 * ServiceUnreachableError naming `service` and the URL.
 */
export async function exchange(service: string, url: string, init: RequestInit, timeoutSeconds: number, signal?: AbortSignal): Promise<Exchange> {
  const deadline = AbortSignal.timeout(timeoutSeconds * 1000);
  try {
    const response = await fetch(url, {
      ...init,
      headers: { 'user-agent': USER_AGENT, accept: 'application/json', ...(init.headers as Record<string, string>) },
      signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (deadline.aborted) throw new ServiceUnreachableError(`${service} at ${url} did not answer within ${timeoutSeconds} s`, url, deadline.reason);
    // fetch() wraps the socket error in TypeError('fetch failed'); keep the socket error.
    const cause = err instanceof TypeError && err.cause !== undefined ? err.cause : err;
    throw new ServiceUnreachableError(`${service} at ${url} cannot be reached`, url, cause);
  }
}

/** The JSON of an answer, or undefined for an empty body; a body that is not JSON is an error of `service`. */
export function parseJson(service: string, url: string, text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${service} at ${url} answered with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}
