// One remote-write POST, as the pusher sends it: a deadline that always fires, 307 and 308
// followed, and what may be printed about it (the URL redacted, the receiver's answer
// sanitised).
//
// Deadline: a timer of our own, and the socket's idle timeout, both of which destroy the
// request. Not AbortSignal.any([...]) with AbortSignal.timeout(): on Node 20 the combined
// signal can be garbage-collected before it fires (nodejs/node#57736), and a receiver
// that accepts the connection and never answers then stalls delivery for good.
//
// Redirects: like Prometheus (Go's http.Client), a 307 or 308 is followed with the same
// method and body, up to MAX_REDIRECTS hops; the Authorization header goes only to the
// origin (scheme, host and port) of the configured URL, never to another one. Other 3xx
// (which turn a POST into a GET) are not followed.
import type { Agent, OutgoingHttpHeaders } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

const MAX_REDIRECTS = 10;
const MAX_BODY_READ = 4096;
const MAX_MESSAGE = 256;
const REDACTED = 'xxxxx';

export interface Answer {
  status: number;
  /** The receiver's body, sanitised (sanitizeText). */
  message: string;
  retryAfter: string | undefined;
  /** Statuses of the redirects followed on the way. */
  redirects: number[];
}

/** POSTs body to url, following 307 and 308; rejects on no answer within timeoutMs or on abort. */
export async function postFollowing(
  url: URL,
  body: Buffer,
  headers: OutgoingHttpHeaders,
  agentFor: (url: URL) => Agent,
  timeoutMs: number,
  abort: AbortSignal,
): Promise<Answer> {
  const redirects: number[] = [];
  let target = url;
  for (;;) {
    const sameOrigin = target.origin === url.origin;
    const answer = await postOnce(target, body, sameOrigin ? headers : withoutCredentials(headers), agentFor(target), timeoutMs, abort);
    const { status, location } = answer;
    if ((status !== 307 && status !== 308) || location === undefined) return { ...answer, redirects };
    const next = URL.canParse(location, target.href) ? new URL(location, target) : undefined;
    if (!next || !/^https?:$/.test(next.protocol)) return { ...answer, message: 'redirect to a location that is not an http(s) URL', redirects };
    if (redirects.length === MAX_REDIRECTS) return { ...answer, message: `more than ${MAX_REDIRECTS} redirects`, redirects };
    redirects.push(status);
    next.username = next.password = ''; // credentials only ever come from the configuration
    target = next;
  }
}

function withoutCredentials(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !/^(authorization|cookie)$/i.test(name)));
}

function postOnce(
  url: URL,
  body: Buffer,
  headers: OutgoingHttpHeaders,
  agent: Agent,
  timeoutMs: number,
  abort: AbortSignal,
): Promise<Omit<Answer, 'redirects'> & { location: string | undefined }> {
  return new Promise((resolve, reject) => {
    if (abort.aborted) return reject(new Error('aborted'));
    let settled = false;
    const settle = (then: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      abort.removeEventListener('abort', onAbort);
      then();
    };
    const fail = (error: Error) => {
      settle(() => reject(error));
      req.destroy(error);
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'POST', headers: { ...headers, 'Content-Length': body.length }, agent, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (text.length < MAX_BODY_READ) text += chunk; // the receiver says why it refused
      });
      res.on('end', () =>
        settle(() =>
          resolve({ status: res.statusCode!, message: sanitizeText(text), retryAfter: res.headers['retry-after'], location: res.headers.location }),
        ),
      );
      res.on('error', fail);
    });
    const timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => fail(new Error('aborted'));
    abort.addEventListener('abort', onAbort, { once: true });
    req.on('timeout', () => fail(new Error(`connection idle for ${timeoutMs} ms`)));
    req.on('error', fail);
    req.end(body);
  });
}

/**
 * A receiver's text made safe to print on one line: ANSI escape sequences removed,
 * control characters (C0, C1, DEL) and bidirectional overrides turned into spaces,
 * whitespace collapsed, at most maxLength characters.
 */
export function sanitizeText(text: string, maxLength = MAX_MESSAGE): string {
  const clean = text
    .replace(/\u001b\[[0-?]*[ -/]*[@-~]/g, '') // CSI sequences: colours, cursor moves
    .replace(/\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?/g, '') // OSC: titles, links
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return clean.length > maxLength ? `${clean.slice(0, maxLength)}...` : clean;
}

/**
 * A URL fit to print: user name, password and the value of every query parameter
 * replaced by xxxxx (vmagent and Go's URL.Redacted hide the same). Text that is not a URL
 * is redacted the same way, as far as its shape allows.
 */
export function redactUrl(url: string | URL): string {
  const text = String(url);
  if (!URL.canParse(text)) {
    return text.replace(/\/\/[^/?#]*@/, `//${REDACTED}@`).replace(/([?&][^=&#]*=)[^&#]*/g, `$1${REDACTED}`);
  }
  const copy = new URL(text);
  if (copy.username) copy.username = REDACTED;
  if (copy.password) copy.password = REDACTED;
  const keys = [...new Set(copy.searchParams.keys())];
  for (const key of keys) copy.searchParams.set(key, REDACTED);
  return copy.href;
}
